"""Data-subject rights (§10, admin): find a person, export everything held on them (Art. 15/20), erase on request
(Art. 17) with the same holds as the retention purge, and the legal basis recorded per person (Art. 6).

A "subject" is every Person row with the e-mail address asked for (case-insensitive; each intake makes its own
row), or the rows picked after a name search. Export and erasure need a reason and are written to the access log
(who, why, counts; no content) in the caller's transaction.

Erasure takes a case only when it has ended (closed or cancelled) and is not under legal hold: for an open case the
data is still needed to pursue the claim (Art. 17 Abs. 3 lit. b and e DSGVO), a held one is kept for a legal
dispute; both are reported as skipped with the reason. For the cases it takes, it does exactly what the purge does at
their deadline (core.retention.erase_cases): booking records and business letters stay for their legal periods with
the person pseudonymised, event free texts are redacted (the hash chain stays verifiable). The Person row itself is
pseudonymised only when none of its cases was skipped. Mails received from the subject's address that no case took
(held or dismissed in the Posteingang) are blanked too, unless a skipped case keeps a person with that address
(core.inbound_mail.erase_unfiled_from). Files go once the transaction committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session, SessionTransaction

from core.audit import log_access
from core.documents import _delete_files
from core.enums import OPEN_STATUSES, LegalBasis
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import label, t
from core.inbound_mail import erase_unfiled_from, subject_mails
from core.permissions import Action, Actor, can, require
from core.retention import CHANGE_CATEGORIES, erase_cases
from core.settings import Settings
from core.timeutil import berlin_midnight_utc, now, to_berlin
from db.models import (
    AccessLog,
    Assignment,
    Case,
    CaseCallback,
    CaseEvent,
    Document,
    DocumentVersion,
    InsurerQuery,
    Invoice,
    Note,
    OutboxMessage,
    Partner,
    Person,
    SurveyAnswer,
    Task,
    User,
)

EXPORT_FORMAT = "schadenportal-subject-export/1"
MAX_HITS = 50
MAX_REASON = 300
LOG_OBJECT = "subject"


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(t("subject.reason_required"), field="reason")
    if len(reason) > MAX_REASON:
        raise ValidationError(t("subject.reason_too_long", max=MAX_REASON), field="reason")
    return reason


def _like_prefix(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- search ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectHit:
    person_id: int
    name: str
    email: str
    city: str
    legal_basis: LegalBasis
    legal_basis_at: datetime
    pseudonymised: bool
    cases: tuple[tuple[str, str], ...]  # (case number, status)


def find_subjects(session: Session, *, actor: Actor, query: str) -> list[SubjectHit]:
    """Persons by e-mail address (exact, case-insensitive; the query holds an `@`) or by name (prefix of the last
    name, or "first last" as two prefixes); at most MAX_HITS, logged without the query."""
    require(actor, Action.GDPR)
    query = " ".join((query or "").split())
    if len(query) < 2:
        raise ValidationError(t("subject.query_too_short"), field="query")
    if "@" in query:
        where = func.lower(Person.email) == query.lower()
    else:
        words = query.split(" ")
        where = func.lower(Person.last_name).like(_like_prefix(query), escape="\\")
        if len(words) > 1:
            where = or_(where, func.lower(Person.first_name).like(_like_prefix(words[0]), escape="\\")
                        & func.lower(Person.last_name).like(_like_prefix(" ".join(words[1:])), escape="\\"))
    persons = session.scalars(select(Person).where(where).order_by(Person.last_name, Person.first_name, Person.id)
                              .limit(MAX_HITS)).all()
    cases: dict[int, list[tuple[str, str]]] = {}
    for client_id, number, status in session.execute(
        select(Case.client_id, Case.number, Case.status).where(Case.client_id.in_([p.id for p in persons]))
        .order_by(Case.id)
    ):
        cases.setdefault(client_id, []).append((number, str(status)))
    log_access(session, actor=actor, action="search", object_type=LOG_OBJECT, detail=f"hits={len(persons)}")
    return [SubjectHit(p.id, f"{p.first_name} {p.last_name}".strip(), p.email, p.city, p.legal_basis,
                       p.legal_basis_at, p.pseudonymised_at is not None, tuple(cases.get(p.id, ())))
            for p in persons]


def _persons(session: Session, *, email: str | None, person_ids: list[int] | None) -> list[Person]:
    if email and email.strip():
        where = func.lower(Person.email) == email.strip().lower()
    elif person_ids:
        where = Person.id.in_(person_ids)
    else:
        raise ValidationError(t("subject.no_selection"), field="email")
    persons = session.scalars(select(Person).where(where).order_by(Person.id)).all()
    if not persons:
        raise NotFound(t("subject.unknown", who=(email or "").strip() or ", ".join(map(str, person_ids or []))))
    return list(persons)


def _ref(persons: list[Person]) -> str:
    return "persons:" + ",".join(str(p.id) for p in persons)


# --- export ---------------------------------------------------------------------------------------------------


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _row(obj: object, fields: tuple[str, ...], **extra: object) -> dict:
    return _json_value({**{f: getattr(obj, f) for f in fields}, **extra})


PERSON_FIELDS = ("id", "first_name", "last_name", "email", "phone", "street", "postal_code", "city", "legal_basis",
                 "legal_basis_at", "pseudonymised_at", "created_at")
CASE_FIELDS = ("number", "status", "damage_type", "policy_number", "insurer_claim_number", "plate", "vin",
               "incident_date", "incident_description", "postal_code", "received_at", "claim_letter_sent_at", "paid_at",
               "closed_at", "cancelled_at", "appointment_at", "status_reason", "amount_claimed_cents",
               "amount_paid_cents", "deductible_cents", "legal_hold")


@dataclass(frozen=True)
class SubjectExport:
    """Everything held on the subject, JSON-ready (ISO 8601 dates, the same keys in every export)."""

    data: dict
    persons: int
    cases: int

    def to_json(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, indent=2).encode("utf-8")


def subject_export(session: Session, *, actor: Actor, reason: str, email: str | None = None,
                   person_ids: list[int] | None = None, at: datetime | None = None) -> SubjectExport:
    """Collect everything held on the subject (access-logged with the reason); NotFound for an unknown subject."""
    require(actor, Action.GDPR)
    reason = _reason(reason)
    persons = _persons(session, email=email, person_ids=person_ids)
    at = at or now()
    addresses = {p.email.strip().lower() for p in persons if p.email.strip()}
    cases = session.scalars(select(Case).where(Case.client_id.in_([p.id for p in persons])).order_by(Case.id)).all()
    users = dict(session.execute(select(User.id, User.username)).all())
    case_data = [_case_data(session, case, addresses=addresses, users=users) for case in cases]
    case_ids = [c.id for c in cases]
    loose = session.scalars(select(OutboxMessage).where(
        func.lower(OutboxMessage.recipient).in_(addresses),
        or_(OutboxMessage.case_id.is_(None), OutboxMessage.case_id.not_in(case_ids or [0])),
    ).order_by(OutboxMessage.id)).all() if addresses else []
    data = {
        "format": EXPORT_FORMAT,
        "generated_at": at.isoformat(),
        "generated_by": actor.username,
        "request": {"email": (email or "").strip(), "person_ids": [p.id for p in persons]},
        "persons": [_row(p, PERSON_FIELDS) for p in persons],
        "cases": case_data,
        "other_mails": [_mail(m) for m in loose],
        "inbound_mails": _inbound_mails(session, addresses=addresses, cases=cases),
        "client_links": t("subject.client_links_note"),
    }
    log_access(session, actor=actor, action="export", object_type=LOG_OBJECT, object_ref=_ref(persons),
               detail=f"reason={reason}; persons={len(persons)}; cases={len(cases)}")
    return SubjectExport(data=data, persons=len(persons), cases=len(cases))


def _inbound_mails(session: Session, *, addresses: set[str], cases: list[Case]) -> list[dict]:
    """The mails received from the subject's addresses or filed into their cases."""
    return [_row(v, ("sender", "sender_name", "subject", "sent_at", "received_at"), body_excerpt=v.excerpt,
                 dismiss_reason=v.dismiss_reason, mail_status=label(v.status), case=v.case_number,
                 attachments=list(v.attachments))
            for v in subject_mails(session, addresses=addresses, case_ids=[c.id for c in cases])]


def _mail(m: OutboxMessage) -> dict:
    return _row(m, ("recipient", "subject", "body", "template_key", "status", "created_at", "sent_at"),
                attachments=[a.get("filename", a.get("name", "")) if isinstance(a, dict) else str(a)
                             for a in (m.attachments or [])],
                client_link="{client_link:" in (m.body or ""))


def _case_data(session: Session, case: Case, *, addresses: set[str], users: dict[int, str]) -> dict:
    cid = case.id
    base = _row(case, CASE_FIELDS, person_id=case.client_id, insurer=case.insurer.name,
                broker=case.broker.name if case.broker else "", partner=case.partner.name if case.partner else "",
                clerk=case.clerk.display_name if case.clerk else "")
    docs = []
    version_ids = []
    for doc in session.scalars(select(Document).where(Document.case_id == cid).order_by(Document.id)):
        versions = session.scalars(select(DocumentVersion).where(DocumentVersion.document_id == doc.id)
                                   .order_by(DocumentVersion.version)).all()
        version_ids += [str(v.id) for v in versions]
        docs.append(_row(doc, ("kind", "title", "created_at"), versions=[
            _row(v, ("version", "original_name", "mime", "size", "sha256", "uploaded_at"),
                 uploaded_by=users.get(v.uploaded_by_id, "")) for v in versions]))
    mails = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == cid).order_by(OutboxMessage.id)).all()
    survey = session.scalar(select(SurveyAnswer).where(SurveyAnswer.case_id == cid))
    invoice = session.scalar(select(Invoice).where(Invoice.case_id == cid))
    log = session.scalars(select(AccessLog).where(or_(
        AccessLog.object_ref == case.number,
        (AccessLog.object_type == "document") & AccessLog.object_ref.in_(version_ids or ["-"]),
    )).order_by(AccessLog.id)).all()
    return {
        **base,
        "events": [_row(e, ("seq", "at", "actor_name", "actor_role", "action", "details", "redacted_at"))
                   for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.seq))],
        "notes": [_row(n, ("visibility", "body", "created_at"), author=users.get(n.author_id, ""))
                  for n in session.scalars(select(Note).where(Note.case_id == cid).order_by(Note.id))],
        "documents": docs,
        "tasks": [_row(x, ("title", "kind", "due_at", "created_at", "done_at"))
                  for x in session.scalars(select(Task).where(Task.case_id == cid).order_by(Task.id))],
        "insurer_queries": [_row(q, ("subject", "received_at", "due_at", "answered_at")) for q in session.scalars(
            select(InsurerQuery).where(InsurerQuery.case_id == cid).order_by(InsurerQuery.id))],
        "survey": _row(survey, ("score", "comment", "answered_at")) if survey else None,
        "callbacks": [_row(c, ("at", "caller", "status_at_call")) for c in session.scalars(
            select(CaseCallback).where(CaseCallback.case_id == cid).order_by(CaseCallback.id))],
        "assignments": [_row(a, ("origin", "reason", "assigned_at", "accepted_at", "declined_at", "decline_reason"),
                             partner=name) for a, name in session.execute(
            select(Assignment, Partner.name).join(Partner, Partner.id == Assignment.partner_id)
            .where(Assignment.case_id == cid).order_by(Assignment.id))],
        "invoice": _row(invoice, ("invoice_number", "invoice_date", "net_cents", "vat_cents", "gross_cents",
                                  "deductible_cents", "submitted_at")) if invoice else None,
        "mails": [_mail(m) for m in mails if m.recipient.strip().lower() in addresses],
        "recipients": [_row(m, ("recipient", "subject", "template_key", "status", "sent_at"))
                       for m in mails if m.recipient.strip().lower() not in addresses],
        "access_log": [_row(e, ("at", "username", "role", "action", "object_type"),
                            ip=e.ip if e.role == "client" else "") for e in log],
    }


def export_pdf(export: SubjectExport) -> bytes:
    """The export as a PDF (reports.subject_export)."""
    from reports.subject_export import subject_export_pdf

    return subject_export_pdf(export.data)


# --- erasure --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkippedCase:
    number: str
    reason: str  # legal_hold, open
    message: str  # German, with the legal ground


@dataclass(frozen=True)
class ErasureResult:
    dry_run: bool
    persons: int
    erased_cases: tuple[str, ...]  # personal data erased (or, dry run: would be)
    unchanged_cases: tuple[str, ...]  # nothing personal left to erase
    skipped: tuple[SkippedCase, ...]
    persons_pseudonymised: int
    counts: dict[str, int] = field(default_factory=dict)  # core.retention.CHANGE_CATEGORIES

    def lines(self) -> list[str]:
        """The outcome in German (CLI and page)."""
        head = "subject.dry_run_head" if self.dry_run else "subject.erased_head"
        out = [t(head, cases=len(self.erased_cases), persons=self.persons_pseudonymised)]
        out += [f"  {n}" for n in self.erased_cases]
        if self.unchanged_cases:
            out.append(t("subject.unchanged", numbers=", ".join(self.unchanged_cases)))
        if self.counts.get("inbound_mails"):
            out.append(t("subject.inbound_would_erase" if self.dry_run else "subject.inbound_erased",
                         count=self.counts["inbound_mails"]))
        out += [s.message for s in self.skipped]
        if self.skipped:
            out.append(t("subject.person_kept"))
        return out


def _skip_message(case: Case) -> SkippedCase | None:
    if case.legal_hold:
        return SkippedCase(case.number, "legal_hold", t("subject.skip_hold", number=case.number))
    if case.status in OPEN_STATUSES:
        return SkippedCase(case.number, "open", t("subject.skip_open", number=case.number,
                                                   status=label(case.status)))
    return None


def erase_subject(session: Session, *, actor: Actor, settings: Settings, reason: str, email: str | None = None,
                  person_ids: list[int] | None = None, dry_run: bool = False,
                  at: datetime | None = None) -> ErasureResult:
    """Erase the subject's personal data now (cases under legal hold and open cases are skipped, see the module
    docstring); access-logged with the reason, also a dry run. Flushes; files go after the caller's commit."""
    require(actor, Action.GDPR)
    reason = _reason(reason)
    persons = _persons(session, email=email, person_ids=person_ids)
    at = at or now()
    cases = list(session.scalars(
        select(Case).where(Case.client_id.in_([p.id for p in persons])).order_by(Case.id)
        .with_for_update(of=Case).execution_options(populate_existing=True)
    ))
    skipped = [s for s in map(_skip_message, cases) if s is not None]
    blocked_persons = {c.client_id for c in cases if c.number in {s.number for s in skipped}}
    takes = [c for c in cases if c.number not in {s.number for s in skipped}]
    pseudonymise = [p for p in persons if p.id not in blocked_persons and p.pseudonymised_at is None]
    # unfiled mails from an address only when no skipped case keeps a person with it (they may belong to that case)
    kept = {p.email.strip().lower() for p in persons if p.id in blocked_persons}
    addresses = {p.email.strip().lower() for p in persons if p.email.strip()} - kept
    erasure = erase_cases(session, actor=actor, settings=settings, cases=takes, at=at, dry_run=dry_run,
                          action="subject_erased", details={"persons": len(persons)},
                          keep_persons=frozenset(blocked_persons))
    if not dry_run:
        for person in (p for p in pseudonymise if p.pseudonymised_at is None):  # not done with a case
            person.first_name, person.last_name, person.email, person.phone = "", f"P-{person.id:06d}", "", ""
            person.street, person.postal_code, person.city = "", "", ""
            person.pseudonymised_at = at
        _delete_after_commit(session, list(erasure.files))
    inbound = erase_unfiled_from(session, actor=actor, settings=settings, addresses=addresses, dry_run=dry_run)
    result = ErasureResult(
        dry_run=dry_run, persons=len(persons), erased_cases=erasure.case_numbers,
        unchanged_cases=tuple(c.number for c in takes if c.number not in erasure.case_numbers),
        skipped=tuple(skipped), persons_pseudonymised=len(pseudonymise),
        counts={**erasure.counts, "inbound_mails": inbound},
    )
    counts = ", ".join(f"{k}={result.counts.get(k, 0)}" for k in CHANGE_CATEGORIES)
    log_access(session, actor=actor, action="erase_dry_run" if dry_run else "erase", object_type=LOG_OBJECT,
               object_ref=_ref(persons),
               detail=f"reason={reason}; erased={len(result.erased_cases)}; skipped={len(skipped)}; "
                      f"persons={len(pseudonymise)}; {counts}")
    session.flush()
    return result


_FILES_KEY = "sp_subject_erased_files"


def _delete_after_commit(session: Session, paths: list[Path]) -> None:
    """Delete these files once the outermost transaction committed; forget them if it rolls back."""
    if not paths:
        return
    if _FILES_KEY not in session.info:
        session.info[_FILES_KEY] = []
        event.listen(session, "after_commit", _delete_committed)
        event.listen(session, "after_transaction_end", _forget_uncommitted)
    session.info[_FILES_KEY].append(paths)


def _delete_committed(session: Session) -> None:
    if not session.in_nested_transaction():
        for paths in session.info[_FILES_KEY]:
            _delete_files(paths)
        session.info[_FILES_KEY].clear()


def _forget_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back (a commit already emptied the list): the files stay
        session.info[_FILES_KEY].clear()


# --- legal basis (Art. 6 DSGVO) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegalBasisView:
    basis: LegalBasis
    since: date  # Berlin day
    pseudonymised: bool
    may_change: bool


def _case_for(session: Session, actor: Actor, number: str, *, lock: bool) -> Case:
    """The case, if the actor works in the back office and may see it (locked to edit); NotFound otherwise."""
    from core.cases import lock_case

    number = (number or "").strip().upper()
    if lock:
        return lock_case(session, actor=actor, number=number, action=Action.EDIT_CASE)
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not can(actor, Action.VIEW_CASE, case) or not can(actor, Action.LIST_CASES):
        raise NotFound(t("case.refused"))
    return case


def case_legal_basis(session: Session, *, actor: Actor, number: str) -> LegalBasisView | None:
    """The legal basis of the case's client, for the back office; None for anyone else (nothing revealed)."""
    try:
        case = _case_for(session, actor, number, lock=False)
    except NotFound:
        return None
    person = case.client
    return LegalBasisView(person.legal_basis, to_berlin(person.legal_basis_at).date(),
                          person.pseudonymised_at is not None,
                          can(actor, Action.EDIT_CASE, case) and person.pseudonymised_at is None)


def set_legal_basis(session: Session, *, actor: Actor, number: str, basis: LegalBasis | str,
                    since: date) -> LegalBasisView:
    """Record the client's legal basis (contract or consent, e.g. consent given or withdrawn) from `since` on; the
    change goes into the case's events."""
    case = _case_for(session, actor, number, lock=True)
    if str(basis) not in LegalBasis._value2member_map_:
        raise ValidationError(t("intake.legal_basis_required"), field="legal_basis")
    basis = LegalBasis(str(basis))
    person = case.client
    if person.pseudonymised_at is not None:
        raise ValidationError(t("subject.basis_pseudonymised"), field="legal_basis")
    if since is None or since > to_berlin(now()).date():
        raise ValidationError(t("subject.basis_date_future"), field="since")
    old, old_since = person.legal_basis, to_berlin(person.legal_basis_at).date()
    if (old, old_since) != (basis, since):
        person.legal_basis, person.legal_basis_at = basis, berlin_midnight_utc(since)
        append_event(session, case=case, actor=actor, action="legal_basis_changed",
                     details={"from": str(old), "to": str(basis), "since": since.isoformat()})
        session.flush()
    return LegalBasisView(basis, since, False, True)
