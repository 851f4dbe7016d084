"""Monthly settlements (Abrechnungen) with the partners: what insurers paid for their orders, what the
portal keeps (its commission, in basis points of the payment), and what is paid out.

A case is settled once: its line is written into the first statement made after its payment. The statement
keeps the partner's name, address and IBAN as they were, so the PDF can be rendered again identically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import log_access
from core.enums import SettlementStatus
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import t
from core.money import format_eur
from core.outbox import enqueue_mail
from core.permissions import Action, Actor, can, require
from core.timeutil import berlin_midnight_utc, now, to_berlin
from db.models import Case, Invoice, Partner, Settlement, SettlementLine

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
ATTACHMENT_KIND = "settlement"


@dataclass(frozen=True)
class LineView:
    case_number: str
    paid_at: datetime
    invoice_gross_cents: int | None
    deductible_cents: int
    paid_cents: int
    commission_cents: int
    payout_cents: int


@dataclass(frozen=True)
class SettlementView:
    id: int
    number: str
    month: str
    partner_id: int
    partner: str
    partner_address: str
    iban: str
    commission_bp: int
    paid_in_cents: int
    commission_cents: int
    payout_cents: int
    status: SettlementStatus
    created_at: datetime
    paid_at: datetime | None
    paid_reference: str
    lines: tuple[LineView, ...] = ()


def commission_cents(paid_cents: int, commission_bp: int) -> int:
    """The portal's share of a payment, rounded half up to the cent (1000 bp = 10 %)."""
    return (paid_cents * commission_bp + 5_000) // 10_000


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in Europe/Berlin, as UTC instants; ValidationError if malformed."""
    match = _MONTH.match(month.strip())
    if not match:
        raise ValidationError(t("settle.bad_month"), field="month")
    year, mon = int(match[1]), int(match[2])
    following = date(year + (mon == 12), mon % 12 + 1, 1)
    return berlin_midnight_utc(date(year, mon, 1)), berlin_midnight_utc(following)


def statement_number(settlement: Settlement) -> str:
    """The statement's number as printed, e.g. A-2026-10-0007."""
    return f"A-{settlement.month}-{settlement.id:04d}"


def create_settlements(session: Session, *, actor: Actor, month: str, at: datetime | None = None) -> list[SettlementView]:
    """A statement for every partner with paid, not yet settled orders up to the end of `month` (a month
    that is over); each is mailed to the partner with its PDF. Partners already settled for the month are
    skipped (their later payments go into the next month's statement)."""
    require(actor, Action.MANAGE_SETTLEMENTS)
    start, end = month_bounds(month)
    if end > (at or now()):
        raise ValidationError(t("settle.month_not_over"), field="month")
    settled = select(SettlementLine.case_id)
    done_this_month = select(Settlement.partner_id).where(Settlement.month == month)
    rows = session.execute(
        select(Case, Invoice.gross_cents)
        .outerjoin(Invoice, Invoice.case_id == Case.id)
        .where(Case.partner_id.is_not(None), Case.paid_at.is_not(None), Case.paid_at < end,
               Case.amount_paid_cents > 0, Case.id.not_in(settled), Case.partner_id.not_in(done_this_month))
        .order_by(Case.partner_id, Case.paid_at, Case.id)
    ).all()
    by_partner: dict[int, list[tuple[Case, int | None]]] = {}
    for case, gross in rows:
        by_partner.setdefault(case.partner_id, []).append((case, gross))
    created = [_settle(session, actor, session.get(Partner, pid), month, items) for pid, items in by_partner.items()]
    return [_view(session, s) for s in created]


def _settle(session: Session, actor: Actor, partner: Partner, month: str, items: list) -> Settlement:
    settlement = Settlement(
        partner_id=partner.id, month=month, commission_bp=partner.commission_bp, paid_in_cents=0,
        commission_cents=0, payout_cents=0, created_by_id=actor.user_id, created_at=now(),
        partner_snapshot={"name": partner.name, "street": partner.street, "postal_code": partner.postal_code,
                          "city": partner.city, "iban": partner.iban, "email": partner.email},
    )
    session.add(settlement)
    session.flush()
    for case, gross in items:
        paid = case.amount_paid_cents
        kept = commission_cents(paid, partner.commission_bp)
        session.add(SettlementLine(
            settlement_id=settlement.id, case_id=case.id, case_number=case.number, paid_at=case.paid_at,
            invoice_gross_cents=gross, deductible_cents=case.deductible_cents or 0, paid_cents=paid,
            commission_cents=kept, payout_cents=paid - kept,
        ))
        settlement.paid_in_cents += paid
        settlement.commission_cents += kept
        settlement.payout_cents += paid - kept
        append_event(session, case=case, actor=actor, action="settled",
                     details={"statement": statement_number(settlement), "payout_cents": paid - kept})
    session.flush()
    if partner.email:
        enqueue_mail(
            session, idempotency_key=f"settlement:{settlement.id}", template_key="settlement_ready",
            recipient=partner.email,
            values={"betrieb": partner.name, "monat": month_label(month), "betrag": format_eur(settlement.payout_cents),
                    "iban": partner.iban or "–"},
            attachments=[{"kind": ATTACHMENT_KIND, "ref": settlement.id,
                          "filename": f"Abrechnung-{statement_number(settlement)}.pdf"}],
        )
    return settlement


def month_label(month: str) -> str:
    """"2026-10" -> "Oktober 2026"."""
    year, mon = month.split("-")
    return f"{t(f'pdf.month.{int(mon)}')} {year}"


def list_settlements(
    session: Session, *, actor: Actor, month: str | None = None, status: SettlementStatus | None = None,
) -> list[SettlementView]:
    """Statements for the back office (newest month first), or a partner's own."""
    stmt = select(Settlement).order_by(Settlement.month.desc(), Settlement.id.desc())
    if not can(actor, Action.MANAGE_SETTLEMENTS):
        require(actor, Action.VIEW_OWN_SETTLEMENTS)
        stmt = stmt.where(Settlement.partner_id == (actor.partner_id or -1))
    if month:
        month_bounds(month)
        stmt = stmt.where(Settlement.month == month)
    if status is not None:
        stmt = stmt.where(Settlement.status == status)
    return [_view(session, s, with_lines=False) for s in session.scalars(stmt.limit(500))]


def get_settlement(session: Session, *, actor: Actor, settlement_id: int) -> SettlementView:
    """One statement with its lines; a partner only its own (anything else is "not found"). Logged."""
    settlement = session.get(Settlement, settlement_id)
    if settlement is None or not _may_read(actor, settlement):
        log_access(session, actor=actor, action="refused", object_type="settlement", object_ref=str(settlement_id))
        raise NotFound(t("settle.not_found"))
    log_access(session, actor=actor, action="view", object_type="settlement", object_ref=str(settlement_id))
    return _view(session, settlement)


def mark_settlement_paid(session: Session, *, actor: Actor, settlement_id: int, reference: str) -> SettlementView:
    """The payout was transferred (with the bank reference); a second mark is refused."""
    require(actor, Action.MANAGE_SETTLEMENTS)
    settlement = session.scalar(
        select(Settlement).where(Settlement.id == settlement_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if settlement is None:
        raise NotFound(t("settle.not_found"))
    if settlement.status == SettlementStatus.PAID:
        raise ValidationError(t("settle.already_paid"))
    settlement.status, settlement.paid_at, settlement.paid_by_id = SettlementStatus.PAID, now(), actor.user_id
    settlement.paid_reference = " ".join(reference.split())[:100]
    session.flush()
    return _view(session, settlement)


def open_totals(session: Session, *, actor: Actor) -> tuple[int, int]:
    """(number of statements not yet paid out, their payout sum), for the back office."""
    require(actor, Action.MANAGE_SETTLEMENTS)
    count, total = session.execute(
        select(func.count(), func.coalesce(func.sum(Settlement.payout_cents), 0))
        .where(Settlement.status == SettlementStatus.OPEN)
    ).one()
    return int(count), int(total)


def _may_read(actor: Actor, settlement: Settlement) -> bool:
    if can(actor, Action.MANAGE_SETTLEMENTS):
        return True
    return can(actor, Action.VIEW_OWN_SETTLEMENTS) and actor.partner_id == settlement.partner_id


def _view(session: Session, s: Settlement, *, with_lines: bool = True) -> SettlementView:
    lines = ()
    if with_lines:
        lines = tuple(
            LineView(r.case_number, r.paid_at, r.invoice_gross_cents, r.deductible_cents, r.paid_cents,
                     r.commission_cents, r.payout_cents)
            for r in session.scalars(
                select(SettlementLine).where(SettlementLine.settlement_id == s.id)
                .order_by(SettlementLine.paid_at, SettlementLine.id)
            )
        )
    snap = s.partner_snapshot or {}
    return SettlementView(
        id=s.id, number=statement_number(s), month=s.month, partner_id=s.partner_id, partner=snap.get("name", ""),
        partner_address="\n".join(
            p for p in (snap.get("street", ""), f"{snap.get('postal_code', '')} {snap.get('city', '')}".strip()) if p
        ),
        iban=snap.get("iban", ""), commission_bp=s.commission_bp, paid_in_cents=s.paid_in_cents,
        commission_cents=s.commission_cents, payout_cents=s.payout_cents, status=s.status, created_at=s.created_at,
        paid_at=s.paid_at, paid_reference=s.paid_reference, lines=lines,
    )


def last_month(at: datetime | None = None) -> str:
    """The month before `at` (Europe/Berlin), e.g. "2026-10" in November 2026."""
    today = to_berlin(at or now()).date()
    first = today.replace(day=1)
    prev = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    return prev.strftime("%Y-%m")
