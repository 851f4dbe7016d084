"""Fair assignment of orders to partners (§7): among the eligible partners the one with the fewest
orders this ISO week; ties go to the one assigned least recently, then the lowest id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.cases import lock_case
from core.enums import AssignmentOrigin, PartnerKind
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import t
from core.order_mail import queue_order_mail
from core.permissions import Action, Actor, can, require
from core.timeutil import iso_week, now
from db.models import Assignment, Case, Partner


@dataclass(frozen=True)
class Candidate:
    partner_id: int
    name: str
    count: int
    last_assigned_at: datetime | None


def serves(regions: str, postal_code: str) -> bool:
    """True if the partner's comma-separated two-digit regions include the postal code's prefix."""
    return postal_code[:2] in {r.strip() for r in regions.split(",") if r.strip()}


def weekly_counts(session: Session, *, week: str, partner_ids: list[int]) -> dict[int, int]:
    """Orders per partner in an ISO week (declined orders do not count)."""
    if not partner_ids:
        return {}
    rows = session.execute(
        select(Assignment.partner_id, func.count())
        .where(Assignment.iso_week == week, Assignment.partner_id.in_(partner_ids), Assignment.declined_at.is_(None))
        .group_by(Assignment.partner_id)
    )
    return dict(rows.all())


def candidates(session: Session, *, kind: PartnerKind, postal_code: str, at: datetime,
               exclude: frozenset[int] = frozenset()) -> list[Candidate]:
    """The eligible partners with their weekly counts, best first. Locks their rows (PostgreSQL) so two
    intakes at the same moment cannot both pick from stale counts; SQLite is serialised by BEGIN IMMEDIATE."""
    partners = session.scalars(
        select(Partner)
        .where(Partner.kind == kind, Partner.is_active.is_(True), Partner.paused.is_(False))
        .order_by(Partner.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    serving = [p for p in partners if p.id not in exclude and serves(p.regions, postal_code)]
    counts = weekly_counts(session, week=iso_week(at), partner_ids=[p.id for p in serving])
    eligible = [
        Candidate(p.id, p.name, counts.get(p.id, 0), p.last_assigned_at)
        for p in serving
        if counts.get(p.id, 0) < p.weekly_capacity
    ]
    never = datetime.min.replace(tzinfo=at.tzinfo)
    return sorted(eligible, key=lambda c: (c.count, c.last_assigned_at or never, c.partner_id))


def assign_partner(
    session: Session, *, actor: Actor, case: Case, origin: AssignmentOrigin = AssignmentOrigin.AUTO,
    exclude: frozenset[int] = frozenset(), at: datetime | None = None,
) -> Assignment | None:
    """Give the case to the fairest eligible partner and store why; None if no partner is eligible."""
    at = at or now()
    ranked = candidates(session, kind=case.partner_kind, postal_code=case.postal_code, at=at, exclude=exclude)
    if not ranked:
        append_event(session, case=case, actor=actor, action="no_partner_available",
                     details={"kind": str(case.partner_kind), "region": case.postal_code[:2]})
        return None
    chosen = ranked[0]
    reason = t("assign.reason", name=chosen.name, count=chosen.count, others=len(ranked) - 1)
    assignment = Assignment(
        case_id=case.id, partner_id=chosen.partner_id, iso_week=iso_week(at), origin=origin, reason=reason,
        candidates=[{"partner_id": c.partner_id, "name": c.name, "count": c.count} for c in ranked],
        assigned_at=at, assigned_by_id=actor.user_id,
    )
    session.add(assignment)
    case.partner_id = chosen.partner_id
    session.get(Partner, chosen.partner_id).last_assigned_at = at
    append_event(session, case=case, actor=actor, action="partner_assigned",
                 details={"partner": chosen.name, "origin": str(origin), "week_count": chosen.count}, at=at)
    session.flush()
    queue_order_mail(session, case=case, assignment=assignment)
    return assignment


def _current(session: Session, case: Case) -> Assignment | None:
    return session.scalar(
        select(Assignment).where(Assignment.case_id == case.id, Assignment.declined_at.is_(None))
        .order_by(Assignment.assigned_at.desc(), Assignment.id.desc()).limit(1)
    )


def _locked_case(session: Session, actor: Actor, number: str, action: Action) -> Case:
    return lock_case(session, actor=actor, number=number, action=action)


def accept_order(session: Session, *, actor: Actor, number: str) -> None:
    """The partner accepts its order (a second click changes nothing)."""
    case = _locked_case(session, actor, number, Action.RESPOND_ORDER)
    current = _current(session, case)
    if current is None or current.partner_id != actor.partner_id:
        raise NotFound(t("case.refused"))
    if current.accepted_at is None:
        current.accepted_at = now()
        append_event(session, case=case, actor=actor, action="order_accepted", details={})


def decline_order(session: Session, *, actor: Actor, number: str, reason: str) -> Assignment | None:
    """The partner declines with a reason; the order moves to the next fairest partner."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError(t("assign.decline_reason"), field="reason")
    case = _locked_case(session, actor, number, Action.RESPOND_ORDER)
    current = _current(session, case)
    if current is None or current.partner_id != actor.partner_id:
        raise NotFound(t("case.refused"))
    if current.accepted_at is not None:
        raise ValidationError(t("assign.already_accepted"))
    current.declined_at, current.decline_reason = now(), reason[:500]
    append_event(session, case=case, actor=actor, action="order_declined", details={"reason": reason[:500]})
    case.partner_id = None
    declined = frozenset(session.scalars(
        select(Assignment.partner_id).where(Assignment.case_id == case.id, Assignment.declined_at.is_not(None))
    ))
    return assign_partner(session, actor=actor, case=case, origin=AssignmentOrigin.DECLINE, exclude=declined)


def override_assignment(session: Session, *, actor: Actor, number: str, partner_id: int, reason: str) -> Assignment:
    """Staff give the order to a partner of their choice, with a reason."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError(t("assign.override_reason"), field="reason")
    case = _locked_case(session, actor, number, Action.OVERRIDE_ASSIGNMENT)
    target = session.get(Partner, partner_id)
    if target is None or not target.is_active or target.kind != case.partner_kind:
        raise ValidationError(t("assign.bad_partner"), field="partner_id")
    current = _current(session, case)
    if current is not None:
        current.declined_at, current.decline_reason = now(), t("assign.replaced")
    at = now()
    assignment = Assignment(
        case_id=case.id, partner_id=target.id, iso_week=iso_week(at), origin=AssignmentOrigin.OVERRIDE,
        reason=reason[:500], candidates=[], assigned_at=at, assigned_by_id=actor.user_id,
    )
    session.add(assignment)
    case.partner_id = target.id
    target.last_assigned_at = at
    append_event(session, case=case, actor=actor, action="partner_assigned",
                 details={"partner": target.name, "origin": str(AssignmentOrigin.OVERRIDE), "reason": reason[:500]})
    session.flush()
    queue_order_mail(session, case=case, assignment=assignment)
    return assignment


def partner_choices(session: Session, *, actor: Actor, number: str) -> list[tuple[int, str]]:
    """Active partners of the case's kind, for an override."""
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not can(actor, Action.OVERRIDE_ASSIGNMENT, case):
        raise NotFound(t("case.refused"))
    rows = session.execute(
        select(Partner.id, Partner.name)
        .where(Partner.kind == case.partner_kind, Partner.is_active.is_(True)).order_by(Partner.name)
    )
    return [tuple(r) for r in rows]


def order_state(session: Session, *, actor: Actor, number: str) -> str:
    """For the partner's view: "open" (waiting for accept/decline), "accepted", or "" (not its order)."""
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not can(actor, Action.RESPOND_ORDER, case):
        return ""
    current = _current(session, case)
    if current is None or current.partner_id != actor.partner_id:
        return ""
    return "accepted" if current.accepted_at else "open"


@dataclass(frozen=True)
class Quota:
    week: str
    own: int
    average: float
    partners: int


def weekly_quota(session: Session, *, actor: Actor, at: datetime | None = None) -> Quota:
    """The partner's orders this ISO week against the average of active partners of its kind (§7)."""
    require(actor, Action.VIEW_OWN_ORDERS)
    week = iso_week(at or now())
    own_partner = session.get(Partner, actor.partner_id) if actor.partner_id else None
    if own_partner is None:
        return Quota(week, 0, 0.0, 0)
    peers = session.scalars(
        select(Partner.id).where(Partner.kind == own_partner.kind, Partner.is_active.is_(True))
    ).all()
    counts = weekly_counts(session, week=week, partner_ids=list(peers))
    average = sum(counts.values()) / len(peers) if peers else 0.0
    return Quota(week, counts.get(own_partner.id, 0), average, len(peers))
