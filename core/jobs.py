"""Claiming and leasing rows of a job table (§8): the one protocol the mail outbox and webhook deliveries share.

A row goes pending -> sending (claimed, with a lease) -> sent | pending again (backoff) | failed:
- Claiming is one short transaction. PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` gives concurrent workers
  disjoint rows (a row another worker claimed meanwhile fails the re-check). SQLite: the write transaction
  (BEGIN IMMEDIATE, see db.engine) serialises the claims.
- A claim counts as an attempt and sets the lease: `next_attempt_at` = now + LEASE and, where the table has an
  owner column, the worker's id. The attempt number is the claim's token: a row is renewed or finished only
  while it is still `sending` with that number (and that owner), so a worker whose lease ran out can never
  overwrite the outcome of the worker that took the row over. The work itself runs outside any transaction.
- Only a dead (or far too slow) worker leaves a row in `sending`; after the lease another worker claims it.
Each failure waits `backoff(attempts)`; after `max_attempts`, or on a permanent error, the row is `failed`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core.enums import OutboxStatus
from core.mailer import one_line
from core.timeutil import now
from db.engine import unit_of_work

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
BACKOFF_CAP = timedelta(hours=6)
OWNER_LENGTH = 100  # the width of an owner column (`claimed_by`)


@dataclass(frozen=True)
class JobTable:
    """A table worked off by this protocol. Its model has `id`, `status` (OutboxStatus), `attempts` and
    `next_attempt_at`, plus the column set when a row is done and, optionally, an owner column."""

    model: Any  # the ORM class
    name: str  # for log lines, e.g. "outbox message"
    done_at: str  # the column that gets the time a row was done, e.g. "sent_at"
    owner: str | None = None  # the column naming the worker that holds the lease, if the table has one


@dataclass(frozen=True)
class Claim:
    """One worker's hold on one row: valid while the row is `sending` with this attempt number (and owner)."""

    id: int
    attempts: int  # including this one
    worker_id: str


@dataclass
class JobReport:
    """What one or more batches did, row by row."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0  # failed this time, will be tried again after the backoff
    failed: int = 0  # given up: status failed
    skipped: int = 0  # the claim was no longer ours

    def __add__(self, other: JobReport) -> JobReport:
        return JobReport(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1, 2, 4, 8, … minutes, at most BACKOFF_CAP."""
    return min(timedelta(minutes=2 ** min(max(attempts - 1, 0), 20)), BACKOFF_CAP)


def clock(at: datetime) -> datetime:
    """`at`, but never in the past: `at` may lie ahead (tests, catch-up); nothing is scheduled before now."""
    return max(at, now())


def claim_due(session: Session, table: JobTable, *, worker_id: str, limit: int, at: datetime) -> list:
    """Take up to `limit` due rows (pending and due, or `sending` with an expired lease) for this worker;
    returns them claimed (status `sending`, attempts counted, leased). Call in its own short transaction."""
    model = table.model
    rows = session.scalars(
        select(model)
        .where(model.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)), model.next_attempt_at <= at)
        .order_by(model.next_attempt_at, model.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    lease_until = clock(at) + LEASE
    for row in rows:
        row.status, row.next_attempt_at, row.attempts = OutboxStatus.SENDING, lease_until, row.attempts + 1
        if table.owner:
            setattr(row, table.owner, worker_id[:OWNER_LENGTH])
    session.flush()
    log.debug("worker %s claimed %s rows of %s", worker_id, len(rows), model.__tablename__)
    return list(rows)


def claim_of(row: Any, worker_id: str) -> Claim:
    """The claim a worker holds on a row it has just claimed."""
    return Claim(row.id, row.attempts, worker_id)


def _still_mine(table: JobTable, claim: Claim) -> tuple:
    model = table.model
    conditions = (model.id == claim.id, model.status == OutboxStatus.SENDING, model.attempts == claim.attempts)
    if table.owner:
        conditions += (getattr(model, table.owner) == claim.worker_id[:OWNER_LENGTH],)
    return conditions


def renew_lease(session: Session, table: JobTable, claim: Claim, *, at: datetime) -> bool:
    """Extend the lease right before the work; False if the row is no longer ours (then leave it alone)."""
    stmt = update(table.model).where(*_still_mine(table, claim)).values(next_attempt_at=clock(at) + LEASE)
    return bool(session.execute(stmt).rowcount)


def finish(engine: Engine, table: JobTable, claim: Claim, *, at: datetime, max_attempts: int, error: str = "",
           permanent: bool = False, values: dict | None = None, done_values: dict | None = None) -> str:
    """Record the outcome if the row is still ours: "sent", "retrying", "failed" (or "skipped"). No `error`
    means done. `values` are written whatever the outcome, `done_values` only when done."""
    if not error:
        outcome = "sent"
        values = {**(values or {}), **(done_values or {}), "status": OutboxStatus.SENT, table.done_at: now(),
                  "last_error": ""}
    elif permanent or claim.attempts >= max_attempts:
        outcome, values = "failed", {**(values or {}), "status": OutboxStatus.FAILED, "last_error": error}
    else:
        outcome, values = "retrying", {**(values or {}), "status": OutboxStatus.PENDING, "last_error": error,
                                       "next_attempt_at": clock(at) + backoff(claim.attempts)}
    with unit_of_work(engine) as session:
        done = session.execute(update(table.model).where(*_still_mine(table, claim)).values(**values)).rowcount
    return outcome if done else "skipped"


def describe_error(exc: BaseException, secret: str = "") -> str:
    """An error for the admin list: type and message on one line, never the secret."""
    text = one_line(f"{type(exc).__name__}: {exc}")
    if len(secret) >= 4:  # shorter ones would garble the text (and are no secret anyway)
        text = text.replace(secret, "***")
    return text[:1000]


class Job(Protocol):
    """What a module makes of a claimed row: at least the claim."""

    @property
    def claim(self) -> Claim: ...


J = TypeVar("J", bound=Job)


def run_batch(engine: Engine, table: JobTable, *, claim: Callable[[Session], list[J]],
              work: Callable[[J], str]) -> JobReport:
    """Claim a batch in one transaction (`claim`), then do each job (`work`, returning its outcome) one by one
    outside it; the report counts the outcomes."""
    with unit_of_work(engine) as session:
        jobs = claim(session)
    report = JobReport(claimed=len(jobs))
    for job in jobs:
        outcome = work(job)
        setattr(report, outcome, getattr(report, outcome) + 1)
        log.log(logging.INFO if outcome == "sent" else logging.WARNING, "%s %s: %s", table.name, job.claim.id,
                outcome)
    return report
