"""Notes on a case with a visibility level: internal, legal (lawyer and admin), technical (also partners)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import NoteVisibility
from core.errors import NotFound, PermissionDenied, ValidationError
from core.events import append_event
from core.i18n import label, t
from core.permissions import Action, Actor, can, visible_note_levels
from db.models import Case, Note, User

NOTE_MAX = 10_000
WRITE_ACTION = {
    NoteVisibility.INTERNAL: Action.WRITE_NOTE,
    NoteVisibility.LEGAL: Action.VIEW_LEGAL_NOTES,
    NoteVisibility.TECHNICAL: Action.WRITE_TECHNICAL_NOTE,
}


@dataclass(frozen=True)
class NoteView:
    id: int
    visibility: NoteVisibility
    body: str
    author: str
    created_at: datetime


def _visible_case(session: Session, actor: Actor, number: str) -> Case:
    case = session.scalar(select(Case).where(Case.number == number))
    if case is None or not can(actor, Action.VIEW_CASE, case):
        raise NotFound(t("case.refused"))
    return case


def writable_levels(actor: Actor) -> list[NoteVisibility]:
    """The visibilities the actor may write notes with."""
    return [v for v, action in WRITE_ACTION.items() if can(actor, action)]


def add_note(session: Session, *, actor: Actor, number: str, visibility: NoteVisibility, body: str) -> Note:
    """Add a note; the event records that a note was added, never its text."""
    case = _visible_case(session, actor, number)
    if not can(actor, WRITE_ACTION[visibility], case):
        raise PermissionDenied(t("note.not_allowed", level=label(visibility)))
    body = body.strip()
    if not body:
        raise ValidationError(t("note.empty"), field="body")
    if len(body) > NOTE_MAX:
        raise ValidationError(t("note.too_long", max=NOTE_MAX), field="body")
    note = Note(case_id=case.id, visibility=visibility, body=body, author_id=actor.user_id)
    session.add(note)
    session.flush()
    append_event(session, case=case, actor=actor, action="note_added", details={"visibility": str(visibility)})
    return note


def list_notes(session: Session, *, actor: Actor, number: str) -> list[NoteView]:
    """The notes the actor may read, newest first (a partner sees technical notes only)."""
    case = _visible_case(session, actor, number)
    levels = visible_note_levels(actor)
    if not levels:
        return []
    rows = session.execute(
        select(Note, User.display_name)
        .outerjoin(User, Note.author_id == User.id)
        .where(Note.case_id == case.id, Note.visibility.in_(levels))
        .order_by(Note.created_at.desc(), Note.id.desc())
    ).all()
    return [NoteView(n.id, n.visibility, n.body, name or "System", n.created_at) for n, name in rows]
