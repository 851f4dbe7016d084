"""What each role's start page shows: aggregated in the database, a bounded number of rows."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.enums import OPEN_STATUSES, CaseStatus, DamageType
from core.lifecycle import (
    CLAIM_LETTER_DUE_AFTER,
    CLAIM_LETTER_FLAG_AFTER,
    DeadlineState,
    claim_letter_deadline,
)
from core.permissions import Action, Actor, require
from core.timeutil import berlin_midnight_utc, now, to_berlin
from core.users import count_active_sessions
from db.models import Case, Insurer, LoginAttempt, Person, User

ROW_LIMIT = 50


@dataclass(frozen=True)
class CaseRow:
    number: str
    status: CaseStatus
    damage_type: DamageType
    received_at: datetime
    deadline: DeadlineState
    client: str
    city: str
    plate: str
    insurer: str


@dataclass(frozen=True)
class StaffOverview:
    status_counts: dict[CaseStatus, int]
    overdue: int
    flagged: int
    urgent: list[CaseRow]


@dataclass(frozen=True)
class Headlines:
    cases_this_month: int
    cases_last_month: int
    open_cases: int
    paid_this_month_cents: int
    throughput_median_hours: float | None


@dataclass(frozen=True)
class AdminOverview:
    active_users: int
    active_sessions: int
    failed_logins_24h: int


def _case_rows(session: Session, stmt: Select, at: datetime) -> list[CaseRow]:
    rows = session.execute(
        stmt.join(Person, Case.client_id == Person.id)
        .join(Insurer, Case.insurer_id == Insurer.id)
        .with_only_columns(
            Case.number, Case.status, Case.damage_type, Case.received_at, Case.claim_letter_sent_at,
            Person.first_name, Person.last_name, Person.city, Case.plate, Insurer.name,
        )
        .limit(ROW_LIMIT)
    ).all()
    return [
        CaseRow(
            number=r.number, status=r.status, damage_type=r.damage_type, received_at=r.received_at,
            deadline=claim_letter_deadline(
                status=r.status, received_at=r.received_at, claim_letter_sent_at=r.claim_letter_sent_at, at=at
            ),
            client=f"{r.first_name} {r.last_name}".strip(), city=r.city, plate=r.plate, insurer=r.name,
        )
        for r in rows
    ]


def staff_overview(session: Session, *, actor: Actor) -> StaffOverview:
    """Open cases by status, and the cases closest to (or past) the 48-hour claim-letter deadline."""
    require(actor, Action.LIST_CASES)
    at = now()
    counts = dict(
        session.execute(
            select(Case.status, func.count()).where(Case.status.in_(OPEN_STATUSES)).group_by(Case.status)
        ).all()
    )
    status_counts = {s: counts.get(s, 0) for s in CaseStatus if s in OPEN_STATUSES}
    waiting = (Case.status.in_((CaseStatus.RECEIVED, CaseStatus.REVIEW)), Case.claim_letter_sent_at.is_(None))

    def older_than(age: timedelta):
        return select(func.count()).select_from(Case).where(*waiting, Case.received_at <= at - age)

    overdue = session.scalar(older_than(CLAIM_LETTER_DUE_AFTER))
    flagged = session.scalar(older_than(CLAIM_LETTER_FLAG_AFTER)) - overdue
    urgent = _case_rows(session, select(Case).where(*waiting).order_by(Case.received_at), at)
    return StaffOverview(status_counts, overdue, flagged, urgent)


def partner_orders(session: Session, *, actor: Actor) -> list[CaseRow]:
    """The newest orders of the actor's own business (never another's)."""
    require(actor, Action.VIEW_OWN_ORDERS)
    if actor.partner_id is None:
        return []
    stmt = select(Case).where(Case.partner_id == actor.partner_id).order_by(Case.received_at.desc())
    return _case_rows(session, stmt, now())


def broker_cases(session: Session, *, actor: Actor) -> list[CaseRow]:
    """The newest cases the actor's agency submitted."""
    require(actor, Action.SUBMIT_CASE)
    if actor.broker_id is None:
        return []
    stmt = select(Case).where(Case.broker_id == actor.broker_id).order_by(Case.received_at.desc())
    return _case_rows(session, stmt, now())


def _month_start(day: date) -> date:
    return day.replace(day=1)


def manager_headlines(session: Session, *, actor: Actor) -> Headlines:
    """Headline figures for the current Berlin month."""
    require(actor, Action.VIEW_KPIS)
    at = now()
    this_start = _month_start(to_berlin(at).date())
    last_start = _month_start(this_start - timedelta(days=1))
    this_utc, last_utc = berlin_midnight_utc(this_start), berlin_midnight_utc(last_start)
    live = Case.status != CaseStatus.CANCELLED

    def count(*where) -> int:
        return session.scalar(select(func.count()).select_from(Case).where(*where))

    paid = session.scalar(
        select(func.coalesce(func.sum(Case.amount_paid_cents), 0)).where(Case.paid_at >= this_utc)
    )
    hours = session.scalars(
        select(Case.throughput_hours).where(
            Case.claim_letter_sent_at >= at - timedelta(days=30), Case.throughput_hours.is_not(None)
        )
    ).all()
    return Headlines(
        cases_this_month=count(live, Case.received_at >= this_utc),
        cases_last_month=count(live, Case.received_at >= last_utc, Case.received_at < this_utc),
        open_cases=count(Case.status.in_(OPEN_STATUSES)),
        paid_this_month_cents=int(paid),
        throughput_median_hours=statistics.median(hours) if hours else None,
    )


def admin_overview(session: Session, *, actor: Actor) -> AdminOverview:
    """Users, live sessions and failed logins of the last 24 hours."""
    require(actor, Action.MANAGE_USERS)
    since = now() - timedelta(hours=24)
    return AdminOverview(
        active_users=session.scalar(select(func.count()).select_from(User).where(User.is_active.is_(True))),
        active_sessions=count_active_sessions(session),
        failed_logins_24h=session.scalar(
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.success.is_(False), LoginAttempt.at >= since)
        ),
    )
