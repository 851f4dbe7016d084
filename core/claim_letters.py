"""The claim letter (Forderungsschreiben, §4): preview from the `claim_letter` template, then approve and send in
one transaction: the PDF is archived as the case's CLAIM_LETTER document, the mail to the insurer is queued with
exactly that stored version attached, and the case moves to `claim_sent`. The outbox row is the delivery record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.cases import change_status, lock_case
from core.documents import upload_document
from core.enums import CaseStatus, DocumentKind, Role
from core.errors import ConflictError, NotFound, TransitionError, ValidationError
from core.events import append_event
from core.i18n import label, t
from core.outbox import enqueue_mail
from core.permissions import Action, Actor, can, require
from core.settings import Settings
from core.templates import case_values, render
from core.timeutil import format_date, now, to_berlin
from db.models import Case, Invoice, OutboxMessage
from reports.claim_letter import ClaimLetterData, claim_letter_pdf

TEMPLATE = "claim_letter"
ATTACHMENT_KIND = "document_version"  # rendered by core.attachments from the stored, encrypted version
SENDER = "Schadenportal"
PAYMENT_DAYS = 14
SENDABLE = (CaseStatus.RECEIVED, CaseStatus.REVIEW)


@dataclass(frozen=True)
class ClaimLetterDraft:
    """What would be sent: recipient, subject, the letter's paragraphs, amount, and who approves it."""

    number: str
    version: int
    recipient: str
    subject: str
    paragraphs: tuple[str, ...]
    amount_claimed_cents: int
    signer: str
    signer_role: str
    signed: bool  # a lawyer's approval counts as signed
    data: ClaimLetterData


@dataclass(frozen=True)
class ClaimLetterSent:
    number: str
    document_version_id: int
    outbox_id: int
    recipient: str
    filename: str


@dataclass(frozen=True)
class DeliveryRecord:
    """The claim letter's mail as the outbox knows it; message id and sent time once the worker sent it."""

    recipient: str
    subject: str
    queued_at: datetime
    status: str
    message_id: str
    sent_at: datetime | None
    attempts: int
    last_error: str


def _file_name(number: str) -> str:
    return f"Forderungsschreiben-{number}.pdf"


def _check_sendable(case: Case) -> None:
    if case.status not in SENDABLE:
        raise TransitionError(t("claim.wrong_status", status=label(case.status)))
    if not case.amount_claimed_cents or case.amount_claimed_cents <= 0:
        raise ValidationError(t("claim.no_amount"), field="amount_claimed")
    if not case.insurer.email.strip():
        raise ValidationError(t("claim.no_insurer_email", insurer=case.insurer.name), field="insurer")


def _values(session: Session, case: Case) -> dict[str, object]:
    due = to_berlin(now()).date() + timedelta(days=PAYMENT_DAYS)
    return {**case_values(session, case), "versicherungsnummer": case.policy_number or "–",
            "zahlungsfrist": format_date(due)}


def _draft(session: Session, actor: Actor, case: Case, values: dict[str, object]) -> ClaimLetterDraft:
    _check_sendable(case)
    mail = render(session, key=TEMPLATE, values=values)
    paragraphs = tuple(p.strip() for p in mail.body.replace("\r\n", "\n").split("\n\n") if p.strip())
    invoice = session.scalar(select(Invoice).where(Invoice.case_id == case.id))
    client = case.client
    signed = can(actor, Action.SIGN_CLAIM_LETTER, case)
    role = label(Role(actor.role))
    data = ClaimLetterData(
        sender=SENDER, insurer_name=case.insurer.name, insurer_address=case.insurer.email,
        letter_date=to_berlin(now()).date(), case_number=case.number, claim_number=case.insurer_claim_number,
        policy_number=case.policy_number, client_name=f"{client.first_name} {client.last_name}".strip(),
        plate=case.plate, incident_date=case.incident_date, damage_type=label(case.damage_type),
        partner=case.partner.name if case.partner else "", subject=mail.subject, paragraphs=paragraphs,
        amount_claimed_cents=case.amount_claimed_cents,
        invoice_gross_cents=invoice.gross_cents if invoice else None,
        deductible_cents=invoice.deductible_cents if invoice else case.deductible_cents,
        signer_name=actor.display_name, signer_role=role, signed=signed,
    )
    return ClaimLetterDraft(case.number, case.version, case.insurer.email.strip(), mail.subject, paragraphs,
                            case.amount_claimed_cents, actor.display_name, role, signed, data)


def _case(session: Session, actor: Actor, number: str, *, lock: bool) -> Case:
    """The case if the actor may send its claim letter (locked for sending); NotFound revealing nothing."""
    number = number.strip().upper()
    if lock:
        return lock_case(session, actor=actor, number=number, action=Action.SEND_CLAIM_LETTER)
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    require(actor, Action.SEND_CLAIM_LETTER, case)
    return case


def preview_claim_letter(session: Session, *, actor: Actor, number: str) -> ClaimLetterDraft:
    """The letter as it would be sent now; refused (German message) if the case cannot get one yet."""
    case = _case(session, actor, number, lock=False)
    return _draft(session, actor, case, _values(session, case))


def send_claim_letter(
    session: Session, *, actor: Actor, settings: Settings, number: str, expected_version: int | None = None,
) -> ClaimLetterSent:
    """Approve and send: archive the PDF, queue the mail to the insurer with it, move the case to claim_sent."""
    case = _case(session, actor, number, lock=True)
    if expected_version is not None and case.version != expected_version:
        raise ConflictError(t("case.conflict"))
    values = _values(session, case)
    draft = _draft(session, actor, case, values)
    filename = _file_name(case.number)
    stored = upload_document(session, actor=actor, settings=settings, case_number=case.number,
                             kind=DocumentKind.CLAIM_LETTER, filename=filename, data=claim_letter_pdf(draft.data),
                             title=t("DocumentKind.claim_letter"))
    message = enqueue_mail(
        session, idempotency_key=f"claim-letter:{case.id}:{stored.id}", template_key=TEMPLATE,
        recipient=draft.recipient, values=values, case_id=case.id,
        attachments=[{"kind": ATTACHMENT_KIND, "ref": stored.id, "filename": filename}],
    )
    if case.status == CaseStatus.RECEIVED:  # passed through on the way: only claim_sent is mailed
        change_status(session, actor=actor, number=case.number, to=CaseStatus.REVIEW, send_mails=False)
    append_event(session, case=case, actor=actor, action="claim_letter_sent", details={
        "recipient": draft.recipient, "document_version": stored.version, "amount_claimed_cents":
        draft.amount_claimed_cents, "approved_by": actor.display_name, "signed": draft.signed,
    })
    change_status(session, actor=actor, number=case.number, to=CaseStatus.CLAIM_SENT)
    return ClaimLetterSent(case.number, stored.id, message.id, draft.recipient, filename)


def delivery_record(session: Session, *, actor: Actor, number: str) -> DeliveryRecord | None:
    """The latest claim letter mail of the case (None if none was queued)."""
    case = _case(session, actor, number, lock=False)
    row = session.scalar(
        select(OutboxMessage).where(OutboxMessage.case_id == case.id, OutboxMessage.template_key == TEMPLATE)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(1)
    )
    if row is None:
        return None
    return DeliveryRecord(row.recipient, row.subject, row.created_at, str(row.status), row.message_id, row.sent_at,
                          row.attempts, row.last_error)
