"""Tasks on cases: created by people or by rules (missing document, insurer query), done once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import OPEN_STATUSES, DocumentKind, Role
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import label, t
from core.permissions import Action, Actor, can, require
from core.timeutil import now
from db.models import Case, Partner, Task, User

MY_TASKS_LIMIT = 100
#: Kind prefix of a missing-document task: `document:<DocumentKind value>`.
DOCUMENT_TASK = "document:"


@dataclass(frozen=True)
class TaskView:
    id: int
    case_number: str  # "" for a partner task
    partner: str
    title: str
    kind: str
    assignee: str
    due_at: datetime | None
    done_at: datetime | None

    def overdue(self, at: datetime) -> bool:
        return self.done_at is None and self.due_at is not None and self.due_at < at


def _case_for(session: Session, actor: Actor, number: str, action: Action) -> Case:
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    require(actor, action, case)
    return case


def create_task(
    session: Session, *, actor: Actor, case: Case, title: str, kind: str = "manual", due_at: datetime | None = None,
    assignee_id: int | None = None, notify_client: bool = True,
) -> Task:
    """Add a task to a case (rules call this with the case they already hold). A missing document
    (kind `document:<DocumentKind>`) also queues the client's `document_requested` mail, once per task, unless
    `notify_client` is False (a caller asking for several documents at once sends one mail for all)."""
    title = " ".join(title.split())
    if not title:
        raise ValidationError(t("task.title_required"), field="title")
    task = Task(
        case_id=case.id, title=title[:300], kind=kind, due_at=due_at, assignee_id=assignee_id or case.clerk_id,
        created_by_id=actor.user_id,
    )
    session.add(task)
    session.flush()
    append_event(session, case=case, actor=actor, action="task_created", details={"task": task.title, "kind": kind})
    if notify_client and kind.startswith(DOCUMENT_TASK):
        # here, not at the top: core.notify -> core.client_portal -> core.documents imports this module
        from core import notify

        notify.document_request_mail(session, case=case, kinds=[kind.removeprefix(DOCUMENT_TASK)],
                                     reason=f"task:{task.id}")
    return task


def request_document(
    session: Session, *, actor: Actor, number: str, kind: DocumentKind, due_at: datetime | None = None,
) -> Task:
    """A clerk asks for a missing document: a `document:<kind>` task (and with it the client's mail with the
    upload link); if that document is already asked for and open, the open task is returned, nothing new."""
    case = _case_for(session, actor, number, Action.WORK_TASKS)
    if kind not in DocumentKind._value2member_map_:
        raise ValidationError(t("task.bad_document_kind"), field="kind")
    kind = DocumentKind(kind)
    if case.status not in OPEN_STATUSES:
        raise ValidationError(t("task.case_not_open"), field="kind")
    if due_at is not None and due_at < now():
        raise ValidationError(t("task.due_in_past"), field="due_at")
    open_task = session.scalar(select(Task).where(Task.case_id == case.id, Task.kind == DOCUMENT_TASK + kind.value,
                                                  Task.done_at.is_(None)).order_by(Task.id).limit(1))
    if open_task is not None:
        return open_task
    return create_task(session, actor=actor, case=case, title=t("intake.task_missing_doc", doc=label(kind)),
                       kind=DOCUMENT_TASK + kind.value, due_at=due_at)


ASSIGNEE_ROLES = (Role.ADMIN, Role.STAFF, Role.LAWYER)


def assignable_users(session: Session) -> list[tuple[int, str]]:
    """(id, name) of the active back-office users a task can be given to."""
    rows = session.execute(
        select(User.id, User.display_name)
        .where(User.is_active.is_(True), User.role.in_(ASSIGNEE_ROLES))
        .order_by(User.display_name, User.id)
    )
    return [tuple(r) for r in rows]


def add_task(
    session: Session, *, actor: Actor, number: str, title: str, due_at: datetime | None = None,
    assignee_id: int | None = None,
) -> Task:
    """A clerk adds a task to a case (for the case's clerk unless someone else is named)."""
    case = _case_for(session, actor, number, Action.WORK_TASKS)
    if due_at is not None and due_at < now():
        raise ValidationError(t("task.due_in_past"), field="due_at")
    if assignee_id is not None and assignee_id not in dict(assignable_users(session)):
        raise ValidationError(t("task.bad_assignee"), field="assignee_id")
    return create_task(session, actor=actor, case=case, title=title, due_at=due_at, assignee_id=assignee_id)


def complete_task(session: Session, *, actor: Actor, task_id: int) -> Task:
    """Mark a task done (a second click changes nothing)."""
    task = session.get(Task, task_id)
    if task is not None and task.case_id is None:  # a partner task (e.g. trial month ends): admins
        if not can(actor, Action.MANAGE_PARTNERS) and task.assignee_id != actor.user_id:
            raise NotFound(t("task.not_found"))
        if task.done_at is None:
            task.done_at, task.done_by_id = now(), actor.user_id
        return task
    case = session.get(Case, task.case_id) if task else None
    if task is None or case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("task.not_found"))
    require(actor, Action.WORK_TASKS, case)
    if task.done_at is None:
        task.done_at = now()
        task.done_by_id = actor.user_id
        append_event(session, case=case, actor=actor, action="task_done", details={"task": task.title})
    return task


def close_tasks_of_kind(session: Session, *, actor: Actor, case: Case, kind: str, title_prefix: str = "") -> int:
    """Rules: mark open tasks of a kind done (e.g. the document arrived)."""
    open_tasks = session.scalars(
        select(Task).where(Task.case_id == case.id, Task.kind == kind, Task.done_at.is_(None))
    ).all()
    count = 0
    for task in open_tasks:
        if task.title.startswith(title_prefix):
            task.done_at, task.done_by_id = now(), actor.user_id
            count += 1
    return count


def _views(session: Session, stmt) -> list[TaskView]:
    rows = session.execute(
        stmt.outerjoin(Case, Task.case_id == Case.id).outerjoin(Partner, Task.partner_id == Partner.id)
        .outerjoin(User, Task.assignee_id == User.id).with_only_columns(
            Task.id, Case.number, Partner.name, Task.title, Task.kind, User.display_name, Task.due_at, Task.done_at
        )
    ).all()
    return [TaskView(r[0], r[1] or "", r[2] or "", r[3], r[4], r[5] or "", r[6], r[7]) for r in rows]


def list_case_tasks(session: Session, *, actor: Actor, number: str) -> list[TaskView]:
    """All tasks of a case, open ones first by due date."""
    case = _case_for(session, actor, number, Action.WORK_TASKS)
    stmt = select(Task).where(Task.case_id == case.id).order_by(
        Task.done_at.is_not(None), Task.due_at.is_(None), Task.due_at, Task.id
    )
    return _views(session, stmt)


def my_tasks(session: Session, *, actor: Actor) -> list[TaskView]:
    """The actor's open tasks, overdue first, then by due date ("Meine Aufgaben")."""
    require(actor, Action.WORK_TASKS)
    at = now()
    overdue_first = sql_case((Task.due_at < at, 0), else_=1)
    stmt = (
        select(Task)
        .where(Task.assignee_id == actor.user_id, Task.done_at.is_(None))
        .order_by(overdue_first, Task.due_at.is_(None), Task.due_at, Task.id)
        .limit(MY_TASKS_LIMIT)
    )
    return _views(session, stmt)
