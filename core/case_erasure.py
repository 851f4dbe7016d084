"""Erasing one case's personal data (§10), the same at its retention deadline (core.retention's purge) and on a
data subject's request (core.subject_rights through core.retention.erase_cases): `decide` works out, for a batch of
ended cases, what is left to erase and which document files go (booking records and business letters stay,
pseudonymised, for their legal periods; core.retention_periods); `apply_decision` carries one decision out in the
caller's transaction. What goes and what stays is listed in core.retention's docstring.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from core.enums import AssignmentOrigin, DocumentKind
from core.events import append_event, personal_fields, redact_events
from core.permissions import Actor
from core.retention_periods import (
    BOOKING_RECORD_YEARS,
    BUSINESS_LETTER_YEARS,
    deletable_from,
    is_due,
    year_of,
)
from core.share_links import delete_case_links
from core.timeutil import now
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
    SurveyAnswer,
    Task,
)

BOOKING_KINDS = frozenset({DocumentKind.INVOICE})
LETTER_KINDS = frozenset({DocumentKind.CLAIM_LETTER, DocumentKind.LETTER})


@dataclass(frozen=True)
class ErasedFile:
    version_id: int
    document_id: int
    stored_name: str


@dataclass(frozen=True)
class Decision:
    case: Case
    erase: bool  # personal data left: erase it now
    notes: int
    mails: int
    drop: tuple[ErasedFile, ...]  # files (versions) to delete now
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
    ) if held or not is_due(st, closed, cancelled, today=today, months=months)}


def _with_event_texts(session: Session, ids: list[int]) -> set[int]:
    """Cases whose events still hold personal free text (e.g. purged before events were redacted)."""
    return {cid for cid, details in session.execute(select(CaseEvent.case_id, CaseEvent.details)
                                                     .where(CaseEvent.case_id.in_(ids)))
            if personal_fields(details or {})}


def decide(session: Session, cases: list[Case], *, today: date, months: int, blocking: set[int] | None = None,
            keep_persons: frozenset[int] = frozenset()) -> tuple[list[Decision], int]:
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

    decisions: list[Decision] = []
    for case in cases:
        if case.client_id in blocking:
            continue
        booking, letters, other = [], [], []
        for row in versions.get(case.id, []):
            v = row.DocumentVersion
            kind = (booking if row.kind in BOOKING_KINDS or v.id in invoice_versions
                    else letters if row.kind in LETTER_KINDS else other)
            kind.append(row)
        booking_years = [year_of(r.DocumentVersion.uploaded_at) for r in booking]
        for inv in invoices.get(case.id, []):
            booking_years += [inv.invoice_date.year, year_of(inv.submitted_at)]
        booking_gone = bool(booking_years) and today >= deletable_from(max(booking_years), BOOKING_RECORD_YEARS)
        letters_gone = bool(letters) and today >= deletable_from(
            max(year_of(r.DocumentVersion.uploaded_at) for r in letters), BUSINESS_LETTER_YEARS)
        dropped = other + (booking if booking_gone else []) + (letters if letters_gone else [])
        kept = (booking if not booking_gone else []) + (letters if not letters_gone else [])
        person = case.client_id not in keep_persons
        erase = (
            (person and case.client.pseudonymised_at is None) or _case_text_left(case) or case.id in notes
            or case.id in mails or case.id in texts or case.id in events or bool(other)
            or any(r.title or r.DocumentVersion.text
                   or r.DocumentVersion.original_name != _pseudonym_name(r.kind, r.DocumentVersion) for r in kept)
        )
        decisions.append(Decision(
            case=case, erase=erase, notes=notes.get(case.id, 0), mails=mails.get(case.id, 0),
            drop=tuple(ErasedFile(r.DocumentVersion.id, r.DocumentVersion.document_id, r.DocumentVersion.stored_name)
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


def apply_decision(session: Session, d: Decision, *, actor: Actor, details: dict,
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
