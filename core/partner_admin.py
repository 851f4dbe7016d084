"""The partner network for admins: the list of businesses, their terms, deactivation and reactivation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.applications import clean_text
from core.assignment import assign_partner, weekly_counts
from core.audit import log_access
from core.auth import revoke_user_sessions
from core.enums import OPEN_STATUSES, AssignmentOrigin, PartnerKind
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import t
from core.intake import DOCUMENT_TASK_DUE
from core.partners import MAX_CAPACITY
from core.permissions import Action, Actor, require
from core.tasks import create_task
from core.timeutil import iso_week, now
from db.models import Assignment, Case, Partner, User

MAX_COMMISSION_BP = 10_000


@dataclass(frozen=True)
class PartnerRow:
    id: int
    name: str
    kind: PartnerKind
    regions: str
    city: str
    email: str
    active: bool
    paused: bool
    capacity: int
    commission_bp: int
    trial_until: date | None
    orders_this_week: int
    open_orders: int

    @property
    def commission_percent(self) -> Decimal:
        return Decimal(self.commission_bp) / 100


def list_partners(session: Session, *, actor: Actor, at: datetime | None = None) -> list[PartnerRow]:
    """Every partner business with its terms, its orders this ISO week and its open orders."""
    require(actor, Action.MANAGE_PARTNERS)
    partners = session.scalars(select(Partner).order_by(Partner.name, Partner.id)).all()
    week = weekly_counts(session, week=iso_week(at or now()), partner_ids=[p.id for p in partners])
    open_orders = dict(session.execute(
        select(Case.partner_id, func.count()).where(Case.partner_id.is_not(None), Case.status.in_(OPEN_STATUSES))
        .group_by(Case.partner_id)
    ).all())
    return [
        PartnerRow(p.id, p.name, p.kind, p.regions, p.city, p.email, p.is_active, p.paused, p.weekly_capacity,
                   p.commission_bp, p.trial_until, week.get(p.id, 0), open_orders.get(p.id, 0))
        for p in partners
    ]


def _partner(session: Session, partner_id: int) -> Partner:
    partner = session.get(Partner, partner_id, with_for_update=True, populate_existing=True)
    if partner is None:
        raise NotFound(t("padmin.not_found"))
    return partner


def _waiting_orders(session: Session, partner_id: int) -> list[tuple[Case, Assignment]]:
    """The partner's current orders that are open and not yet accepted (locked for this transaction)."""
    rows = session.execute(
        select(Case, Assignment)
        .join(Assignment, Assignment.case_id == Case.id)
        .where(
            Case.partner_id == partner_id, Case.status.in_(OPEN_STATUSES), Assignment.partner_id == partner_id,
            Assignment.declined_at.is_(None), Assignment.accepted_at.is_(None),
        )
        .order_by(Case.id, Assignment.id)
        .with_for_update(of=Case)
    ).all()
    return list({case.id: (case, assignment) for case, assignment in rows}.values())


def deactivate_partner(session: Session, *, actor: Actor, partner_id: int, reason: str) -> int:
    """Take a business out of the network: its logins end, its orders not yet accepted go to the next
    fairest partner. Returns how many orders were handed on."""
    require(actor, Action.MANAGE_PARTNERS)
    reason = clean_text(reason)[:400]
    if not reason:
        raise ValidationError(t("padmin.reason_required"), field="reason")
    partner = _partner(session, partner_id)
    if not partner.is_active:
        raise ValidationError(t("padmin.already_inactive"))
    partner.is_active = False
    for user in session.scalars(select(User).where(User.partner_id == partner.id, User.is_active.is_(True))):
        user.is_active = False
        revoke_user_sessions(session, user_id=user.id, reason="partner_deactivated")
    withdrawn = t("padmin.withdrawn", reason=reason)
    orders = _waiting_orders(session, partner.id)
    for case, assignment in orders:
        assignment.declined_at, assignment.decline_reason = now(), withdrawn
        append_event(session, case=case, actor=actor, action="order_withdrawn",
                     details={"partner": partner.name, "reason": withdrawn})
        case.partner_id = None
        declined = frozenset(session.scalars(
            select(Assignment.partner_id).where(Assignment.case_id == case.id, Assignment.declined_at.is_not(None))
        ))
        if assign_partner(session, actor=actor, case=case, origin=AssignmentOrigin.OVERRIDE,
                          exclude=frozenset({partner.id}) | declined) is None:
            create_task(session, actor=actor, case=case, title=t("assign.none_task"), kind="assignment",
                        due_at=now() + DOCUMENT_TASK_DUE)
    log_access(session, actor=actor, action="deactivate", object_type="partner", object_ref=str(partner.id),
               detail=reason)
    session.flush()
    return len(orders)


def reactivate_partner(session: Session, *, actor: Actor, partner_id: int) -> None:
    """Take a deactivated business back, with its logins."""
    require(actor, Action.MANAGE_PARTNERS)
    partner = _partner(session, partner_id)
    if partner.is_active:
        raise ValidationError(t("padmin.already_active"))
    partner.is_active = True
    for user in session.scalars(select(User).where(User.partner_id == partner.id)):
        user.is_active = True
    log_access(session, actor=actor, action="reactivate", object_type="partner", object_ref=str(partner.id))
    session.flush()


def update_partner_terms(
    session: Session, *, actor: Actor, partner_id: int, commission_bp: int, weekly_capacity: int
) -> None:
    """Set the commission (basis points the portal keeps) and the weekly capacity of a business."""
    require(actor, Action.MANAGE_PARTNERS)
    if not isinstance(commission_bp, int) or not 0 <= commission_bp <= MAX_COMMISSION_BP:
        raise ValidationError(t("padmin.commission_range"), field="commission_bp")
    if not isinstance(weekly_capacity, int) or not 0 <= weekly_capacity <= MAX_CAPACITY:
        raise ValidationError(t("profile.capacity", max=MAX_CAPACITY), field="weekly_capacity")
    partner = _partner(session, partner_id)
    partner.commission_bp, partner.weekly_capacity = commission_bp, weekly_capacity
    log_access(session, actor=actor, action="update_terms", object_type="partner", object_ref=str(partner.id),
               detail=f"commission_bp={commission_bp} weekly_capacity={weekly_capacity}")
    session.flush()
