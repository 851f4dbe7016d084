"""Inbound insurer mail (§4): file a fetched message into its case, or hold it for staff ("Posteingang").

`process_message` handles one raw message in the caller's transaction: it first inserts the message's unique key
(INSERT … ON CONFLICT DO NOTHING), so a message seen before — also by another worker at the same moment, or
before a restart — is skipped ("duplicate"); then it matches the case (core.mail_matching) and either files the
mail or holds it. One message is one transaction: key, documents, events, task and held files commit together
or not at all (files written are deleted again on rollback, see core.documents).

Filed automatically only when exactly one case is named (case number or insurer claim number) and the sender is
known for that case: its insurer's address or mail domain, the client, the partner business or the broker (and
their logins). Everything else is held as unassigned: no match, several matches, unknown sender (a forged case
number from a stranger). Filing: each attachment becomes a LETTER document through the same upload checks as
any upload (a refused one is kept out and noted), a `letter_received` event is written, and an insurer query
(core.mail_matching.is_insurer_query) becomes `record_insurer_query` where the lifecycle allows the status
Rückfrage, otherwise a task to look at the letter. Accepted attachments of a held mail are kept encrypted under
`DATA_DIR/inbound` until staff assign the mail (filed like above) or dismiss it (files deleted after commit).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sqlalchemy import event, func, or_, select, update
from sqlalchemy.orm import Session

from core import documents
from core.audit import log_access
from core.correspondence import QUERY_ANSWER_DAYS, record_insurer_query
from core.enums import CaseStatus, DocumentKind
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import t
from core.lifecycle import is_allowed
from core.mail_matching import (
    ParsedMail,
    case_numbers,
    claim_tokens,
    excerpt,
    is_insurer_query,
    parse_mail,
    sender_matches,
)
from core.permissions import SYSTEM, Action, Actor, can, require
from core.settings import Settings
from core.tasks import create_task
from core.timeutil import now
from db.models import (
    Case,
    HoldReason,
    InboundAttachment,
    InboundMail,
    InboundMailStatus,
    Partner,
    User,
)

_DELETE_KEY = "sp_inbound_delete_after_commit"  # session.info: held files to delete once the transaction commits


class Outcome(StrEnum):
    FILED = "filed"
    UNASSIGNED = "unassigned"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class InboundMailView:
    id: int
    sender: str
    sender_name: str
    subject: str
    sent_at: datetime | None
    received_at: datetime
    excerpt: str
    status: InboundMailStatus
    hold_reason: HoldReason | None
    matched_numbers: tuple[str, ...]
    attachments: tuple[str, ...]  # accepted attachment names
    rejected: tuple[str, ...]  # "name: reason" of attachments kept out
    is_query: bool
    case_number: str
    handled_by: str
    dismiss_reason: str = ""


# --- held files --------------------------------------------------------------------------------


def inbound_dir(settings: Settings) -> Path:
    """Where the encrypted attachments of held mails live."""
    return settings.data_dir / "inbound"


def _hold_file(session: Session, *, settings: Settings, data: bytes) -> str:
    """Encrypt and write a held attachment; deleted again if the transaction does not commit."""
    return documents.store_encrypted(session, settings=settings, data=data, folder=inbound_dir(settings))


def _held_bytes(settings: Settings, attachment: InboundAttachment) -> bytes:
    return documents.stored_file(settings, stored_name=attachment.stored_name, sha256=attachment.sha256,
                                 folder=inbound_dir(settings))


def _release_held(session: Session, settings: Settings, attachment: InboundAttachment) -> None:
    """Forget a held file; it is deleted once the transaction commits (kept if it rolls back)."""
    if attachment.stored_name:
        if _DELETE_KEY not in session.info:
            session.info[_DELETE_KEY] = []
            event.listen(session, "after_commit", _delete_released)
            event.listen(session, "after_transaction_end", _forget_released)
        session.info[_DELETE_KEY].append(inbound_dir(settings) / attachment.stored_name)
    attachment.stored_name = None


def _delete_released(session: Session) -> None:
    if not session.in_nested_transaction():
        for path in session.info[_DELETE_KEY]:
            path.unlink(missing_ok=True)
        session.info[_DELETE_KEY].clear()


def _forget_released(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info[_DELETE_KEY].clear()


# --- processing --------------------------------------------------------------------------------


def _claim_key(session: Session, mail: ParsedMail) -> int | None:
    """Insert the message's row unless its key exists (race-free); its id, or None for a duplicate."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(InboundMail).values(
        message_key=mail.key, message_id=mail.message_id, sender=mail.sender[:254], sender_name=mail.sender_name,
        subject=mail.subject, sent_at=mail.sent_at, received_at=now(), body_excerpt=excerpt(mail.text),
        status=InboundMailStatus.UNASSIGNED, matched_numbers=[], rejected=[], is_query=False, handled_by_name="",
        dismiss_reason="",
    ).on_conflict_do_nothing(index_elements=["message_key"])
    return session.scalar(stmt.returning(InboundMail.id))


def _matching_cases(session: Session, mail: ParsedMail) -> list[Case]:
    """The cases the mail names by case number or insurer claim number."""
    numbers = case_numbers(mail.subject, mail.text)
    tokens = claim_tokens(mail.subject, mail.text)
    conditions = []
    if numbers:
        conditions.append(func.upper(Case.number).in_(numbers))
    if tokens:  # claim numbers as written and upper-cased, so the plain index serves
        conditions.append(Case.insurer_claim_number.in_(tokens | {tok.upper() for tok in tokens}))
    if not conditions:
        return []
    return list(session.scalars(select(Case).where(or_(*conditions)).order_by(Case.number).limit(10)))


def known_senders(session: Session, case: Case) -> set[str]:
    """The addresses a mail about this case may come from (besides the insurer's domain)."""
    addresses = {case.insurer.email, case.client.email}
    if case.partner_id is not None:
        addresses.add(session.get(Partner, case.partner_id).email)
        addresses |= set(session.scalars(select(User.email).where(User.partner_id == case.partner_id)))
    if case.broker_id is not None:
        addresses.add(case.broker.email)
        addresses |= set(session.scalars(select(User.email).where(User.broker_id == case.broker_id)))
    return {a.strip().lower() for a in addresses if a and a.strip()}


def _note(name: str, reason: str) -> dict:
    return {"name": (name or t("inmail.unnamed"))[:255], "reason": reason}


def _file(
    session: Session, *, actor: Actor, settings: Settings, row: InboundMail, case: Case,
    items: list[tuple[str, bytes, InboundAttachment | None]], as_query: bool,
) -> None:
    """File the mail into `case`: attachments as LETTER documents (refused ones noted), event, query or task."""
    rejected = list(row.rejected or [])
    filed = 0
    for name, data, held in items:
        try:
            version = documents.upload_document(
                session, actor=actor, settings=settings, case_number=case.number, kind=DocumentKind.LETTER,
                filename=name or t("inmail.unnamed"), data=data,
            )
        except ValidationError as exc:  # nothing of it was written
            rejected.append(_note(name, str(exc)))
            if held is not None:
                _release_held(session, settings, held)
            continue
        filed += 1
        if held is None:
            held = InboundAttachment(mail_id=row.id, filename=name[:255], mime=version.mime, size=version.size,
                                     sha256=hashlib.sha256(data).hexdigest())
            session.add(held)
        else:
            _release_held(session, settings, held)
        held.document_version_id = version.id
    row.rejected, row.case_id = rejected, case.id
    details = {"subject": row.subject, "documents": filed, "rejected": len(rejected), "query": as_query,
               "mail": row.id}
    if rejected:
        details["reason"] = "; ".join(f"{r['name']}: {r['reason']}" for r in rejected)
    append_event(session, case=case, actor=actor, action="letter_received", details=details)
    if as_query:
        subject = row.subject or t("inmail.query_subject")
        if is_allowed(case.status, CaseStatus.INSURER_QUERY):
            record_insurer_query(session, actor=actor, number=case.number, subject=subject)
        else:  # e.g. already in Rückfrage, or no claim sent yet: staff look at it within the same deadline
            create_task(session, actor=actor, case=case, title=t("inmail.task", subject=subject), kind="letter",
                        due_at=now() + timedelta(days=QUERY_ANSWER_DAYS), notify_client=False)
    session.flush()


def _hold(session: Session, *, settings: Settings, row: InboundMail, mail: ParsedMail, reason: HoldReason) -> None:
    """Keep the mail for staff: accepted attachments stored encrypted, refused ones noted."""
    row.status, row.hold_reason = InboundMailStatus.UNASSIGNED, reason
    rejected = list(row.rejected or [])
    for attachment in mail.attachments:
        try:
            detected = documents.detect_upload(attachment.data, attachment.filename or t("inmail.unnamed"),
                                               max_bytes=settings.upload_max_mb * 1024 * 1024)
        except ValidationError as exc:
            rejected.append(_note(attachment.filename, str(exc)))
            continue
        session.add(InboundAttachment(
            mail_id=row.id, filename=detected.original_name[:255], mime=detected.mime, size=detected.size,
            sha256=hashlib.sha256(attachment.data).hexdigest(),
            stored_name=_hold_file(session, settings=settings, data=attachment.data),
        ))
    row.rejected = rejected
    session.flush()


def process_message(session: Session, *, settings: Settings, raw: bytes, oversized_bytes: int = 0) -> Outcome:
    """File one fetched message into its case or hold it for staff; a message processed before is skipped.
    `oversized_bytes`: the message was too large to fetch, `raw` is only its header; it is held."""
    mail = parse_mail(raw)
    mail_id = _claim_key(session, mail)
    if mail_id is None:
        return Outcome.DUPLICATE
    row = session.get(InboundMail, mail_id)
    cases = _matching_cases(session, mail)
    row.matched_numbers = [c.number for c in cases]
    row.is_query = is_insurer_query(mail.subject, mail.text)
    if mail.refused_parts:
        row.rejected = [_note(t("inmail.more_parts", count=mail.refused_parts), t("inmail.too_many_parts"))]
    if oversized_bytes:
        row.rejected = [_note(t("inmail.whole_mail"), t("inmail.too_large", mb=f"{oversized_bytes / 2**20:.0f}"))]
    if oversized_bytes or len(cases) != 1:
        reason = HoldReason.TOO_LARGE if oversized_bytes else (
            HoldReason.NO_MATCH if not cases else HoldReason.SEVERAL_MATCHES)
        _hold(session, settings=settings, row=row, mail=mail, reason=reason)
        return Outcome.UNASSIGNED
    [case] = cases
    if not sender_matches(mail.sender, known=known_senders(session, case), insurer_address=case.insurer.email):
        _hold(session, settings=settings, row=row, mail=mail, reason=HoldReason.UNKNOWN_SENDER)
        return Outcome.UNASSIGNED
    row.status = InboundMailStatus.FILED
    _file(session, actor=SYSTEM, settings=settings, row=row, case=case,
          items=[(a.filename, a.data, None) for a in mail.attachments], as_query=row.is_query)
    return Outcome.FILED


# --- staff services ----------------------------------------------------------------------------


def _open_mail(session: Session, mail_id: int) -> InboundMail:
    row = session.scalar(select(InboundMail).where(InboundMail.id == mail_id).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None or row.status != InboundMailStatus.UNASSIGNED:
        raise ValidationError(t("inmail.already_handled"))
    return row


def _held_attachments(session: Session, row: InboundMail) -> list[InboundAttachment]:
    return list(session.scalars(select(InboundAttachment).where(
        InboundAttachment.mail_id == row.id, InboundAttachment.stored_name.is_not(None)).order_by(InboundAttachment.id)))


def _handled(row: InboundMail, actor: Actor, status: InboundMailStatus) -> None:
    row.status, row.handled_at = status, now()
    row.handled_by_id, row.handled_by_name = actor.user_id, actor.display_name[:200]


def assign_inbound_mail(
    session: Session, *, actor: Actor, settings: Settings, mail_id: int, case_number: str, as_query: bool = False,
) -> str:
    """File a held mail into the case staff name (as automatic filing does); returns the case number."""
    require(actor, Action.HANDLE_INBOUND_MAIL)
    number = case_number.strip().upper()
    if not number:
        raise ValidationError(t("inmail.number_required"), field="case_number")
    row = _open_mail(session, mail_id)
    case = session.scalar(select(Case).where(func.upper(Case.number) == number))
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    items = [(a.filename, _held_bytes(settings, a), a) for a in _held_attachments(session, row)]
    _handled(row, actor, InboundMailStatus.ASSIGNED)
    _file(session, actor=actor, settings=settings, row=row, case=case, items=items, as_query=as_query)
    return case.number


def dismiss_inbound_mail(session: Session, *, actor: Actor, settings: Settings, mail_id: int, reason: str) -> None:
    """Staff decide a held mail belongs to no case: it is closed with the reason, its held files deleted."""
    require(actor, Action.HANDLE_INBOUND_MAIL)
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError(t("inmail.reason_required"), field="reason")
    row = _open_mail(session, mail_id)
    for attachment in _held_attachments(session, row):
        _release_held(session, settings, attachment)
    _handled(row, actor, InboundMailStatus.DISMISSED)
    row.dismiss_reason = reason[:500]
    session.flush()


def erase_unfiled_from(session: Session, *, actor: Actor, settings: Settings, addresses: set[str],
                       dry_run: bool = False) -> int:
    """Data-subject erasure (core.subject_rights): the mails from these addresses that were never filed into a
    case (held or dismissed; filed ones go with their case) are blanked. Returns how many (a dry run changes
    nothing)."""
    if not addresses:
        return 0
    return _blank_where(session, actor=actor, settings=settings, dry_run=dry_run,
                        where=[InboundMail.case_id.is_(None), func.lower(InboundMail.sender).in_(sorted(addresses))])


def blank_dismissed(session: Session, *, actor: Actor, settings: Settings, before: datetime,
                    dry_run: bool = False) -> int:
    """Retention (core.retention): mails dismissed before `before` (they belong to no case; the period is the
    cases' RETENTION_MONTHS after their end) are blanked. Returns how many (a dry run changes nothing)."""
    return _blank_where(session, actor=actor, settings=settings, dry_run=dry_run, where=[
        InboundMail.case_id.is_(None), InboundMail.status == InboundMailStatus.DISMISSED,
        InboundMail.handled_at < before,
        or_(InboundMail.sender != "", InboundMail.subject != "", InboundMail.body_excerpt != "")])


def subject_mails(session: Session, *, addresses: set[str], case_ids: list[int]) -> list[InboundMailView]:
    """The mails received from these addresses or filed into these cases (a data-subject export)."""
    rows = list(session.scalars(select(InboundMail).where(or_(
        InboundMail.case_id.in_(case_ids), func.lower(InboundMail.sender).in_(sorted(addresses))))
        .order_by(InboundMail.id)))
    return _views(session, rows)


def _blank_where(session: Session, *, actor: Actor, settings: Settings, where: list, dry_run: bool) -> int:
    rows = list(session.scalars(select(InboundMail).where(*where).order_by(InboundMail.id).with_for_update()))
    if not dry_run:
        _blank(session, actor=actor, settings=settings, rows=rows)
    return len(rows)


def _blank(session: Session, *, actor: Actor, settings: Settings, rows: list[InboundMail]) -> None:
    """Sender, subject, text and attachment names go, held files once the transaction commits; a held mail is
    closed as dismissed. The message key stays, so the same message is not fetched again."""
    for row in rows:
        for attachment in _held_attachments(session, row):
            _release_held(session, settings, attachment)
        if row.status == InboundMailStatus.UNASSIGNED:
            _handled(row, actor, InboundMailStatus.DISMISSED)
            row.dismiss_reason = t("inmail.erased_reason")
        row.message_id = row.sender = row.sender_name = row.subject = row.body_excerpt = ""
        row.matched_numbers, row.rejected = [], []
    if rows:
        session.execute(update(InboundAttachment).where(InboundAttachment.mail_id.in_([r.id for r in rows]))
                        .values(filename=""))
    session.flush()


def _views(session: Session, rows: list[InboundMail]) -> list[InboundMailView]:
    ids = [r.id for r in rows]
    names: dict[int, list[str]] = {}
    for mail_id, filename in session.execute(select(InboundAttachment.mail_id, InboundAttachment.filename)
                                             .where(InboundAttachment.mail_id.in_(ids)).order_by(InboundAttachment.id)):
        names.setdefault(mail_id, []).append(filename)
    case_ids = {r.case_id for r in rows if r.case_id is not None}
    numbers = {case_id: number for case_id, number in session.execute(
        select(Case.id, Case.number).where(Case.id.in_(case_ids)))} if case_ids else {}
    return [
        InboundMailView(
            id=r.id, sender=r.sender, sender_name=r.sender_name, subject=r.subject, sent_at=r.sent_at,
            received_at=r.received_at, excerpt=r.body_excerpt, status=r.status, hold_reason=r.hold_reason,
            matched_numbers=tuple(r.matched_numbers or ()), attachments=tuple(names.get(r.id, ())),
            rejected=tuple(f"{n['name']}: {n['reason']}" for n in r.rejected or ()), is_query=r.is_query,
            case_number=numbers.get(r.case_id, ""), handled_by=r.handled_by_name or t("inmail.system"),
            dismiss_reason=r.dismiss_reason,
        )
        for r in rows
    ]


def list_unassigned_mail(session: Session, *, actor: Actor, limit: int = 100) -> list[InboundMailView]:
    """The held mails waiting for staff, oldest first (whoever shows them logs it: log_mail_lists)."""
    require(actor, Action.HANDLE_INBOUND_MAIL)
    rows = list(session.scalars(select(InboundMail).where(InboundMail.status == InboundMailStatus.UNASSIGNED)
                                .order_by(InboundMail.received_at, InboundMail.id).limit(limit)))
    return _views(session, rows)


def log_mail_lists(session: Session, *, actor: Actor, held: list[InboundMailView],
                   filed: list[InboundMailView]) -> None:
    """Record that the Posteingang showed senders and subjects (§10): one access-log row per list that is not
    empty ("unassigned", "filed"), with the ids of the mails shown, as many as fit."""
    require(actor, Action.HANDLE_INBOUND_MAIL)
    for ref, mails in (("unassigned", held), ("filed", filed)):
        if mails:
            ids = ", ".join(str(m.id) for m in mails)
            detail = f"{len(mails)}: {ids if len(ids) <= 480 else ids[:ids.rfind(', ', 0, 478)] + ', …'}"
            log_access(session, actor=actor, action="list", object_type="inbound_mail", object_ref=ref, detail=detail)


def list_filed_mail(session: Session, *, actor: Actor, limit: int = 20) -> list[InboundMailView]:
    """The mails filed most recently, automatically or by staff, newest first (logged by whoever shows them)."""
    require(actor, Action.HANDLE_INBOUND_MAIL)
    rows = list(session.scalars(
        select(InboundMail).where(InboundMail.status.in_([InboundMailStatus.FILED, InboundMailStatus.ASSIGNED]))
        .order_by(InboundMail.received_at.desc(), InboundMail.id.desc()).limit(limit)))
    return _views(session, rows)
