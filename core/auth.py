"""Login rules (§10): argon2id passwords, lockout counted in the database, TOTP, server-side sessions.

Nothing here imports Streamlit: core/ui/auth.py renders the forms and calls these services.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.crypto import decrypt_text, encrypt_text
from core.enums import TOTP_REQUIRED_ROLES, Role
from core.errors import ValidationError
from core.i18n import t
from core.permissions import Actor
from core.settings import Settings
from core.timeutil import now
from db.models import LoginAttempt, User, UserSession

PASSWORD_MIN = 8
PASSWORD_MAX = 256
TOTP_ISSUER = "Schadenportal"

_hasher = PasswordHasher()  # argon2id, no length limit (bcrypt stops at 72 bytes)
_DUMMY_HASH = _hasher.hash("timing-equaliser-for-unknown-users")


def hash_password(password: str) -> str:
    """Hash a password after checking the password policy."""
    check_password_policy(password)
    return _hasher.hash(password)


def check_password_policy(password: str) -> None:
    """Length 8–256 characters (any Unicode), no leading or trailing whitespace."""
    if len(password) < PASSWORD_MIN:
        raise ValidationError(t("password.too_short", min=PASSWORD_MIN), field="password")
    if len(password) > PASSWORD_MAX:
        raise ValidationError(t("password.too_long", max=PASSWORD_MAX), field="password")
    if password != password.strip():
        raise ValidationError(t("password.whitespace"), field="password")


def verify_password(password_hash: str, password: str) -> bool:
    """True if the password matches the hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def actor_for(user: User, *, ip: str = "") -> Actor:
    """The Actor of a user row."""
    return Actor(
        user_id=user.id, username=user.username, display_name=user.display_name, role=user.role,
        partner_id=user.partner_id, broker_id=user.broker_id, ip=ip,
    )


def needs_totp(user: User) -> bool:
    """TOTP is mandatory for back-office roles and optional (once enabled) for partners and brokers."""
    return user.role in TOTP_REQUIRED_ROLES or user.totp_enabled


@dataclass(frozen=True)
class TotpStatus:
    username: str
    required: bool
    enrolled: bool


def totp_status(session: Session, *, user_id: int) -> TotpStatus:
    """Whether the user must pass a TOTP step, and whether a second factor is already set up."""
    user = session.get_one(User, user_id)
    return TotpStatus(user.username, needs_totp(user), user.totp_enabled)


# --- password step -----------------------------------------------------------------------------


def is_locked(session: Session, *, username: str, settings: Settings, at: datetime | None = None) -> bool:
    """True if the username has too many failed attempts within the lockout window."""
    at = at or now()
    since = at - timedelta(minutes=settings.lockout_minutes)
    last_success = session.scalar(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.username == username, LoginAttempt.success.is_(True))
    )
    if last_success is not None and last_success > since:
        since = last_success
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.success.is_(False), LoginAttempt.at > since)
    )
    return failures >= settings.lockout_attempts


@dataclass(frozen=True)
class LoginResult:
    user_id: int | None
    error: str | None  # German message; the same for an unknown user and a wrong password


def check_password_login(
    session: Session, *, username: str, password: str, settings: Settings, ip: str = ""
) -> LoginResult:
    """Verify username and password and record the attempt (the caller commits even on failure)."""
    username = normalise_username(username)
    if is_locked(session, username=username, settings=settings):
        session.add(LoginAttempt(username=username, success=False, stage="locked", ip=ip))
        return LoginResult(None, t("login.locked", minutes=settings.lockout_minutes))
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)  # same work as for a real user
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    session.add(LoginAttempt(username=username, success=ok, stage="password", ip=ip))
    if not ok:
        return LoginResult(None, t("login.failed"))
    return LoginResult(user.id, None)


def normalise_username(username: str) -> str:
    return username.strip().lower()


# --- TOTP --------------------------------------------------------------------------------------


def start_totp_enrolment(session: Session, *, user_id: int, settings: Settings) -> tuple[str, str]:
    """Create (or reuse the pending) secret; return (secret, provisioning URI for the QR code)."""
    user = session.get_one(User, user_id)
    if user.totp_enabled:
        raise ValidationError(t("account.totp_on"))
    if user.totp_secret_enc:
        secret = decrypt_text(settings.encryption_key, user.totp_secret_enc)
    else:
        secret = pyotp.random_base32()
        user.totp_secret_enc = encrypt_text(settings.encryption_key, secret)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)
    return secret, uri


def verify_totp(
    session: Session, *, user_id: int, code: str, settings: Settings, ip: str = "", at: datetime | None = None
) -> bool:
    """Check a code (±1 step); a time step already used is refused. Enables TOTP on first success."""
    user = session.get_one(User, user_id)
    at = at or now()
    code = "".join(ch for ch in code if ch.isdigit())
    ok = False
    if user.totp_secret_enc and len(code) == 6:
        totp = pyotp.TOTP(decrypt_text(settings.encryption_key, user.totp_secret_enc))
        current = int(at.timestamp()) // totp.interval
        for step in (current - 1, current, current + 1):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                continue
            if secrets.compare_digest(totp.generate_otp(step), code):
                user.totp_last_step = step
                user.totp_enabled = True
                ok = True
                break
    session.add(LoginAttempt(username=user.username, success=ok, stage="totp", ip=ip))
    return ok


def totp_locked(session: Session, *, username: str, settings: Settings) -> bool:
    """Wrong TOTP codes count against the same lockout as wrong passwords."""
    return is_locked(session, username=username, settings=settings)


# --- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    actor: Actor
    expires_at: datetime

    @property
    def cookie_exp(self) -> float:
        """The expiry written into the login cookie; with the username it finds this session again."""
        return self.expires_at.timestamp()


def create_session(session: Session, *, user_id: int, settings: Settings, ip: str = "") -> SessionInfo:
    """Start a server-side session after a complete login (password and, where needed, TOTP)."""
    user = session.get_one(User, user_id)
    at = now()
    expires_at = at + timedelta(hours=settings.session_absolute_hours)
    row = UserSession(
        id=secrets.token_urlsafe(32), user_id=user.id, cookie_exp=repr(expires_at.timestamp()), created_at=at,
        last_seen_at=at, expires_at=expires_at, ip=ip,
    )
    session.add(row)
    return SessionInfo(row.id, actor_for(user, ip=ip), row.expires_at)


def touch_session(session: Session, *, session_id: str, settings: Settings, ip: str = "") -> SessionInfo | None:
    """The session's actor if it is still valid (not revoked, not idle, not past its absolute end)."""
    row = session.get(UserSession, session_id)
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    at = now()
    reason = ""
    if user is None or not user.is_active:
        reason = "deactivated"
    elif at >= row.expires_at:
        reason = "absolute_timeout"
    elif at - row.last_seen_at >= timedelta(minutes=settings.session_idle_minutes):
        reason = "idle_timeout"
    if reason:
        row.revoked_at, row.revoke_reason = at, reason
        return None
    if at - row.last_seen_at >= timedelta(seconds=30):  # keep writes rare
        row.last_seen_at = at
    return SessionInfo(row.id, actor_for(user, ip=ip), row.expires_at)


def find_cookie_session(session: Session, *, username: str, cookie_exp: str) -> str | None:
    """The live session behind a login cookie (username + its expiry), if any."""
    user = session.scalar(select(User).where(User.username == normalise_username(username)))
    if user is None or not cookie_exp:
        return None
    return session.scalar(
        select(UserSession.id).where(
            UserSession.user_id == user.id, UserSession.cookie_exp == cookie_exp, UserSession.revoked_at.is_(None)
        )
    )


def revoke_session(session: Session, *, session_id: str, reason: str = "logout") -> None:
    """End one session (logout)."""
    session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now(), revoke_reason=reason)
    )


def revoke_user_sessions(session: Session, *, user_id: int, reason: str, keep: str | None = None) -> int:
    """End all sessions of a user (password change, deactivation), optionally keeping one."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    if keep:
        stmt = stmt.where(UserSession.id != keep)
    return session.execute(stmt.values(revoked_at=now(), revoke_reason=reason)).rowcount


def change_own_password(
    session: Session, *, actor: Actor, current: str, new: str, repeat: str, keep_session: str | None
) -> None:
    """Change the actor's password; ends every other session of the user."""
    if actor.user_id is None:
        raise ValidationError(t("users.not_found"))
    user = session.get_one(User, actor.user_id)
    if not verify_password(user.password_hash, current):
        raise ValidationError(t("account.wrong_password"), field="current")
    if new != repeat:
        raise ValidationError(t("account.mismatch"), field="repeat")
    if verify_password(user.password_hash, new):
        raise ValidationError(t("password.same"), field="new")
    user.password_hash = hash_password(new)
    user.password_changed_at = now()
    revoke_user_sessions(session, user_id=user.id, reason="password_changed", keep=keep_session)


def role_requires_totp(role: Role) -> bool:
    return role in TOTP_REQUIRED_ROLES


# --- set-password link (new partner logins) -----------------------------------------------------

PASSWORD_LINK_DAYS = 7
_PASSWORD_LINK_PURPOSE = "set_password"


def _hash_fingerprint(password_hash: str) -> str:
    """Changes with every new password, so a set-password link works once."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def password_link_token(
    settings: Settings, *, user_id: int, password_hash: str, days: int = PASSWORD_LINK_DAYS, at: datetime | None = None
) -> str:
    """A signed token for the link that lets a user set a password (once, within `days`)."""
    payload = {
        "purpose": _PASSWORD_LINK_PURPOSE, "uid": user_id, "pw": _hash_fingerprint(password_hash),
        "exp": (at or now()) + timedelta(days=days),
    }
    return jwt.encode(payload, settings.cookie_key, algorithm="HS256")


def set_password_with_token(session: Session, *, settings: Settings, token: str, new_password: str) -> str:
    """Set the password a link was made for; ends the user's sessions. Returns the username."""
    try:
        data = jwt.decode(token or "", settings.cookie_key, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.ExpiredSignatureError:
        raise ValidationError(t("setpw.expired")) from None
    except jwt.PyJWTError:
        raise ValidationError(t("setpw.invalid")) from None
    user_id = data.get("uid")
    user = None
    if isinstance(user_id, int):
        user = session.get(User, user_id, with_for_update=True, populate_existing=True)
    if data.get("purpose") != _PASSWORD_LINK_PURPOSE or user is None or not user.is_active:
        raise ValidationError(t("setpw.invalid"))
    if not secrets.compare_digest(str(data.get("pw", "")), _hash_fingerprint(user.password_hash)):
        raise ValidationError(t("setpw.used"))
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now()
    revoke_user_sessions(session, user_id=user.id, reason="password_set")
    return user.username
