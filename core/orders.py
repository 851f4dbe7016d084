"""A partner's work on its order: appointment, "Auftrag durchgeführt", the invoice with its data and the
signed assignment declaration (glass shops, workshops) or the appraisal report (appraisers).

Staff may do the same on a partner's behalf (an invoice that came by post). Every write locks the case row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import webhooks
from core.cases import lock_case
from core.documents import add_document
from core.enums import OPEN_STATUSES, DocumentKind, PartnerKind, Role
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import label, t
from core.money import format_eur
from core.permissions import Action, Actor, can
from core.settings import Settings
from core.tasks import create_task
from core.timeutil import BERLIN, now, to_berlin
from db.models import (
    Assignment,
    Case,
    Document,
    DocumentVersion,
    Invoice,
    Partner,
    SettlementLine,
)

#: VAT rates an invoice may carry (0: small business under §19 UStG); one cent of rounding either way.
VAT_RATES_BP = (1900, 700, 0)
APPOINTMENT_HORIZON = timedelta(days=365)
INVOICE_CHECK_DUE = timedelta(days=1)

#: What a partner sends with its invoice: the client's signed declaration, or the appraiser's report.
COMPANION: dict[PartnerKind, DocumentKind] = {
    PartnerKind.GLASS: DocumentKind.ASSIGNMENT,
    PartnerKind.WORKSHOP: DocumentKind.ASSIGNMENT,
    PartnerKind.APPRAISER: DocumentKind.REPORT,
}


@dataclass(frozen=True)
class InvoiceInput:
    invoice_number: str
    invoice_date: date | None
    net_cents: int
    vat_cents: int
    gross_cents: int
    deductible_cents: int = 0
    input_tax_client: bool = False
    workshop_bond: bool = False


@dataclass(frozen=True)
class InvoiceView:
    invoice_number: str
    invoice_date: date
    net_cents: int
    vat_cents: int
    gross_cents: int
    deductible_cents: int
    input_tax_client: bool
    workshop_bond: bool
    claimable_cents: int
    submitted_at: datetime
    settled: bool


@dataclass(frozen=True)
class OrderView:
    """The order part of the case page."""

    partner: str
    partner_kind: PartnerKind | None
    state: str  # "open" (waiting for accept/decline), "accepted", "" (no current order)
    appointment_at: datetime | None
    work_done_at: datetime | None
    invoice: InvoiceView | None
    companion_kind: DocumentKind | None
    companion_present: bool
    may_respond: bool  # the actor works this order (its partner, or staff on its behalf)


def claimable_cents(invoice: InvoiceInput | Invoice) -> int:
    """What the insurer is asked to pay: the invoice less the deductible kept on site, and less the VAT when
    the client may deduct input tax (the portal collects the VAT from the client then)."""
    base = invoice.net_cents if invoice.input_tax_client else invoice.gross_cents
    return max(base - invoice.deductible_cents, 0)


def validate_invoice(data: InvoiceInput, *, today: date, not_before: date | None) -> InvoiceInput:
    """The invoice data, checked: number, date, net + VAT = gross, a usual VAT rate, deductible ≤ gross."""
    number = " ".join(data.invoice_number.split())
    if not number:
        raise ValidationError(t("invoice.number_required"), field="invoice_number")
    if len(number) > 50:
        raise ValidationError(t("invoice.number_too_long"), field="invoice_number")
    if data.invoice_date is None:
        raise ValidationError(t("invoice.date_required"), field="invoice_date")
    if data.invoice_date > today:
        raise ValidationError(t("invoice.date_future"), field="invoice_date")
    if not_before is not None and data.invoice_date < not_before:
        raise ValidationError(t("invoice.date_before_incident"), field="invoice_date")
    for field, cents in (("net", data.net_cents), ("vat", data.vat_cents), ("gross", data.gross_cents),
                         ("deductible", data.deductible_cents)):
        if cents < 0:
            raise ValidationError(t("invoice.negative"), field=field)
    if data.net_cents == 0:
        raise ValidationError(t("invoice.net_required"), field="net")
    if data.net_cents + data.vat_cents != data.gross_cents:
        raise ValidationError(
            t("invoice.sum", net=format_eur(data.net_cents), vat=format_eur(data.vat_cents),
              expected=format_eur(data.net_cents + data.vat_cents), gross=format_eur(data.gross_cents)),
            field="gross",
        )
    if not any(abs(data.vat_cents - _vat(data.net_cents, bp)) <= 1 for bp in VAT_RATES_BP):
        raise ValidationError(t("invoice.vat_rate", expected=format_eur(_vat(data.net_cents, 1900))), field="vat")
    if data.deductible_cents > data.gross_cents:
        raise ValidationError(t("invoice.deductible_too_high"), field="deductible")
    return InvoiceInput(number, data.invoice_date, data.net_cents, data.vat_cents, data.gross_cents,
                        data.deductible_cents, data.input_tax_client, data.workshop_bond)


def _vat(net_cents: int, bp: int) -> int:
    return (net_cents * bp + 5_000) // 10_000


# --- reading --------------------------------------------------------------------------------------------


def current_assignment(session: Session, case: Case) -> Assignment | None:
    """The case's live assignment (not declined), if any."""
    return session.scalar(
        select(Assignment).where(Assignment.case_id == case.id, Assignment.declined_at.is_(None))
        .order_by(Assignment.assigned_at.desc(), Assignment.id.desc()).limit(1)
    )


def order_view(session: Session, *, actor: Actor, case: Case) -> OrderView | None:
    """The order of a case as this actor may see it; None for roles that have nothing to do with orders."""
    if not (can(actor, Action.SUBMIT_INVOICE, case) or can(actor, Action.LIST_CASES)):
        return None
    current = current_assignment(session, case) if case.partner_id else None
    partner = session.get(Partner, case.partner_id) if case.partner_id else None
    if actor.role == Role.PARTNER and (current is None or current.partner_id != actor.partner_id):
        return None
    companion = COMPANION.get(partner.kind) if partner else None
    invoice = session.scalar(select(Invoice).where(Invoice.case_id == case.id))
    return OrderView(
        partner=partner.name if partner else "",
        partner_kind=partner.kind if partner else None,
        state="" if current is None else ("accepted" if current.accepted_at else "open"),
        appointment_at=case.appointment_at,
        work_done_at=case.work_done_at,
        invoice=_invoice_view(session, invoice) if invoice else None,
        companion_kind=companion,
        companion_present=companion is not None and _has_document(session, case.id, companion),
        may_respond=current is not None and can(actor, Action.SUBMIT_INVOICE, case),
    )


def _invoice_view(session: Session, inv: Invoice) -> InvoiceView:
    settled = session.scalar(select(SettlementLine.id).where(SettlementLine.case_id == inv.case_id)) is not None
    return InvoiceView(inv.invoice_number, inv.invoice_date, inv.net_cents, inv.vat_cents, inv.gross_cents,
                       inv.deductible_cents, inv.input_tax_client, inv.workshop_bond, claimable_cents(inv),
                       inv.submitted_at, settled)


def _has_document(session: Session, case_id: int, kind: DocumentKind) -> bool:
    return session.scalar(
        select(DocumentVersion.id).join(Document, Document.id == DocumentVersion.document_id)
        .where(Document.case_id == case_id, Document.kind == kind).limit(1)
    ) is not None


# --- writing --------------------------------------------------------------------------------------------


def _accepted_order(session: Session, actor: Actor, number: str) -> tuple[Case, Assignment]:
    """The locked case and its accepted assignment; partners only their own, staff any."""
    case = lock_case(session, actor=actor, number=number.strip().upper(), action=Action.SUBMIT_INVOICE)
    current = current_assignment(session, case)
    if current is None or (actor.role == Role.PARTNER and current.partner_id != actor.partner_id):
        raise NotFound(t("case.refused"))
    if current.accepted_at is None:
        raise ValidationError(t("order.accept_first"))
    if case.status not in OPEN_STATUSES:
        raise ValidationError(t("order.case_finished", status=label(case.status)))
    return case, current


def set_appointment(session: Session, *, actor: Actor, number: str, when: datetime) -> None:
    """Record the appointment with the client (Europe/Berlin time from the form)."""
    case, _ = _accepted_order(session, actor, number)
    if when.tzinfo is None:
        when = when.replace(tzinfo=BERLIN)
    if when < case.received_at - timedelta(days=1) or when > now() + APPOINTMENT_HORIZON:
        raise ValidationError(t("order.appointment_range"), field="appointment")
    case.appointment_at = when
    append_event(session, case=case, actor=actor, action="appointment_set",
                 details={"at": to_berlin(when).strftime("%d.%m.%Y %H:%M")})


def report_work_done(session: Session, *, actor: Actor, number: str) -> None:
    """The partner reports "Auftrag durchgeführt" (a second report changes nothing)."""
    case, _ = _accepted_order(session, actor, number)
    if case.work_done_at is None:
        case.work_done_at = now()
        append_event(session, case=case, actor=actor, action="work_done", details={})


def submit_invoice(
    session: Session, *, actor: Actor, settings: Settings, number: str, data: InvoiceInput,
    invoice_file: tuple[str, bytes] | None, companion_file: tuple[str, bytes] | None = None,
) -> InvoiceView:
    """Invoice data and file (plus the signed declaration or the report where the case has none yet), in one
    transaction; sets the deductible and, if not yet set, the amount to claim; a task for the clerk."""
    case, current = _accepted_order(session, actor, number)
    data = validate_invoice(data, today=to_berlin(now()).date(), not_before=case.incident_date)
    if session.scalar(select(SettlementLine.id).where(SettlementLine.case_id == case.id)) is not None:
        raise ValidationError(t("invoice.settled"))
    invoice = session.scalar(select(Invoice).where(Invoice.case_id == case.id))
    if invoice_file is None and invoice is None:
        raise ValidationError(t("invoice.file_required"), field="invoice_file")
    partner = session.get(Partner, current.partner_id)
    companion = COMPANION[partner.kind]
    if companion_file is None and not _has_document(session, case.id, companion):
        raise ValidationError(t(f"invoice.companion_required.{companion.value}"), field="companion_file")
    version_id = invoice.document_version_id if invoice else None
    if invoice_file is not None:
        version_id = add_document(session, actor=actor, settings=settings, number=case.number,
                                  kind=DocumentKind.INVOICE, filename=invoice_file[0], data=invoice_file[1]).id
    if companion_file is not None:
        add_document(session, actor=actor, settings=settings, number=case.number, kind=companion,
                     filename=companion_file[0], data=companion_file[1])
    if invoice is None:
        invoice = Invoice(case_id=case.id, partner_id=partner.id)
        session.add(invoice)
    for field in ("invoice_number", "invoice_date", "net_cents", "vat_cents", "gross_cents", "deductible_cents",
                  "input_tax_client", "workshop_bond"):
        setattr(invoice, field, getattr(data, field))
    invoice.document_version_id, invoice.submitted_at, invoice.submitted_by_id = version_id, now(), actor.user_id
    case.deductible_cents = data.deductible_cents
    if case.amount_claimed_cents is None and case.paid_at is None:
        case.amount_claimed_cents = claimable_cents(data)
    append_event(session, case=case, actor=actor, action="invoice_submitted", details={
        "invoice_number": data.invoice_number, "gross_cents": data.gross_cents,
        "deductible_cents": data.deductible_cents, "input_tax_client": data.input_tax_client,
        "workshop_bond": data.workshop_bond,
    })
    webhooks.emit(session, event="invoice.submitted", case=case, data={"gross_cents": data.gross_cents})
    if case.clerk_id is not None:
        create_task(session, actor=actor, case=case, kind="invoice", assignee_id=case.clerk_id,
                    title=t("invoice.check_task", number=data.invoice_number), due_at=now() + INVOICE_CHECK_DUE)
    session.flush()
    return _invoice_view(session, invoice)
