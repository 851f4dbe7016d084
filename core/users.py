"""User administration (admin) and partner/broker links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth import hash_password, normalise_username, revoke_user_sessions
from core.enums import Role
from core.errors import NotFound, ValidationError
from core.i18n import t
from core.permissions import Action, Actor, require
from core.timeutil import now
from db.models import Broker, LoginAttempt, Partner, User, UserSession

USERNAME_RE = re.compile(r"^[a-z0-9._-]{3,64}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    display_name: str
    email: str
    role: Role
    is_active: bool
    totp_enabled: bool
    partner: str
    broker: str
    last_login: datetime | None


def list_users(session: Session, *, actor: Actor) -> list[UserRow]:
    """All users with their links and last successful login."""
    require(actor, Action.MANAGE_USERS)
    last_login = (
        select(LoginAttempt.username, func.max(LoginAttempt.at).label("at"))
        .where(LoginAttempt.success.is_(True), LoginAttempt.stage == "password")
        .group_by(LoginAttempt.username)
        .subquery()
    )
    rows = session.execute(
        select(User, Partner.name, Broker.name, last_login.c.at)
        .outerjoin(Partner, User.partner_id == Partner.id)
        .outerjoin(Broker, User.broker_id == Broker.id)
        .outerjoin(last_login, last_login.c.username == User.username)
        .order_by(User.username)
    ).all()
    return [
        UserRow(u.id, u.username, u.display_name, u.email, u.role, u.is_active, u.totp_enabled, p or "", b or "", at)
        for u, p, b, at in rows
    ]


def list_partner_choices(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(id, name) of all partner businesses, for linking logins."""
    require(actor, Action.MANAGE_USERS)
    return [(p.id, p.name) for p in session.scalars(select(Partner).order_by(Partner.name))]


def list_broker_choices(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """(id, name) of all brokers, for linking logins."""
    require(actor, Action.MANAGE_USERS)
    return [(b.id, b.name) for b in session.scalars(select(Broker).order_by(Broker.name))]


def create_user(
    session: Session, *, actor: Actor, username: str, display_name: str, email: str, role: Role, password: str,
    partner_id: int | None = None, broker_id: int | None = None,
) -> User:
    """Create a login; partner and broker logins must be linked to their business or agency."""
    if actor.user_id is not None:  # the CLI (system actor) may bootstrap the first admin
        require(actor, Action.MANAGE_USERS)
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise ValidationError(t("users.bad_username"), field="username")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValidationError(t("users.exists", username=username), field="username")
    if not display_name.strip():
        raise ValidationError(t("users.name_required"), field="display_name")
    if email and not EMAIL_RE.match(email.strip()):
        raise ValidationError(t("users.bad_email"), field="email")
    partner_id, broker_id = _check_links(session, role=role, partner_id=partner_id, broker_id=broker_id)
    user = User(
        username=username, display_name=display_name.strip(), email=email.strip(), role=role,
        password_hash=hash_password(password), partner_id=partner_id, broker_id=broker_id,
    )
    session.add(user)
    session.flush()
    return user


def _check_links(
    session: Session, *, role: Role, partner_id: int | None, broker_id: int | None
) -> tuple[int | None, int | None]:
    if role == Role.PARTNER:
        if partner_id is None or session.get(Partner, partner_id) is None:
            raise ValidationError(t("users.partner_required"), field="partner_id")
        return partner_id, None
    if role == Role.BROKER:
        if broker_id is None or session.get(Broker, broker_id) is None:
            raise ValidationError(t("users.broker_required"), field="broker_id")
        return None, broker_id
    if role == Role.CLIENT:
        raise ValidationError(t("users.bad_username"), field="role")  # clients use signed links, no account
    return None, None


def _get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(t("users.not_found"))
    return user


def _other_active_admins(session: Session, user_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.is_active.is_(True), User.id != user_id)
    )


def set_active(session: Session, *, actor: Actor, user_id: int, active: bool) -> None:
    """Deactivate (ends all sessions at once) or reactivate a login."""
    require(actor, Action.MANAGE_USERS)
    user = _get_user(session, user_id)
    if not active:
        if user.id == actor.user_id:
            raise ValidationError(t("users.self_deactivate"))
        if user.role == Role.ADMIN and _other_active_admins(session, user.id) == 0:
            raise ValidationError(t("users.last_admin"))
        revoke_user_sessions(session, user_id=user.id, reason="deactivated")
    user.is_active = active


def set_role(
    session: Session, *, actor: Actor, user_id: int, role: Role, partner_id: int | None = None,
    broker_id: int | None = None,
) -> None:
    """Change role and partner/broker link; the user's sessions end so the new rights apply at once."""
    require(actor, Action.MANAGE_USERS)
    user = _get_user(session, user_id)
    if user.role == Role.ADMIN and role != Role.ADMIN and _other_active_admins(session, user.id) == 0:
        raise ValidationError(t("users.last_admin"))
    user.partner_id, user.broker_id = _check_links(session, role=role, partner_id=partner_id, broker_id=broker_id)
    if user.role != role:
        user.role = role
        revoke_user_sessions(session, user_id=user.id, reason="role_changed")


def reset_password(session: Session, *, actor: Actor, user_id: int, new_password: str) -> None:
    """Set a new password (e.g. after a phone call); ends the user's sessions."""
    require(actor, Action.MANAGE_USERS)
    user = _get_user(session, user_id)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now()
    revoke_user_sessions(session, user_id=user.id, reason="password_reset")


def reset_totp(session: Session, *, actor: Actor, user_id: int) -> None:
    """Forget the second factor; the user enrols again at the next login."""
    require(actor, Action.MANAGE_USERS)
    user = _get_user(session, user_id)
    user.totp_secret_enc = None
    user.totp_enabled = False
    user.totp_last_step = None
    revoke_user_sessions(session, user_id=user.id, reason="totp_reset")


def count_active_sessions(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.revoked_at.is_(None), UserSession.expires_at > now())
    )


def set_digest_mode(session: Session, *, actor: Actor, enabled: bool | None = None) -> bool:
    """Set the actor's own choice of one daily digest instead of single reminder mails (None: only read it);
    returns the choice now in force."""
    require(actor, Action.VIEW_ACCOUNT)
    user = _get_user(session, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise NotFound(t("users.not_found"))
    if enabled is not None and user.digest_mode != enabled:
        user.digest_mode = enabled
        session.flush()
    return user.digest_mode
