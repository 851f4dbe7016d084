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

The same erasure, on request and at once, for a data subject's ended cases: `erase_cases` (core.subject_rights).

Each batch of cases is one transaction (a crash leaves every case purged or untouched); files are deleted only
after their batch committed. A second run changes nothing. The periods and their legal basis: core.retention_periods.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from core.documents import _delete_files, documents_dir
from core.enums import AssignmentOrigin, CaseStatus, DocumentKind
from core.errors import ValidationError
from core.events import append_event, personal_fields, redact_events
from core.i18n import t
from core.inbound_mail import blank_dismissed
from core.permissions import SYSTEM, Action, Actor, require
from core.retention_periods import (
    BOOKING_RECORD_YEARS,
    BUSINESS_LETTER_YEARS,
    deletable_from,
    ended_before,
    erasure_day,
)
from core.settings import Settings
from core.share_links import delete_case_links
from core.timeutil import now, to_berlin
from core.upload_checks import ALLOWED_EXTENSIONS
from db.models import (
    AccessLog,
    Assignment,
    Case,
    CaseEvent,
    Document,
    DocumentVersion,
    InboundMail,
    InsurerQuery,
    Invoice,
    Note,
    OutboxMessage,
    PurgeRun,
    Settlement,
    SettlementLine,
    SurveyAnswer,
    Task,
)

log = logging.getLogger(__name__)

BOOKING_KINDS = frozenset({DocumentKind.INVOICE})
LETTER_KINDS = frozenset({DocumentKind.CLAIM_LETTER, DocumentKind.LETTER})
BATCH_SIZE = 500

#: What a run changed, and what it skipped (a state, so a second run reports the same skips, but no changes).
CHANGE_CATEGORIES = ("cases", "documents", "letters", "invoices", "settlements", "notes", "mails", "inbound_mails")
SKIP_CATEGORIES = ("legal_hold", "blocked")
CATEGORIES = CHANGE_CATEGORIES + SKIP_CATEGORIES


# --- when ----------------------------------------------------------------------------------------------------


def _year(value: datetime) -> int:
    return to_berlin(value).year


def _is_due(status: CaseStatus, closed_at: datetime | None, cancelled_at: datetime | None, *, today: date,
            months: int) -> bool:
    """The exact rule (the SQL pre-filter `_due_clause` uses the same boundary)."""
    ended = closed_at if status == CaseStatus.CLOSED else cancelled_at if status == CaseStatus.CANCELLED else None
    return ended is not None and erasure_day(ended, months) <= today


def _due_clause(cutoff: datetime):
    return or_(and_(Case.status == CaseStatus.CLOSED, Case.closed_at < cutoff),
               and_(Case.status == CaseStatus.CANCELLED, Case.cancelled_at < cutoff))


# --- what (computed, nothing changed) ------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    version_id: int
    document_id: int
    stored_name: str


@dataclass(frozen=True)
class _Decision:
    case: Case
    erase: bool  # personal data left: erase it now
    notes: int
    mails: int
    drop: tuple[_File, ...]  # files (versions) to delete now
    keep: tuple[int, ...]  # retained version ids (booking records, letters), metadata pseudonymised on erasure
    letters: int  # of `drop`, business letters past their period
    invoices: int  # invoice rows past their period
    person: bool = True  # pseudonymise the client's Person row too (not while another case of it needs it)

    def counts(self) -> Counter:
        return Counter(cases=int(self.erase), documents=len(self.drop), letters=self.letters,
                       invoices=self.invoices, notes=self.notes, mails=self.mails)


def _group(rows: Iterable[tuple]) -> dict[int, int]:
    return {case_id: n for case_id, n in rows}


def _blocking_clients(session: Session, cases: list[Case], *, today: date, months: int) -> set[int]:
    """Clients (person ids) that also have a case under legal hold or not yet due."""
    return {cid for cid, st, closed, cancelled, held in session.execute(
        select(Case.client_id, Case.status, Case.closed_at, Case.cancelled_at, Case.legal_hold)
        .where(Case.client_id.in_({c.client_id for c in cases}))
    ) if held or not _is_due(st, closed, cancelled, today=today, months=months)}


def _with_event_texts(session: Session, ids: list[int]) -> set[int]:
    """Cases whose events still hold personal free text (e.g. purged before events were redacted)."""
    return {cid for cid, details in session.execute(select(CaseEvent.case_id, CaseEvent.details)
                                                     .where(CaseEvent.case_id.in_(ids)))
            if personal_fields(details or {})}


def _decide(session: Session, cases: list[Case], *, today: date, months: int, blocking: set[int] | None = None,
            keep_persons: frozenset[int] = frozenset()) -> tuple[list[_Decision], int]:
    """What to do with each case of a batch; returns the decisions and how many were blocked (cases of a client
    in `blocking`; by default clients with a case held or not due). The person rows in `keep_persons` stay."""
    ids = [c.id for c in cases]
    if blocking is None:
        blocking = _blocking_clients(session, cases, today=today, months=months)
    events = _with_event_texts(session, ids)
    notes = _group(session.execute(select(Note.case_id, func.count()).where(Note.case_id.in_(ids))
                                   .group_by(Note.case_id)))
    mails = _group(session.execute(select(OutboxMessage.case_id, func.count())
                                   .where(OutboxMessage.case_id.in_(ids)).group_by(OutboxMessage.case_id)))
    texts = set(session.scalars(select(Task.case_id).where(Task.case_id.in_(ids), Task.title != "")))
    texts |= set(session.scalars(select(InsurerQuery.case_id).where(InsurerQuery.case_id.in_(ids),
                                                                     InsurerQuery.subject != "")))
    texts |= set(session.scalars(select(SurveyAnswer.case_id).where(SurveyAnswer.case_id.in_(ids),
                                                                     SurveyAnswer.comment != "")))
    texts |= set(session.scalars(select(Assignment.case_id).where(Assignment.case_id.in_(ids), or_(
        Assignment.decline_reason != "", and_(Assignment.origin == AssignmentOrigin.OVERRIDE, Assignment.reason != "")))))
    invoices: dict[int, list[Invoice]] = {}
    for inv in session.scalars(select(Invoice).where(Invoice.case_id.in_(ids))):
        invoices.setdefault(inv.case_id, []).append(inv)
    invoice_versions = {inv.document_version_id for invs in invoices.values() for inv in invs}
    versions: dict[int, list] = {}
    for row in session.execute(
        select(Document.case_id, Document.kind, Document.title, DocumentVersion)
        .join(DocumentVersion, DocumentVersion.document_id == Document.id).where(Document.case_id.in_(ids))
    ):
        versions.setdefault(row.case_id, []).append(row)

    decisions: list[_Decision] = []
    for case in cases:
        if case.client_id in blocking:
            continue
        booking, letters, other = [], [], []
        for row in versions.get(case.id, []):
            v = row.DocumentVersion
            kind = (booking if row.kind in BOOKING_KINDS or v.id in invoice_versions
                    else letters if row.kind in LETTER_KINDS else other)
            kind.append(row)
        booking_years = [_year(r.DocumentVersion.uploaded_at) for r in booking]
        for inv in invoices.get(case.id, []):
            booking_years += [inv.invoice_date.year, _year(inv.submitted_at)]
        booking_gone = bool(booking_years) and today >= deletable_from(max(booking_years), BOOKING_RECORD_YEARS)
        letters_gone = bool(letters) and today >= deletable_from(
            max(_year(r.DocumentVersion.uploaded_at) for r in letters), BUSINESS_LETTER_YEARS)
        dropped = other + (booking if booking_gone else []) + (letters if letters_gone else [])
        kept = (booking if not booking_gone else []) + (letters if not letters_gone else [])
        person = case.client_id not in keep_persons
        erase = (
            (person and case.client.pseudonymised_at is None) or _case_text_left(case) or case.id in notes
            or case.id in mails or case.id in texts or case.id in events or bool(other)
            or any(r.title or r.DocumentVersion.text
                   or r.DocumentVersion.original_name != _pseudonym_name(r.kind, r.DocumentVersion) for r in kept)
        )
        decisions.append(_Decision(
            case=case, erase=erase, notes=notes.get(case.id, 0), mails=mails.get(case.id, 0),
            drop=tuple(_File(r.DocumentVersion.id, r.DocumentVersion.document_id, r.DocumentVersion.stored_name)
                       for r in dropped),
            keep=tuple(r.DocumentVersion.id for r in kept),
            letters=len(letters) if letters_gone else 0,
            invoices=len(invoices.get(case.id, [])) if booking_gone else 0,
            person=person,
        ))
    return decisions, sum(1 for c in cases if c.client_id in blocking)


def _case_text_left(case: Case) -> bool:
    return bool(case.plate or case.vin or case.policy_number or case.insurer_claim_number or case.incident_date
                or case.incident_description or case.status_reason or len(case.postal_code) > 2)


def _pseudonym_name(kind: DocumentKind, version: DocumentVersion) -> str:
    """The file name a retained document keeps: its kind and version, no trace of the uploaded name."""
    return f"{kind.value}-v{version.version}{ALLOWED_EXTENSIONS.get(version.mime, ('',))[0]}"


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
            if not c.legal_hold and _is_due(c.status, c.closed_at, c.cancelled_at, today=today, months=months)]


def _held(session: Session, cutoff: datetime) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(_due_clause(cutoff), Case.legal_hold))


def _expired_settlements(session: Session, *, today: date, months: int) -> list[Settlement]:
    """Settlements past their period whose cases are all due and none held."""
    result = []
    for s in session.scalars(select(Settlement).where(Settlement.month < f"{today.year - BOOKING_RECORD_YEARS}-99")
                             .order_by(Settlement.id)):
        years = [int(s.month[:4]), _year(s.created_at)] + ([_year(s.paid_at)] if s.paid_at else [])
        if today < deletable_from(max(years), BOOKING_RECORD_YEARS):
            continue
        cases = session.scalars(select(Case).join(SettlementLine, SettlementLine.case_id == Case.id)
                                .where(SettlementLine.settlement_id == s.id))
        if all(not c.legal_hold and _is_due(c.status, c.closed_at, c.cancelled_at, today=today, months=months)
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
        decisions, blocked = _decide(session, _batch(session, ids, today=today, months=months, lock=False),
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
            decisions, blocked = _decide(session, batch, today=today, months=months)
            batch_counts, batch_numbers = Counter(blocked=blocked), [d.case.number for d in decisions if d.erase]
            files = [documents_dir(settings) / f.stored_name for d in decisions for f in d.drop]
            for d in decisions:
                batch_counts.update(d.counts())
                _apply(session, d, actor=actor, details={"retention_months": months})
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


def _apply(session: Session, d: _Decision, *, actor: Actor, details: dict,
           action: str = "personal_data_erased") -> None:
    """Carry out one case's decision (flushes nothing; the batch commits); the erasure event is `action` with
    `details`."""
    case = d.case
    if d.erase:
        _erase_case(session, case, keep=d.keep, person=d.person)
        delete_case_links(session, case_id=case.id)  # a link's recipient label may name a person
        append_event(session, case=case, actor=actor, action=action, details=details)
    if d.drop:
        version_ids = [f.version_id for f in d.drop]
        if d.invoices:
            session.execute(delete(Invoice).where(Invoice.case_id == case.id))
        session.execute(delete(DocumentVersion).where(DocumentVersion.id.in_(version_ids)))
        session.execute(delete(Document).where(
            Document.id.in_({f.document_id for f in d.drop}),
            ~exists().where(DocumentVersion.document_id == Document.id),
        ))
    if d.invoices or d.letters:
        append_event(session, case=case, actor=actor, action="records_deleted",
                     details={"invoices": d.invoices, "letters": d.letters})


def _erase_case(session: Session, case: Case, *, keep: tuple[int, ...], person: bool = True) -> None:
    if person:
        client = case.client
        client.first_name, client.last_name, client.email, client.phone = "", f"P-{client.id:06d}", "", ""
        client.street, client.postal_code, client.city = "", "", ""
        client.pseudonymised_at = client.pseudonymised_at or now()
    case.plate = case.vin = case.policy_number = case.insurer_claim_number = ""
    case.incident_description = case.status_reason = ""
    case.incident_date = None
    case.postal_code = case.postal_code[:2]  # the region stays: KPIs and fairness use it
    session.execute(delete(Note).where(Note.case_id == case.id))
    session.execute(delete(OutboxMessage).where(OutboxMessage.case_id == case.id))
    session.execute(update(Task).where(Task.case_id == case.id).values(title=""))
    session.execute(update(InsurerQuery).where(InsurerQuery.case_id == case.id).values(subject=""))
    session.execute(update(InboundMail).where(InboundMail.case_id == case.id).values(  # the key stays: filed once
        message_id="", sender="", sender_name="", subject="", body_excerpt="", matched_numbers=[], rejected=[]))
    session.execute(update(SurveyAnswer).where(SurveyAnswer.case_id == case.id).values(comment=""))
    session.execute(update(Assignment).where(Assignment.case_id == case.id).values(decline_reason=""))
    session.execute(update(Assignment).where(Assignment.case_id == case.id, Assignment.origin == AssignmentOrigin.OVERRIDE)
                    .values(reason=""))
    for version, kind in session.execute(
        select(DocumentVersion, Document.kind).join(Document, Document.id == DocumentVersion.document_id)
        .where(DocumentVersion.id.in_(keep))
    ):
        version.text = ""
        version.original_name = _pseudonym_name(kind, version)
    session.execute(update(Document).where(Document.case_id == case.id).values(title=""))
    session.execute(update(AccessLog).where(AccessLog.object_ref == case.number, AccessLog.role == "client",
                                            AccessLog.ip != "").values(ip=""))
    redact_events(session, case_ids=[case.id])


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
    decisions, _ = _decide(session, cases, today=to_berlin(at).date(), months=settings.retention_months,
                           blocking=set(), keep_persons=keep_persons)
    counts: Counter = Counter()
    for d in decisions:
        counts.update(d.counts())
        if not dry_run:
            _apply(session, d, actor=actor, details=details, action=action)
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
