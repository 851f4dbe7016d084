"""The background worker (§8): sends the mail outbox; webhooks, reminders, digests and the retention purge
join it later (see `_tick`). `python -m core worker` runs it; `python -m core serve` runs it in a thread.

A message goes pending -> sending (claimed, with a lease) -> sent | pending again (backoff) | failed.
Several workers never send one message twice:
- Claiming is one short transaction. PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` gives concurrent workers
  disjoint rows (a row another worker claimed meanwhile fails the re-check). SQLite: BEGIN IMMEDIATE
  serialises the claims.
- A claim sets `claimed_by` and a lease (`next_attempt_at` = now + LEASE). Right before sending, the worker
  renews the lease only if the row is still `sending` and its own, else it skips the row; the outcome is
  written under the same condition. A send is bounded by the SMTP timeout, far below the lease.
- Only a dead worker leaves a row in `sending`; after the lease another worker claims it again. If it died
  after the server took the mail but before marking the row, the mail goes out once more (at most once per
  crash) with the same Message-ID, derived from the row, so the receiver can drop the duplicate.
Each claim counts as an attempt; after `max_attempts`, or on a permanent error (a message that cannot be
built, a 5xx refusal of recipient or content) the row is `failed` until an admin calls `resend`.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.attachments import render_attachment
from core.audit import log_access
from core.enums import OutboxStatus
from core.errors import NotFound, ValidationError
from core.i18n import t
from core.mailer import (
    Transport,
    build_message,
    message_id_for,
    one_line,
    transport_for,
)
from core.outbox import complete_links
from core.permissions import SYSTEM, Action, Actor, require
from core.settings import Settings
from core.timeutil import now
from core.webhooks import deliver_due
from db.engine import unit_of_work
from db.models import OutboxMessage

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
BACKOFF_CAP = timedelta(hours=6)


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0  # failed this time, will be tried again after the backoff
    failed: int = 0  # given up: status failed
    skipped: int = 0  # the claim was no longer ours

    def __add__(self, other: SendReport) -> SendReport:
        return SendReport(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class _Job:
    id: int
    recipient: str
    subject: str
    body: str
    attachments: list
    attempts: int  # including this one
    message_id: str


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1, 2, 4, 8, … minutes, at most BACKOFF_CAP."""
    return min(timedelta(minutes=2 ** min(max(attempts - 1, 0), 20)), BACKOFF_CAP)


def default_worker_id() -> str:
    """Unique per running worker: host, process, thread and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"[:100]


def _clock(at: datetime) -> datetime:  # `at` may lie ahead (tests, catch-up); never schedule in the past
    return max(at, now())


def claim_batch(session: Session, *, worker_id: str, limit: int, at: datetime) -> list[OutboxMessage]:
    """Take up to `limit` due messages (pending and due, or `sending` with an expired lease) for this worker."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
               OutboxMessage.next_attempt_at <= at)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    lease_until = _clock(at) + LEASE
    for row in rows:
        row.status, row.claimed_by, row.next_attempt_at = OutboxStatus.SENDING, worker_id[:100], lease_until
        row.attempts += 1
    session.flush()
    return list(rows)


def _mine(job: _Job, worker_id: str):
    return (OutboxMessage.id == job.id, OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_by == worker_id[:100])


def _prepare(engine: Engine, job: _Job, *, settings: Settings, worker_id: str, at: datetime):
    """Renew the lease (None if the row is no longer ours), render the attachments, build the message."""
    with unit_of_work(engine) as session:
        renewed = session.execute(
            update(OutboxMessage).where(*_mine(job, worker_id)).values(next_attempt_at=_clock(at) + LEASE)
        ).rowcount
        if not renewed:
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


def _describe(exc: BaseException, settings: Settings) -> str:
    """The error for the admin list: type and message, never the SMTP password."""
    text = one_line(f"{type(exc).__name__}: {exc}")
    if len(settings.smtp.password) >= 4:  # shorter ones would garble the text (and are no secret anyway)
        text = text.replace(settings.smtp.password, "***")
    return text[:1000]


def _finish(engine: Engine, job: _Job, *, worker_id: str, at: datetime, max_attempts: int,
            error: str = "", permanent: bool = False) -> str:
    """Record the outcome if the row is still ours: "sent", "retrying", "failed" (or "skipped")."""
    if not error:
        outcome, values = "sent", {"status": OutboxStatus.SENT, "message_id": job.message_id, "sent_at": now(),
                                   "last_error": ""}
    elif permanent or job.attempts >= max_attempts:
        outcome, values = "failed", {"status": OutboxStatus.FAILED, "last_error": error}
    else:
        outcome, values = "retrying", {"status": OutboxStatus.PENDING, "last_error": error,
                                       "next_attempt_at": _clock(at) + backoff(job.attempts)}
    with unit_of_work(engine) as session:
        done = session.execute(update(OutboxMessage).where(*_mine(job, worker_id)).values(**values)).rowcount
    return outcome if done else "skipped"


def _send_one(engine: Engine, job: _Job, *, settings: Settings, transport: Transport, worker_id: str,
              at: datetime, max_attempts: int) -> str:
    """Render, send and record one claimed message; returns its outcome."""

    def finish(error: str = "", permanent: bool = False) -> str:
        return _finish(engine, job, worker_id=worker_id, at=at, max_attempts=max_attempts, error=error,
                       permanent=permanent)

    try:
        message = _prepare(engine, job, settings=settings, worker_id=worker_id, at=at)
    except SQLAlchemyError:
        raise  # the database itself is in trouble: the lease brings the row back later
    except Exception as exc:  # noqa: BLE001 - an attachment or a message that cannot be made will not heal
        return finish(_describe(exc, settings), permanent=True)
    if message is None:
        return "skipped"
    try:
        transport.send(message)  # outside any transaction
    except Exception as exc:  # noqa: BLE001 - every send failure is recorded, most are retried
        return finish(_describe(exc, settings), permanent=_is_permanent(exc))
    return finish()


def send_due_mail(
    engine: Engine, *, settings: Settings, transport: Transport, worker_id: str, at: datetime | None = None,
    limit: int = 50, max_attempts: int = MAX_ATTEMPTS,
) -> SendReport:
    """Claim the due messages, then for each: render, send outside any transaction, record the outcome."""
    at = at or now()
    with unit_of_work(engine) as session:
        jobs = [
            _Job(m.id, m.recipient, m.subject, m.body, list(m.attachments or []), m.attempts,
                 message_id_for(outbox_id=m.id, idempotency_key=m.idempotency_key, sender=settings.smtp.sender))
            for m in claim_batch(session, worker_id=worker_id, limit=limit, at=at)
        ]
    report = SendReport(claimed=len(jobs))
    for job in jobs:
        outcome = _send_one(engine, job, settings=settings, transport=transport, worker_id=worker_id, at=at,
                            max_attempts=max_attempts)
        setattr(report, outcome, getattr(report, outcome) + 1)
        log.log(logging.INFO if outcome == "sent" else logging.WARNING, "outbox message %s: %s", job.id, outcome)
    return report


def _tick(engine: Engine, settings: Settings, *, transport: Transport, worker_id: str,
          stop: threading.Event, limit: int = 50) -> SendReport:
    """One round of all the worker's jobs. Later jobs go below, each in its own try block so one failing job
    does not starve the others (webhooks can reuse the claim/lease pattern on webhook_deliveries)."""
    total = SendReport()
    while not stop.is_set():  # drain: keep going while batches come back full
        report = send_due_mail(engine, settings=settings, transport=transport, worker_id=worker_id, limit=limit)
        total += report
        if report.claimed < limit:
            break
    try:
        while not stop.is_set() and deliver_due(engine, settings=settings, worker_id=worker_id,
                                                limit=limit).claimed >= limit:
            pass  # drain, as for mail
    except Exception:
        log.exception("webhook deliveries failed; next try in the next round")
    from core.digest import (
        send_daily_digests,  # jobs below: imported here, where they are hooked in
    )
    from core.reminders import queue_due_reminders

    try:  # queued now, sent in the next round
        with unit_of_work(engine) as session:
            queue_due_reminders(session, at=now())
    except Exception:
        log.exception("reminders failed; next try in the next round")
    try:
        with unit_of_work(engine) as session:
            send_daily_digests(session, at=now())
    except Exception:
        log.exception("digests failed; next try in the next round")
    # hooks: purge_expired(…) (daily)
    return total


def run_worker(
    engine: Engine, settings: Settings, *, once: bool, interval: float = 5.0, stop: threading.Event | None = None,
    transport: Transport | None = None, worker_id: str | None = None,
) -> SendReport:
    """Run the worker: with `once`, what is due now, then return; else every `interval` seconds until `stop`."""
    stop = stop or threading.Event()
    transport = transport or transport_for(settings)
    worker_id = worker_id or default_worker_id()
    total = SendReport()
    while True:
        try:
            total += _tick(engine, settings, transport=transport, worker_id=worker_id, stop=stop)
        except Exception:
            if once:
                raise
            log.exception("worker round failed; next try in %s s", interval)
        if once or stop.wait(interval):
            return total


@dataclass(frozen=True)
class OutboxRow:
    """A queued mail as the admin page shows it."""

    id: int
    created_at: datetime
    template_key: str
    recipient: str
    subject: str
    body: str
    attachments: tuple[str, ...]  # file names
    case_id: int | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime  # for `sending`: the end of the lease
    last_error: str
    message_id: str
    sent_at: datetime | None


def _row(m: OutboxMessage) -> OutboxRow:
    return OutboxRow(
        m.id, m.created_at, m.template_key, m.recipient, m.subject, m.body,
        tuple(str(a.get("filename", "")) for a in m.attachments or []), m.case_id, OutboxStatus(m.status),
        m.attempts, m.next_attempt_at, m.last_error, m.message_id, m.sent_at,
    )


def list_outbox(session: Session, *, actor: Actor, status: OutboxStatus | None = None,
                limit: int = 200) -> list[OutboxRow]:
    """The newest queued mails (optionally of one status), for admins; logged (mails hold personal data)."""
    require(actor, Action.MANAGE_SETTINGS)
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    log_access(session, actor=actor, action="view", object_type="outbox", detail=str(status or "all"))
    return [_row(m) for m in session.scalars(query)]


def outbox_counts(session: Session, *, actor: Actor) -> dict[OutboxStatus, int]:
    """How many mails are in each status (every status present, 0 if none)."""
    require(actor, Action.MANAGE_SETTINGS)
    counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return {status: counts.get(status, 0) for status in OutboxStatus}


def resend(session: Session, *, actor: Actor, message_id: int) -> OutboxRow:
    """A failed mail back to pending, with fresh attempts, due now (admins)."""
    require(actor, Action.MANAGE_SETTINGS)
    message = session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if message is None:  # texts to move to the catalog: outbox.not_found, outbox.not_failed
        raise NotFound(t("outbox.not_found"))
    if message.status != OutboxStatus.FAILED:
        raise ValidationError(t("outbox.not_failed"))
    message.status, message.attempts, message.next_attempt_at, message.claimed_by = OutboxStatus.PENDING, 0, now(), ""
    log_access(session, actor=actor, action="resend", object_type="outbox", object_ref=str(message.id))
    session.flush()
    return _row(message)
