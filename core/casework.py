"""Everything the case page shows in one call, and document uploads that tick off the checklist."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.assignment import order_state, partner_choices
from core.cases import CaseView, open_case
from core.checklist import ChecklistItem, checklist
from core.correspondence import QueryView, list_queries
from core.documents import DocumentView, add_document, list_documents  # noqa: F401 (add_document: re-export)
from core.enums import OPEN_STATUSES, NoteVisibility
from core.notes import NoteView, list_notes, writable_levels
from core.orders import OrderView, order_view
from core.permissions import Action, Actor, can
from core.tasks import TaskView, assignable_users, list_case_tasks
from db.models import Case


@dataclass(frozen=True)
class CaseWorkspace:
    view: CaseView
    checklist: list[ChecklistItem]
    documents: list[DocumentView]
    tasks: list[TaskView]
    notes: list[NoteView]
    note_levels: list[NoteVisibility]
    queries: list[QueryView]
    assignees: list[tuple[int, str]]
    order_state: str  # for a partner: "open", "accepted" or ""
    override_choices: list[tuple[int, str]]
    may_work: bool
    may_upload: bool
    may_pay: bool
    order: OrderView | None = None  # the partner's work on the order (partner and back office)


def case_workspace(session: Session, *, actor: Actor, number: str) -> CaseWorkspace | None:
    """The case page's data for this actor (access logged); None is the §6 refusal."""
    view = open_case(session, actor=actor, number=number)
    if view is None:
        return None
    case = session.scalar(select(Case).where(Case.number == view.number))
    may_work = can(actor, Action.WORK_TASKS, case)
    back_office = can(actor, Action.LIST_CASES)
    return CaseWorkspace(
        view=view,
        checklist=checklist(session, case_id=case.id, damage_type=case.damage_type) if back_office else [],
        documents=list_documents(session, actor=actor, case_number=view.number),
        tasks=list_case_tasks(session, actor=actor, number=view.number) if may_work else [],
        notes=list_notes(session, actor=actor, number=view.number),
        note_levels=writable_levels(actor),
        queries=list_queries(session, actor=actor, number=view.number) if back_office else [],
        assignees=assignable_users(session) if may_work else [],
        order_state=order_state(session, actor=actor, number=view.number),
        override_choices=(
            partner_choices(session, actor=actor, number=view.number)
            if can(actor, Action.OVERRIDE_ASSIGNMENT, case) and view.status in OPEN_STATUSES else []
        ),
        may_work=may_work,
        may_upload=can(actor, Action.UPLOAD_DOCUMENT, case),
        may_pay=can(actor, Action.RECORD_PAYMENT, case),
        order=order_view(session, actor=actor, case=case),
    )
