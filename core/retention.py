"""The retention purge (§10): personal data of finished cases goes, booking records and business letters stay for
their legal periods (pseudonymised) and then go, the KPIs stay computable.

When: a case that ended (closed_at, or cancelled_at for a cancelled case) on Berlin day D is purged from Berlin
day D + RETENTION_MONTHS calendar months on (a day number the month lacks becomes its last day: closed 31.08.2024,
24 months -> purged from 31.08.2026; closed 29.02.2024 -> from 28.02.2026). An open case is never touched; a case
under legal hold is skipped entirely; a case whose client also has a case that is not due is skipped too.

Erased (the case stays, with its number, as an anonymous row for the KPIs): the client (names, e-mail, phone,
address; the Person row keeps a pseudonym `P-<id>` and `pseudonymised_at`), plate, VIN, policy and insurer claim
numbers, incident date and description, status reason, the case postal code down to its two-digit region; notes
(deleted), task titles, insurer-query subjects, survey comments, decline/override reasons of assignments (free
text), the case's mails in the outbox (deleted; client links die with the erased e-mail address), and every
document file except booking records and business letters (file deleted after the commit, rows deleted).

In the event log (append-only and hash-chained; no event holds the client's name, address, contacts, plate or VIN)
the free texts some events copy — status, decline, override and hold reasons, task titles, query subjects,
uploaded file names — are replaced by a marker (core.events.redact_events: the chain stays verifiable); client
IP addresses in the access log entries of the case are blanked.

Kept: timestamps, amounts, status, damage type, insurer, partner, clerk, broker, throughput hours, survey score,
callbacks, assignments (fairness), the events themselves. Booking records (the partner's invoice row and its
files) and business letters (claim letters, insurer correspondence) keep their files, with the original file name
and the extracted search text erased, until their period is over; then they are deleted. Settlements are deleted
when their period is over and none of their cases is held or not yet due.

The erasure of a case itself (decide, then apply) is core.case_erasure; the same, on request and at once, for a data
subject's ended cases: `erase_cases` (core.subject_rights).

Each batch of cases is one transaction (a crash leaves every case purged or untouched); files are deleted only
after their batch committed. A second run changes nothing. The periods and their legal basis: core.retention_periods.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, and_, delete, func, or_, select
from sqlalchemy.orm import Session, selectinload

from core.case_erasure import apply_decision, decide
from core.documents import _delete_files, documents_dir
from core.enums import CaseStatus
from core.errors import ValidationError
from core.events import append_event
from core.i18n import t
from core.inbound_mail import blank_dismissed
from core.permissions import SYSTEM, Action, Actor, require
from core.retention_periods import (
    BOOKING_RECORD_YEARS,
    deletable_from,
    ended_before,
    is_due,
    year_of,
)
from core.settings import Settings
from core.timeutil import now, to_berlin
from db.models import Case, PurgeRun, Settlement, SettlementLine

log = logging.getLogger(__name__)

BATCH_SIZE = 500

#: What a run changed, and what it skipped (a state, so a second run reports the same skips, but no changes).
CHANGE_CATEGORIES = ("cases", "documents", "letters", "invoices", "settlements", "notes", "mails", "inbound_mails")
SKIP_CATEGORIES = ("legal_hold", "blocked")
CATEGORIES = CHANGE_CATEGORIES + SKIP_CATEGORIES


# --- when ----------------------------------------------------------------------------------------------------


def _due_clause(cutoff: datetime):
    """The SQL pre-filter of core.retention_periods.is_due (same boundary: ended before `cutoff`)."""
    return or_(and_(Case.status == CaseStatus.CLOSED, Case.closed_at < cutoff),
               and_(Case.status == CaseStatus.CANCELLED, Case.cancelled_at < cutoff))


# --- what (computed, nothing changed) ------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgePlan:
    """What a purge at `at` would do: counts per category and the cases whose personal data would go."""

    day: date
    ended_before: datetime
    counts: dict[str, int]
    case_numbers: tuple[str, ...]


def _candidates(session: Session, cutoff: datetime) -> list[int]:
    return list(session.scalars(select(Case.id).where(_due_clause(cutoff), Case.legal_hold.is_(False))
                                .order_by(Case.id)))


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start:start + BATCH_SIZE]


def _batch(session: Session, ids: list[int], *, today: date, months: int, lock: bool) -> list[Case]:
    query = (select(Case).where(Case.id.in_(ids)).order_by(Case.id).options(selectinload(Case.client))
             .execution_options(populate_existing=True))
    if lock:
        query = query.with_for_update(of=Case)
    return [c for c in session.scalars(query)
            if not c.legal_hold and is_due(c.status, c.closed_at, c.cancelled_at, today=today, months=months)]


def _held(session: Session, cutoff: datetime) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(_due_clause(cutoff), Case.legal_hold))


def _expired_settlements(session: Session, *, today: date, months: int) -> list[Settlement]:
    """Settlements past their period whose cases are all due and none held."""
    result = []
    for s in session.scalars(select(Settlement).where(Settlement.month < f"{today.year - BOOKING_RECORD_YEARS}-99")
                             .order_by(Settlement.id)):
        years = [int(s.month[:4]), year_of(s.created_at)] + ([year_of(s.paid_at)] if s.paid_at else [])
        if today < deletable_from(max(years), BOOKING_RECORD_YEARS):
            continue
        cases = session.scalars(select(Case).join(SettlementLine, SettlementLine.case_id == Case.id)
                                .where(SettlementLine.settlement_id == s.id))
        if all(not c.legal_hold and is_due(c.status, c.closed_at, c.cancelled_at, today=today, months=months)
               for c in cases):
            result.append(s)
    return result


def plan_purge(session: Session, *, settings: Settings, at: datetime) -> PurgePlan:
    """What `purge` would erase and delete at `at` (nothing is changed)."""
    today, months = to_berlin(at).date(), settings.retention_months
    cutoff = ended_before(today, months)
    counts: Counter = Counter(legal_hold=_held(session, cutoff))
    numbers: list[str] = []
    for ids in _chunks(_candidates(session, cutoff)):
        decisions, blocked = decide(session, _batch(session, ids, today=today, months=months, lock=False),
                                     today=today, months=months)
        counts["blocked"] += blocked
        for d in decisions:
            counts.update(d.counts())
            if d.erase:
                numbers.append(d.case.number)
    counts["settlements"] = len(_expired_settlements(session, today=today, months=months))
    counts["inbound_mails"] = blank_dismissed(session, actor=SYSTEM, settings=settings, before=cutoff, dry_run=True)
    return PurgePlan(today, cutoff, {k: counts.get(k, 0) for k in CATEGORIES}, tuple(numbers))


# --- doing it --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeReport:
    dry_run: bool
    counts: dict[str, int]
    case_numbers: tuple[str, ...] = field(default=())  # cases whose personal data went (or would go)
    run_id: int | None = None

    @property
    def changed(self) -> int:
        return sum(self.counts[k] for k in CHANGE_CATEGORIES)


def purge(session: Session, *, actor: Actor, settings: Settings, at: datetime, dry_run: bool = False) -> PurgeReport:
    """Erase what is due at `at`; logged in purge_runs. Commits once per batch of cases (pass a session with no
    open transaction); a dry run only plans and changes nothing."""
    require(actor, Action.GDPR)
    if dry_run:
        plan = plan_purge(session, settings=settings, at=at)
        return PurgeReport(dry_run=True, counts=plan.counts, case_numbers=plan.case_numbers)
    run = PurgeRun(day=to_berlin(at).date().isoformat(), actor_id=actor.user_id, actor_name=actor.display_name,
                   counts={}, started_at=now())
    session.add(run)
    session.commit()
    return _run(session, run=run, actor=actor, settings=settings, at=at)


def purge_if_due(engine: Engine, *, settings: Settings, at: datetime | None = None) -> PurgeReport | None:
    """The worker's daily purge: runs unless a run for this Berlin day exists (also one from the CLI)."""
    at = at or now()
    day = to_berlin(at).date().isoformat()
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            if session.scalar(select(PurgeRun.id).where(PurgeRun.day == day).limit(1)) is not None:
                return None
            insert = _insert(session)
            run_id = session.scalar(
                insert(PurgeRun).values(day=day, worker_day=day, actor_name=SYSTEM.display_name, counts={},
                                        started_at=now()).on_conflict_do_nothing().returning(PurgeRun.id)
            )
        if run_id is None:  # another worker claimed the day a moment ago
            return None
        return _run(session, run=session.get(PurgeRun, run_id), actor=SYSTEM, settings=settings, at=at)


def _insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _run(session: Session, *, run: PurgeRun, actor: Actor, settings: Settings, at: datetime) -> PurgeReport:
    today, months = to_berlin(at).date(), settings.retention_months
    cutoff = ended_before(today, months)
    counts: Counter = Counter(legal_hold=_held(session, cutoff))
    numbers: list[str] = []
    session.rollback()  # end the read transaction; each batch below is its own write transaction
    try:
        for ids in _chunks(_candidates(session, cutoff)):
            session.rollback()
            batch = _batch(session, ids, today=today, months=months, lock=True)
            decisions, blocked = decide(session, batch, today=today, months=months)
            batch_counts, batch_numbers = Counter(blocked=blocked), [d.case.number for d in decisions if d.erase]
            files = [documents_dir(settings) / f.stored_name for d in decisions for f in d.drop]
            for d in decisions:
                batch_counts.update(d.counts())
                apply_decision(session, d, actor=actor, details={"retention_months": months})
            session.flush()
            session.commit()
            _delete_files(files)  # only now: a rolled-back batch keeps its files
            counts.update(batch_counts)
            numbers += batch_numbers
        expired = _expired_settlements(session, today=today, months=months)
        ids = [s.id for s in expired]
        session.execute(delete(SettlementLine).where(SettlementLine.settlement_id.in_(ids)))
        session.execute(delete(Settlement).where(Settlement.id.in_(ids)))
        counts["settlements"] = len(ids)
        counts["inbound_mails"] = blank_dismissed(session, actor=actor, settings=settings, before=cutoff)
        session.commit()
    except BaseException:
        session.rollback()
        try:  # record what the committed batches did; never hide the original error
            _finish(session, run, counts, finished=False)
        except Exception:
            log.exception("could not record the interrupted purge run %s", run.id)
        raise
    _finish(session, run, counts, finished=True)
    return PurgeReport(dry_run=False, counts={k: counts.get(k, 0) for k in CATEGORIES}, case_numbers=tuple(numbers),
                       run_id=run.id)


def _finish(session: Session, run: PurgeRun, counts: Counter, *, finished: bool) -> None:
    run = session.get(PurgeRun, run.id, populate_existing=True)
    run.counts = {k: counts.get(k, 0) for k in CATEGORIES}
    run.finished_at = now() if finished else None
    session.commit()


# --- on request (core.subject_rights) ------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseErasure:
    counts: dict[str, int]  # CHANGE_CATEGORIES
    case_numbers: tuple[str, ...]  # cases whose personal data went (or would go)
    files: tuple[Path, ...]  # stored files to delete once the transaction committed


def erase_cases(session: Session, *, actor: Actor, settings: Settings, cases: list[Case], at: datetime,
                action: str, details: dict, keep_persons: frozenset[int] = frozenset(),
                dry_run: bool = False) -> CaseErasure:
    """Erase the personal data of these cases now, exactly as the purge does at their deadline (booking records and
    business letters stay, pseudonymised, for their legal periods). The caller decides which cases may go (holds,
    open cases) and which Person rows must stay; flushes only, the caller commits and then deletes `files`."""
    decisions, _ = decide(session, cases, today=to_berlin(at).date(), months=settings.retention_months,
                           blocking=set(), keep_persons=keep_persons)
    counts: Counter = Counter()
    for d in decisions:
        counts.update(d.counts())
        if not dry_run:
            apply_decision(session, d, actor=actor, details=details, action=action)
    if not dry_run:
        session.flush()
    return CaseErasure(counts={k: counts.get(k, 0) for k in CHANGE_CATEGORIES},
                       case_numbers=tuple(d.case.number for d in decisions if d.erase),
                       files=tuple(documents_dir(settings) / f.stored_name for d in decisions for f in d.drop))


# --- legal hold -----------------------------------------------------------------------------------------------


def set_legal_hold(session: Session, *, actor: Actor, case: Case, on: bool, reason: str) -> Case:
    """Put a case under legal hold (the purge skips it) or release it; the reason goes into the case's events."""
    require(actor, Action.SET_LEGAL_HOLD, case)
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError(t("retention.hold_reason_required"), field="reason")
    if len(reason) > 300:
        raise ValidationError(t("retention.hold_reason_too_long", max=300), field="reason")
    if case.legal_hold is on:
        return case
    case.legal_hold = on
    append_event(session, case=case, actor=actor, action="legal_hold_set" if on else "legal_hold_released",
                 details={"reason": reason})
    session.flush()
    return case


def set_case_legal_hold(session: Session, *, actor: Actor, number: str, on: bool, reason: str) -> Case:
    """set_legal_hold for the case with this number (locked; refused like every case action)."""
    from core.cases import lock_case

    case = lock_case(session, actor=actor, number=number, action=Action.SET_LEGAL_HOLD)
    return set_legal_hold(session, actor=actor, case=case, on=on, reason=reason)


def purge_lines(report: PurgeReport, *, max_numbers: int = 50) -> list[str]:
    """The CLI's German lines: counts per category, and for a dry run the cases that would be anonymised."""
    lines = [t("retention.dry_run_head") if report.dry_run else t("retention.run_head")]
    lines += [t(f"retention.count.{k}", n=report.counts[k]) for k in CATEGORIES]
    if report.dry_run and report.case_numbers:
        shown = report.case_numbers[:max_numbers]
        lines.append(t("retention.cases_head", shown=len(shown), n=len(report.case_numbers)))
        lines += [f"  {number}" for number in shown]
    return lines
