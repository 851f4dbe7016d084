"""PDFs made from the database: the prefilled assignment declaration of an order and a partner's
settlement statement. Rendered on demand (download) or when a queued mail is sent, from the same data."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import log_access
from core.documents import DocumentUnavailable, download_document
from core.errors import NotFound
from core.i18n import label, t
from core.management_report import ATTACHMENT_KIND as MANAGEMENT_REPORT
from core.management_report import management_report_pdf, parse_month_ref
from core.order_mail import ATTACHMENT_KIND as DECLARATION
from core.orders import current_assignment
from core.permissions import Action, Actor, can
from core.settings import Settings
from core.settlements import ATTACHMENT_KIND as SETTLEMENT
from core.settlements import get_settlement
from core.timeutil import now, to_berlin
from db.models import Case, Partner
from reports.declaration import DeclarationData, assignment_declaration_pdf
from reports.settlement import (
    SettlementLineData,
    SettlementStatementData,
    settlement_pdf,
)

PDF = "application/pdf"
#: A stored document version (e.g. the archived claim letter), decrypted and checksum-checked when sent.
DOCUMENT_VERSION = "document_version"


@dataclass(frozen=True)
class RenderedFile:
    filename: str
    mime: str
    data: bytes


def _lines(*parts: str) -> str:
    return "\n".join(p for p in parts if p.strip())


def declaration_for(session: Session, case: Case) -> RenderedFile:
    """The declaration of the case's current order, prefilled (no access check: callers do it)."""
    partner = session.get(Partner, case.partner_id) if case.partner_id else None
    client = case.client
    data = DeclarationData(
        case_number=case.number, client_name=f"{client.first_name} {client.last_name}".strip(),
        client_address=_lines(client.street, f"{client.postal_code} {client.city}"), plate=case.plate, vin=case.vin,
        insurer=case.insurer.name, policy_number=case.policy_number, claim_number=case.insurer_claim_number,
        incident_date=case.incident_date, damage_type=label(case.damage_type),
        partner_name=partner.name if partner else "",
        partner_address=_lines(partner.street, f"{partner.postal_code} {partner.city}") if partner else "",
        created_on=to_berlin(now()).date(),
    )
    return RenderedFile(f"Abtretungserklaerung-{case.number}.pdf", PDF, assignment_declaration_pdf(data))


def download_declaration(session: Session, *, actor: Actor, number: str) -> RenderedFile | None:
    """The prefilled declaration for the order's partner or the back office, logged; None and a logged
    refusal otherwise (returned, not raised, so the caller commits the log entry, as in download_document)."""
    case = session.scalar(select(Case).where(Case.number == number.strip().upper()))
    allowed = case is not None and can(actor, Action.VIEW_CASE, case) and can(actor, Action.SUBMIT_INVOICE, case)
    if allowed and case.partner_id is not None and actor.partner_id is not None:
        current = current_assignment(session, case)
        allowed = current is not None and current.partner_id == actor.partner_id
    if not allowed or case.partner_id is None:
        log_access(session, actor=actor, action="refused", object_type="declaration", object_ref=number[:40])
        return None
    log_access(session, actor=actor, action="download", object_type="declaration", object_ref=case.number)
    return declaration_for(session, case)


def download_settlement(session: Session, *, actor: Actor, settlement_id: int) -> RenderedFile:
    """A settlement statement as PDF (a partner only its own); logged."""
    view = get_settlement(session, actor=actor, settlement_id=settlement_id)
    data = SettlementStatementData(
        statement_number=view.number, month=view.month, partner_name=view.partner,
        partner_address=view.partner_address, iban=view.iban, commission_bp=view.commission_bp,
        lines=tuple(
            SettlementLineData(
                case_number=line.case_number, paid_on=to_berlin(line.paid_at).date(),
                invoice_gross_cents=line.invoice_gross_cents, deductible_cents=line.deductible_cents,
                paid_cents=line.paid_cents, commission_cents=line.commission_cents, payout_cents=line.payout_cents,
            )
            for line in view.lines
        ),
        paid_in_cents=view.paid_in_cents, commission_cents=view.commission_cents, payout_cents=view.payout_cents,
        created_on=to_berlin(view.created_at).date(),
    )
    return RenderedFile(f"Abrechnung-{view.number}.pdf", PDF, settlement_pdf(data))


def render_attachment(session: Session, *, actor: Actor, spec: dict, settings: Settings | None = None) -> RenderedFile:
    """A queued mail's attachment ({"kind", "ref", "filename"}), rendered for sending by the worker
    (a stored document version needs `settings` to find and decrypt the file)."""
    if spec.get("kind") == DOCUMENT_VERSION:
        if settings is None:
            raise ValueError("a document_version attachment needs the settings")
        file = download_document(session, actor=actor, settings=settings, version_id=int(spec["ref"]))
        if file is None:
            raise DocumentUnavailable(t("doc.missing"))
        return RenderedFile(str(spec.get("filename") or file.filename), file.mime, file.data)
    if spec.get("kind") == DECLARATION:
        case = session.get(Case, int(spec["ref"]))
        if case is None:
            raise NotFound(t("case.refused"))
        return declaration_for(session, case)
    if spec.get("kind") == SETTLEMENT:
        return download_settlement(session, actor=actor, settlement_id=int(spec["ref"]))
    if spec.get("kind") == MANAGEMENT_REPORT:  # ref "YYYY-MM": the month's report, rendered now
        month = parse_month_ref(str(spec["ref"]))
        return RenderedFile(str(spec.get("filename") or f"Monatsbericht-{spec['ref']}.pdf"), PDF,
                            management_report_pdf(session, actor=actor, month=month))
    raise ValueError(f"unknown attachment kind {spec.get('kind')!r}")
