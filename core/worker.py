"""The background worker (§8): each round sends the mail outbox, delivers webhooks, queues reminders and
digests, files insurer mail fetched over IMAP (when configured), and recognises the text of scanned documents
(see `_tick`). `python -m core worker` runs it; `python -m core serve` runs it in a thread.

Mails are worked off with the claim/lease protocol of core.jobs (pending -> sending -> sent | pending again |
failed), the lease held by this worker's id in `claimed_by`. A send is bounded by the SMTP timeout, far below
the lease. If a worker dies after the server took a mail but before marking the row, the mail goes out once
more (at most once per crash) with the same Message-ID, derived from the row, so the receiver can drop the
duplicate. A permanent error (a message that cannot be built, a 5xx refusal of recipient or content) fails the
row at once; a failed row waits for an admin's `resend` (core.outbox_admin).

Every round writes the worker's heartbeat (core.heartbeat) and one JSON log line (core.logs). On a SQLite file
only one worker runs at a time (core.worker_lock); on PostgreSQL any number share the work.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core import heartbeat, jobs, logs
from core.attachments import render_attachment
from core.mailer import Transport, build_message, message_id_for, transport_for
from core.outbox import complete_links
from core.permissions import SYSTEM
from core.settings import Settings
from core.timeutil import now
from core.webhook_delivery import deliver_due
from core.worker_lock import WorkerLock, acquire_worker_lock
from db.engine import unit_of_work
from db.models import OutboxMessage

log = logging.getLogger(__name__)

OUTBOX = jobs.JobTable(OutboxMessage, name="outbox message", done_at="sent_at", owner="claimed_by")
SendReport = jobs.JobReport  # what the worker reports (mails; webhooks are logged)


@dataclass(frozen=True)
class _Job:
    claim: jobs.Claim
    recipient: str
    subject: str
    body: str
    attachments: list
    message_id: str


def default_worker_id() -> str:
    """Unique per running worker: host, process, thread and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"[:100]


def claim_batch(session: Session, *, worker_id: str, limit: int, at: datetime) -> list[OutboxMessage]:
    """Take up to `limit` due messages (pending and due, or `sending` with an expired lease) for this worker."""
    return jobs.claim_due(session, OUTBOX, worker_id=worker_id, limit=limit, at=at)


def _prepare(engine: Engine, job: _Job, *, settings: Settings, at: datetime):
    """Renew the lease (None if the row is no longer ours), render the attachments, build the message."""
    with unit_of_work(engine) as session:
        if not jobs.renew_lease(session, OUTBOX, job.claim, at=at):
            return None
        files = [render_attachment(session, actor=SYSTEM, spec=spec, settings=settings) for spec in job.attachments]
    return build_message(
        sender=settings.smtp.sender, recipient=job.recipient, subject=complete_links(job.subject, settings),
        body=complete_links(job.body, settings), attachments=files, message_id=job.message_id,
    )


def _is_permanent(exc: BaseException) -> bool:
    """A refusal that a retry cannot change (the recipient or the content refused with a 5xx)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def _send_one(engine: Engine, job: _Job, *, settings: Settings, transport: Transport, at: datetime,
              max_attempts: int) -> str:
    """Render, send and record one claimed message; returns its outcome."""

    def done(exc: BaseException | None = None, permanent: bool = False) -> str:
        error = "" if exc is None else jobs.describe_error(exc, settings.smtp.password)
        return jobs.finish(engine, OUTBOX, job.claim, at=at, max_attempts=max_attempts, error=error,
                           permanent=permanent, done_values={"message_id": job.message_id})

    try:
        message = _prepare(engine, job, settings=settings, at=at)
    except SQLAlchemyError:
        raise  # the database itself is in trouble: the lease brings the row back later
    except Exception as exc:  # noqa: BLE001 - an attachment or a message that cannot be made will not heal
        return done(exc, permanent=True)
    if message is None:
        return "skipped"
    try:
        transport.send(message)  # outside any transaction
    except Exception as exc:  # noqa: BLE001 - every send failure is recorded, most are retried
        return done(exc, permanent=_is_permanent(exc))
    return done()


def send_due_mail(
    engine: Engine, *, settings: Settings, transport: Transport, worker_id: str, at: datetime | None = None,
    limit: int = 50, max_attempts: int = jobs.MAX_ATTEMPTS,
) -> SendReport:
    """Claim the due messages, then for each: render, send outside any transaction, record the outcome."""
    at = at or now()

    def claim(session: Session) -> list[_Job]:
        return [
            _Job(jobs.claim_of(m, worker_id), m.recipient, m.subject, m.body, list(m.attachments or []),
                 message_id_for(outbox_id=m.id, idempotency_key=m.idempotency_key, sender=settings.smtp.sender))
            for m in claim_batch(session, worker_id=worker_id, limit=limit, at=at)
        ]

    return jobs.run_batch(engine, OUTBOX, claim=claim, work=lambda job: _send_one(
        engine, job, settings=settings, transport=transport, at=at, max_attempts=max_attempts))


def _drain(batch: Callable[[], jobs.JobReport], *, stop: threading.Event, limit: int) -> jobs.JobReport:
    """Run batches while they come back full and `stop` is not set; the sum of their reports."""
    total = jobs.JobReport()
    while not stop.is_set():
        report = batch()
        total += report
        if report.claimed < limit:
            break
    return total


def _guarded(name: str, step: Callable[[], object]) -> None:
    """Run one step of the round; a failure is logged and the round goes on (next try in the next round)."""
    try:
        step()
    except Exception:
        log.exception("%s failed; next try in the next round", name)


def _in_transaction(engine: Engine, service: Callable[..., object]) -> Callable[[], None]:
    """A step calling `service(session, at=now())` in its own transaction."""

    def step() -> None:
        with unit_of_work(engine) as session:
            service(session, at=now())

    return step


def _tick(engine: Engine, settings: Settings, *, transport: Transport, worker_id: str,
          stop: threading.Event, limit: int = 50) -> SendReport:
    """One round of all the worker's jobs. Mail first (its failure ends the round); every later step is
    guarded on its own, so one failing step does not starve the others."""
    total = _drain(lambda: send_due_mail(engine, settings=settings, transport=transport, worker_id=worker_id,
                                         limit=limit), stop=stop, limit=limit)
    _guarded("webhook deliveries", lambda: _drain(
        lambda: deliver_due(engine, settings=settings, worker_id=worker_id, limit=limit), stop=stop, limit=limit))
    # the steps below are imported here, where they are hooked in
    from core import planner_stats
    from core.digest import send_daily_digests
    from core.management_report import queue_monthly_reports
    from core.reminders import queue_due_reminders
    from core.retention import purge_if_due
    from core.text_extraction import recognise_pending

    _guarded("reminders", _in_transaction(engine, queue_due_reminders))  # queued now, sent in the next round
    _guarded("digests", _in_transaction(engine, send_daily_digests))
    _guarded("management report", _in_transaction(engine, queue_monthly_reports))  # last month's, from the 1st
    if settings.imap.configured:  # insurer mail: filed into its case or held for staff (core.imap_fetch)
        from core.imap_fetch import fetch_mail

        _guarded("inbound mail", lambda: fetch_mail(engine, settings=settings))
    _guarded("retention purge", lambda: purge_if_due(engine, settings=settings))  # once per Berlin day
    _guarded("planner statistics", lambda: planner_stats.refresh_if_due(engine))  # once per Berlin day
    _guarded("text recognition", lambda: recognise_pending(engine, settings=settings))  # OCR, last: slowest
    return total


def _round(engine: Engine, settings: Settings, *, transport: Transport, worker_id: str, started_at: datetime,
           stop: threading.Event, once: bool) -> SendReport:
    """One round, then its heartbeat (one short transaction) and its log line; a failed round raises only
    with `once`."""
    begin, report, error = time.perf_counter(), SendReport(), None
    try:
        report = _tick(engine, settings, transport=transport, worker_id=worker_id, stop=stop)
    except Exception as exc:  # noqa: BLE001 - recorded in the heartbeat and the log; raised again with `once`
        error = exc
    duration_ms = (time.perf_counter() - begin) * 1000
    text = "" if error is None else jobs.describe_error(error, settings.smtp.password)
    counts = asdict(report)
    logs.log_round(worker_id=worker_id, duration_ms=duration_ms, outcome=logs.ERROR if error else logs.OK,
                   counts=counts, error=text)
    _guarded("heartbeat", lambda: heartbeat.beat(engine, worker_id=worker_id, started_at=started_at,
                                                 result="error" if error else "ok", counts=counts,
                                                 duration_ms=duration_ms, error=text))
    if error is not None:
        if once:
            raise error
        log.error("worker round failed; next try in the next round", exc_info=error)
    return report


def run_worker(
    engine: Engine, settings: Settings, *, once: bool, interval: float = 5.0, stop: threading.Event | None = None,
    transport: Transport | None = None, worker_id: str | None = None, lock: WorkerLock | None = None,
) -> SendReport:
    """Run the worker: with `once`, what is due now, then return; else every `interval` seconds until `stop`.
    On a SQLite file it first takes the worker lock (WorkerAlreadyRunning if another worker has it), unless
    the caller passes the `lock` it holds; every round writes the heartbeat."""
    own_lock = acquire_worker_lock(engine.url) if lock is None else None
    stop = stop or threading.Event()
    transport = transport or transport_for(settings)
    worker_id = worker_id or default_worker_id()
    started_at, total = now(), SendReport()
    _guarded("heartbeat", lambda: heartbeat.beat(engine, worker_id=worker_id, started_at=started_at,
                                                 result="starting", counts={}, count_round=False))
    try:
        while True:
            total += _round(engine, settings, transport=transport, worker_id=worker_id, started_at=started_at,
                            stop=stop, once=once)
            if once or stop.wait(interval):
                return total
    finally:
        _guarded("heartbeat", lambda: heartbeat.stopped(engine, worker_id=worker_id))
        if own_lock is not None:
            own_lock.release()
