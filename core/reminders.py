"""Reminders (§4, §8 "deadline due, task due"): what is due, and one mail per due thing.

The worker calls `queue_due_reminders` every few seconds; it is idempotent because every reminder has a
stable outbox idempotency key, so a thing is mailed once however often it runs (and however many workers):
- claim letter: a case in received/review without claim letter 36 h after intake -> `deadline_warning` to
  its clerk (`remind:claim36:<case>`); at 48 h once more, as overdue (`remind:claim48:<case>`). A case first
  seen after 48 h gets only the overdue one.
- insurer silent: a case in claim_sent without payment whose claim letter (or last answered query) is 14 days
  old -> a task "reminder" for the clerk and an `insurer_silence` mail (`remind:silent:<case>:<start of
  silence>`), once per silence: a newly answered query starts a new one.
- task due: an open task (of an open case, or a partner task) past its due time -> `task_due` to its assignee
  (`remind:task:<task>:<due time>`), again if the due time is moved.
Only active users with an e-mail address are mailed. Users with `digest_mode` get no single mails of these
kinds: `core.digest` lists the same due things (computed by `due_items`, not stored) in one mail a day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.enums import OPEN_STATUSES, CaseStatus
from core.errors import ValidationError
from core.i18n import t
from core.lifecycle import (
    CLAIM_LETTER_DUE_AFTER,
    CLAIM_LETTER_FLAG_AFTER,
    INSURER_SILENCE_REMINDER,
)
from core.outbox import app_link, enqueue_mail
from core.permissions import SYSTEM
from core.tasks import create_task
from core.templates import case_values
from core.timeutil import format_date, format_dt, to_berlin
from db.models import Case, InsurerQuery, OutboxMessage, Partner, Task, User

log = logging.getLogger(__name__)

#: How long the clerk has for the follow-up with a silent insurer.
SILENCE_TASK_DUE = timedelta(days=1)


@dataclass(frozen=True)
class DueItem:
    """One due thing for one user: the mail it causes (template, values) and its line in the digest."""

    key: str  # idempotency key of the single mail
    user_id: int
    template_key: str
    values: dict[str, str]
    line: str  # one line of the digest
    case_id: int | None = None
    silent_since: datetime | None = None  # insurer silence: when it began (for the follow-up task)


def _recipients(session: Session, ids: set[int]) -> dict[int, User]:
    """The users among `ids` who can be mailed: active and with an e-mail address."""
    if not ids:
        return {}
    rows = session.scalars(select(User).where(User.id.in_(ids), User.is_active.is_(True), User.email != ""))
    return {u.id: u for u in rows}


def _case_items(session: Session, *, at: datetime) -> list[DueItem]:
    out: list[DueItem] = []
    late = session.scalars(
        select(Case).where(Case.status.in_((CaseStatus.RECEIVED, CaseStatus.REVIEW)),
                           Case.claim_letter_sent_at.is_(None), Case.clerk_id.is_not(None),
                           Case.received_at <= at - CLAIM_LETTER_FLAG_AFTER).order_by(Case.id)
    ).all()
    for case in late:
        due = case.received_at + CLAIM_LETTER_DUE_AFTER
        overdue = at >= due
        values = {**case_values(session, case), "frist": format_dt(due)}
        out.append(DueItem(
            f"remind:claim{48 if overdue else 36}:{case.id}", case.clerk_id, "deadline_warning", values,
            t("remind.line_claim_overdue" if overdue else "remind.line_claim_flagged", number=case.number,
              due=format_dt(due)), case.id,
        ))
    answered = (select(InsurerQuery.case_id, func.max(InsurerQuery.answered_at).label("last"))
                .group_by(InsurerQuery.case_id).subquery())
    sent = session.execute(
        select(Case, answered.c.last).outerjoin(answered, answered.c.case_id == Case.id)
        .where(Case.status == CaseStatus.CLAIM_SENT, Case.paid_at.is_(None), Case.clerk_id.is_not(None),
               Case.claim_letter_sent_at <= at - INSURER_SILENCE_REMINDER).order_by(Case.id)
    ).all()
    for case, last_answer in sent:
        since = max(case.claim_letter_sent_at, last_answer) if last_answer else case.claim_letter_sent_at
        if since > at - INSURER_SILENCE_REMINDER:
            continue
        values = {**case_values(session, case), "seit": format_date(to_berlin(since))}
        out.append(DueItem(
            f"remind:silent:{case.id}:{since:%Y%m%dT%H%M%S}", case.clerk_id, "insurer_silence", values,
            t("remind.line_silent", number=case.number, insurer=case.insurer.name,
              since=format_date(to_berlin(since))), case.id, since,
        ))
    return out


def _task_items(session: Session, *, at: datetime) -> list[DueItem]:
    out: list[DueItem] = []
    rows = session.execute(
        select(Task, Case, Partner, User).join(User, User.id == Task.assignee_id)
        .outerjoin(Case, Case.id == Task.case_id).outerjoin(Partner, Partner.id == Task.partner_id)
        .where(Task.done_at.is_(None), Task.due_at <= at,
               (Task.case_id.is_(None)) | Case.status.in_(OPEN_STATUSES)).order_by(Task.id)
    ).all()
    for task, case, partner, user in rows:
        if case is not None:
            about, link = t("remind.about_case", number=case.number), app_link(f"/case?nr={case.number}")
        else:
            about, link = (partner.name if partner else "–"), app_link("/")
        values = {"sachbearbeiter": user.display_name, "aufgabe": task.title, "bezug": about,
                  "faellig_am": format_dt(task.due_at), "aufgaben_link": link}
        out.append(DueItem(
            f"remind:task:{task.id}:{task.due_at:%Y%m%dT%H%M%S}", user.id, "task_due", values,
            t("remind.line_task", title=task.title, about=about, due=format_dt(task.due_at)),
            case.id if case else None,
        ))
    return out


def due_items(session: Session, *, at: datetime) -> list[tuple[DueItem, User]]:
    """Everything due at `at` whose user can be mailed, with that user (cases first, then tasks)."""
    items = _case_items(session, at=at) + _task_items(session, at=at)
    users = _recipients(session, {i.user_id for i in items})
    return [(i, users[i.user_id]) for i in items if i.user_id in users]


def _follow_up_task(session: Session, *, item: DueItem, at: datetime) -> None:
    """The clerk's task to chase a silent insurer, once per silence (the case row is locked while checking)."""
    case = session.scalar(select(Case).where(Case.id == item.case_id).with_for_update())
    exists = session.scalar(select(Task.id).where(Task.case_id == case.id, Task.kind == "reminder",
                                                  Task.created_at >= item.silent_since).limit(1))
    if exists is None:
        create_task(session, actor=SYSTEM, case=case, kind="reminder", due_at=at + SILENCE_TASK_DUE,
                    title=t("remind.silent_task", insurer=case.insurer.name), assignee_id=case.clerk_id)


def queue_due_reminders(session: Session, *, at: datetime) -> int:
    """Queue the single reminder mails due at `at` (and the insurer follow-up tasks); returns how many mails
    were queued now. Digest users get the tasks but no single mails."""
    items = due_items(session, at=at)
    for item, _user in items:
        if item.silent_since is not None:
            _follow_up_task(session, item=item, at=at)
    keys = [i.key for i, u in items if not u.digest_mode]
    done = set(session.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(keys)))
               ) if keys else set()
    queued = 0
    for item, user in items:
        if user.digest_mode or item.key in done:
            continue
        try:
            enqueue_mail(session, idempotency_key=item.key, template_key=item.template_key, recipient=user.email,
                         values=item.values, case_id=item.case_id)
        except ValidationError:  # a stored address that is no address: skip it, do not block the others
            log.warning("reminder %s: user %s has an invalid e-mail address", item.key, user.id)
            continue
        queued += 1
    return queued
