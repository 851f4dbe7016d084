"""Insurer communication, payments and logged status calls (§4): each a status step or a record
with its event, written in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import notify, webhooks
from core.cases import change_status, lock_case
from core.client_links import status_link_marker
from core.enums import CaseStatus
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import t
from core.permissions import Action, Actor, can
from core.tasks import create_task
from core.timeutil import BERLIN, now, to_berlin
from db.models import Case, CaseCallback, InsurerQuery, Task

QUERY_ANSWER_DAYS = 7
CALLERS = ("client", "partner", "broker", "insurer")


@dataclass(frozen=True)
class QueryView:
    id: int
    subject: str
    received_at: datetime
    due_at: datetime | None
    answered_at: datetime | None


def _case(session: Session, actor: Actor, number: str, action: Action) -> Case:
    return lock_case(session, actor=actor, number=number, action=action)


def record_insurer_query(
    session: Session, *, actor: Actor, number: str, subject: str, due_days: int = QUERY_ANSWER_DAYS,
    expected_version: int | None = None,
) -> InsurerQuery:
    """The insurer asks for something: status Rückfrage, a query record and a task with a deadline."""
    subject = " ".join(subject.split())
    if not subject:
        raise ValidationError(t("query.subject_required"), field="subject")
    if not 1 <= due_days <= 60:
        raise ValidationError(t("query.due_days"), field="due_days")
    case = _case(session, actor, number, Action.CHANGE_STATUS)
    change_status(session, actor=actor, number=number, to=CaseStatus.INSURER_QUERY, expected_version=expected_version)
    at = now()
    due = at + timedelta(days=due_days)
    task = create_task(session, actor=actor, case=case, title=t("query.task", subject=subject), kind="query",
                       due_at=due)
    query = InsurerQuery(case_id=case.id, subject=subject[:300], received_at=at, due_at=due, task_id=task.id)
    session.add(query)
    append_event(session, case=case, actor=actor, action="insurer_query", details={"subject": subject}, at=at)
    session.flush()
    notify.client_status_mail(session, case=case, to=CaseStatus.INSURER_QUERY,
                              extra={"dokument": subject, "upload_link": status_link_marker(case)})
    return query


def answer_insurer_query(session: Session, *, actor: Actor, number: str, query_id: int) -> None:
    """The query is answered: its task is done; with no other open query the case is back at the insurer."""
    case = _case(session, actor, number, Action.CHANGE_STATUS)
    query = session.get(InsurerQuery, query_id)
    if query is None or query.case_id != case.id:
        raise NotFound(t("query.not_found"))
    if query.answered_at is not None:
        return  # a double click answers once
    at = now()
    query.answered_at = at
    if query.task_id:
        task = session.get(Task, query.task_id)
        if task.done_at is None:
            task.done_at, task.done_by_id = at, actor.user_id
    append_event(session, case=case, actor=actor, action="query_answered", details={"subject": query.subject}, at=at)
    still_open = session.scalar(
        select(func.count()).select_from(InsurerQuery)
        .where(InsurerQuery.case_id == case.id, InsurerQuery.answered_at.is_(None))
    )
    if still_open == 0 and case.status == CaseStatus.INSURER_QUERY:
        change_status(session, actor=actor, number=number, to=CaseStatus.CLAIM_SENT)


def list_queries(session: Session, *, actor: Actor, number: str) -> list[QueryView]:
    """The case's insurer queries, open ones first."""
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    rows = session.scalars(
        select(InsurerQuery).where(InsurerQuery.case_id == case.id)
        .order_by(InsurerQuery.answered_at.is_not(None), InsurerQuery.received_at.desc())
    )
    return [QueryView(q.id, q.subject, q.received_at, q.due_at, q.answered_at) for q in rows]


def record_payment(
    session: Session, *, actor: Actor, number: str, amount_paid_cents: int, paid_on: date,
    amount_claimed_cents: int | None = None, expected_version: int | None = None,
) -> Case:
    """The insurer paid: amount and date (the cut is claimed − paid); status Zahlung eingegangen."""
    case = _case(session, actor, number, Action.RECORD_PAYMENT)
    today = to_berlin(now()).date()
    if paid_on > today:
        raise ValidationError(t("payment.future"), field="paid_on")
    if paid_on < to_berlin(case.received_at).date():
        raise ValidationError(t("payment.before_intake"), field="paid_on")
    if amount_claimed_cents is not None:
        case.amount_claimed_cents = amount_claimed_cents
    if case.amount_claimed_cents is not None and amount_paid_cents > case.amount_claimed_cents:
        raise ValidationError(t("payment.more_than_claimed"), field="amount_paid")
    paid_at = datetime.combine(paid_on, time(12, 0), tzinfo=BERLIN)
    case = change_status(
        session, actor=actor, number=number, to=CaseStatus.PAID, amount_paid_cents=amount_paid_cents,
        expected_version=expected_version, paid_at=paid_at,
    )
    webhooks.emit(session, event="payment.recorded", case=case, data={"amount_paid_cents": amount_paid_cents})
    return case


def set_amount_claimed(session: Session, *, actor: Actor, number: str, amount_claimed_cents: int) -> None:
    """Record (or correct) the amount claimed from the insurer."""
    case = _case(session, actor, number, Action.EDIT_CASE)
    if case.paid_at is not None:
        raise ValidationError(t("payment.claim_locked"), field="amount_claimed")
    case.amount_claimed_cents = amount_claimed_cents
    append_event(session, case=case, actor=actor, action="amount_claimed_set",
                 details={"amount_claimed_cents": amount_claimed_cents})


def log_callback(session: Session, *, actor: Actor, number: str, caller: str) -> None:
    """Log an inbound status call ("Was ist der Stand?") for the callback KPI."""
    if caller not in CALLERS:
        raise ValidationError(t("callback.caller"), field="caller")
    case = _case(session, actor, number, Action.WORK_TASKS)
    session.add(CaseCallback(case_id=case.id, caller=caller, status_at_call=str(case.status),
                             logged_by_id=actor.user_id))
    append_event(session, case=case, actor=actor, action="callback_logged", details={"caller": caller})
