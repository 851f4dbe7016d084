"""Append-only records: the case event log, login attempts, sessions, access log; settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.base import Base, utcnow


class CaseEvent(Base):
    """One thing that happened to a case. Append-only (only an erasure may blank personal free text in `details`,
    see core.events); each row carries the previous row's hash."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int]
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Erasure (core.events.redact_events): when personal free text was replaced by a marker, and the hash of each
    # replaced field (never the text), so the chain stays verifiable.
    redacted_at: Mapped[datetime | None]
    redacted_digests: Mapped[dict | None] = mapped_column(JSON)


class LoginAttempt(Base):
    """Every login attempt, so failures survive a restart and drive the lockout."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    success: Mapped[bool]
    stage: Mapped[str] = mapped_column(String(10), default="password")  # password, totp
    ip: Mapped[str] = mapped_column(String(64), default="")


class UserSession(Base):
    """A server-side login session; no valid row, no login, whatever a cookie says."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_cookie", "user_id", "cookie_exp"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cookie_exp: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(String(30), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class AccessLog(Base):
    """Who read or downloaded what, or was refused, when and from where (no content, no secrets)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_at", "at"), Index("ix_access_log_object", "object_type", "object_ref"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64), default="")
    role: Mapped[str] = mapped_column(String(20), default="")
    action: Mapped[str] = mapped_column(String(30))  # view, download, refused, export
    object_type: Mapped[str] = mapped_column(String(30))
    object_ref: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class Setting(Base):
    """An admin-editable setting (JSON value)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


@event.listens_for(Session, "before_flush")
def _case_events_are_append_only(session: Session, _ctx, _instances) -> None:
    """Refuse any update or delete of a case event through the ORM."""
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, CaseEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise ValueError("case events are append-only")
