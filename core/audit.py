"""The access log (§10): every read of personal data, every download, every refusal. No content."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.permissions import Actor
from db.models import AccessLog


def log_access(
    session: Session, *, actor: Actor, action: str, object_type: str, object_ref: str = "", detail: str = ""
) -> None:
    """Record who did what to which object, from where (written in the caller's transaction)."""
    session.add(
        AccessLog(
            user_id=actor.user_id, username=actor.username, role=str(actor.role), action=action,
            object_type=object_type, object_ref=object_ref[:64], ip=actor.ip[:64], detail=detail[:500],
        )
    )
