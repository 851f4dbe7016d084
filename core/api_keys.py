"""API keys for broker systems: created for a broker or admin login, shown once, kept as SHA-256 only,
revocable, with a last-used time. A key carries exactly the rights of its login (core.permissions).

Key format: `sp_<public id>_<secret>`; the public id (8 hex characters) names the key in lists and logs,
the secret is 32 random bytes (url-safe base64).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit import log_access
from core.auth import actor_for
from core.errors import NotFound, ValidationError
from core.i18n import label, t
from core.permissions import Action, Actor, can, require
from core.timeutil import now
from db.models import ApiKey, User

PREFIX = "sp_"
NAME_MAX = 100
#: last_used_at is written at most this often per key (every request would be a write for nothing).
LAST_USED_PRECISION = timedelta(minutes=1)
_KEY = re.compile(r"^sp_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ApiKeyView:
    id: int
    name: str
    public_id: str
    owner: str  # the login's username
    owner_role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class ApiCaller:
    """Who calls the API: the key's login as an Actor, and the key (for its rate limit)."""

    actor: Actor
    key_id: int
    public_id: str


def hash_key(key: str) -> str:
    """Hex SHA-256 of a key (keys are random enough that a fast hash is the right one)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _view(key: ApiKey, user: User) -> ApiKeyView:
    return ApiKeyView(key.id, key.name, key.public_id, user.username, str(user.role), key.created_at,
                      key.last_used_at, key.revoked_at)


def create_api_key(
    session: Session, *, actor: Actor, name: str, owner_id: int | None = None, at: datetime | None = None,
) -> tuple[str, ApiKeyView]:
    """A new key for the actor's own login (an admin may name a broker or admin login): (plaintext, view).
    The plaintext is returned this once and never stored."""
    require(actor, Action.USE_API)
    owner_id = actor.user_id if owner_id is None else owner_id
    if owner_id != actor.user_id:
        require(actor, Action.MANAGE_USERS)
    owner = session.get(User, owner_id) if owner_id is not None else None
    if owner is None or not owner.is_active or not can(actor_for(owner), Action.USE_API):
        raise ValidationError(t("api.key_owner_refused"), field="owner")
    clean = " ".join(name.split())
    if not clean:
        raise ValidationError(t("api.key_name_required"), field="name")
    if len(clean) > NAME_MAX or "\x00" in clean:
        raise ValidationError(t("api.key_name_too_long", max=NAME_MAX), field="name")
    public_id = secrets.token_hex(4)
    while session.scalar(select(ApiKey.id).where(ApiKey.public_id == public_id)) is not None:
        public_id = secrets.token_hex(4)
    plaintext = f"{PREFIX}{public_id}_{secrets.token_urlsafe(32)}"
    key = ApiKey(user_id=owner.id, name=clean, public_id=public_id, key_hash=hash_key(plaintext),
                 created_at=at or now(), created_by_id=actor.user_id)
    session.add(key)
    session.flush()
    log_access(session, actor=actor, action="api_key_create", object_type="api_key", object_ref=public_id,
               detail=f"owner={owner.username}")
    return plaintext, _view(key, owner)


def key_owners(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """The logins an admin may create a key for (active, their role may use the API), the actor first, then by
    name: (user id, "Name (login, role)")."""
    require(actor, Action.MANAGE_USERS)
    users = session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.display_name, User.id))
    owners = [(u.id, f"{u.display_name} ({u.username}, {label(u.role)})") for u in users
              if can(actor_for(u), Action.USE_API)]
    return sorted(owners, key=lambda o: o[0] != actor.user_id)


def list_api_keys(session: Session, *, actor: Actor, include_all: bool = False) -> list[ApiKeyView]:
    """The actor's own keys, newest first; `include_all` (admins only): every login's keys."""
    require(actor, Action.USE_API)
    stmt = select(ApiKey, User).join(User, User.id == ApiKey.user_id)
    if include_all:
        require(actor, Action.MANAGE_USERS)
    else:
        stmt = stmt.where(ApiKey.user_id == actor.user_id)
    rows = session.execute(stmt.order_by(ApiKey.created_at.desc(), ApiKey.id.desc()))
    return [_view(key, user) for key, user in rows]


def revoke_api_key(session: Session, *, actor: Actor, key_id: int, at: datetime | None = None) -> ApiKeyView:
    """Revoke a key for good: the actor's own, or any key for an admin. Revoking twice changes nothing."""
    require(actor, Action.USE_API)
    row = session.execute(select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.id == key_id)).first()
    if row is None or (row[0].user_id != actor.user_id and not can(actor, Action.MANAGE_USERS)):
        raise NotFound(t("api.key_not_found"))
    key, owner = row
    if key.revoked_at is None:
        key.revoked_at = at or now()
        key.revoked_by_id = actor.user_id
        session.flush()
        log_access(session, actor=actor, action="api_key_revoke", object_type="api_key", object_ref=key.public_id,
                   detail=f"owner={owner.username}")
    return _view(key, owner)


def authenticate_api_key(session: Session, *, key: str, at: datetime | None = None, ip: str = "") -> ApiCaller | None:
    """The caller of a valid, unrevoked key whose login is active and may use the API; None otherwise.
    Sets last_used_at (at most once a minute). Refusals of a known key are written to the access log."""
    match = _KEY.match(key.strip())
    if match is None:
        return None
    at = at or now()
    row = session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.public_id == match.group(1))
    ).first()
    if row is None or not hmac.compare_digest(row[0].key_hash, hash_key(key.strip())):
        return None
    api_key, user = row
    actor = actor_for(user, ip=ip)
    if api_key.revoked_at is not None or not user.is_active or not can(actor, Action.USE_API):
        log_access(session, actor=actor, action="refused", object_type="api_key", object_ref=api_key.public_id,
                   detail="revoked" if api_key.revoked_at is not None else "login inactive or not allowed")
        return None
    if api_key.last_used_at is None or at - api_key.last_used_at >= LAST_USED_PRECISION:
        api_key.last_used_at = at
        session.flush()
    return ApiCaller(actor, api_key.id, api_key.public_id)
