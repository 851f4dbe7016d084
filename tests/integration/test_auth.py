"""Login rules on SQLite and PostgreSQL: passwords, lockout, TOTP once only, server-side sessions."""

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from core import auth
from core.enums import Role
from core.errors import ValidationError
from core.permissions import Actor
from core.timeutil import now
from db.engine import unit_of_work
from db.models import LoginAttempt, User, UserSession
from tests.factories import PASSWORD, make_user

LONG_UMLAUT = "Äpfel-Öl-Übermut-ßüöä" * 3 + "ÄÖÜ"  # 66 characters, > 72 bytes in UTF-8


def login(engine, settings, username, password):
    with unit_of_work(engine) as s:
        return auth.check_password_login(s, username=username, password=password, settings=settings)


def test_correct_password_logs_in(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    assert login(engine, settings, "Anna ", PASSWORD).user_id == uid


def test_unknown_user_and_wrong_password_get_the_same_message(engine, settings):
    make_user(engine, "anna", Role.STAFF)
    wrong = login(engine, settings, "anna", "falsch-falsch")
    unknown = login(engine, settings, "niemand", "falsch-falsch")
    assert wrong.user_id is None and unknown.user_id is None
    assert wrong.error == unknown.error == "Benutzername oder Passwort ist falsch."


def test_long_password_with_umlauts_works(engine, settings):
    assert len(LONG_UMLAUT.encode()) > 72
    uid = make_user(engine, "bernd", Role.MANAGER, password=LONG_UMLAUT)
    assert login(engine, settings, "bernd", LONG_UMLAUT).user_id == uid
    assert login(engine, settings, "bernd", LONG_UMLAUT[:-1]).user_id is None


def test_failed_attempts_are_stored_and_lock_after_five(engine, settings):
    make_user(engine, "anna", Role.STAFF)
    for _ in range(5):
        assert login(engine, settings, "anna", "falsch-falsch").error.startswith("Benutzername")
    locked = login(engine, settings, "anna", PASSWORD)
    assert locked.user_id is None
    assert "gesperrt" in locked.error
    with unit_of_work(engine) as s:
        assert s.query(LoginAttempt).filter_by(username="anna", success=False).count() == 6


def test_lockout_also_applies_to_unknown_users(engine, settings):
    for _ in range(5):
        login(engine, settings, "ghost", "x" * 10)
    assert "gesperrt" in login(engine, settings, "ghost", "x" * 10).error


def test_lockout_ends_after_the_window(engine, settings):
    make_user(engine, "anna", Role.STAFF)
    for _ in range(5):
        login(engine, settings, "anna", "falsch-falsch")
    with unit_of_work(engine) as s:
        s.execute(update(LoginAttempt).values(at=now() - timedelta(minutes=settings.lockout_minutes + 1)))
    assert login(engine, settings, "anna", PASSWORD).user_id is not None


def test_deactivated_user_cannot_log_in(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    with unit_of_work(engine) as s:
        s.get(User, uid).is_active = False
    assert login(engine, settings, "anna", PASSWORD).error == "Benutzername oder Passwort ist falsch."


@pytest.mark.parametrize("bad", ["kurz", " leading-space", "trailing-space ", "x" * 257])
def test_password_policy(bad):
    with pytest.raises(ValidationError):
        auth.hash_password(bad)


def enrol(engine, settings, uid):
    with unit_of_work(engine) as s:
        secret, uri = auth.start_totp_enrolment(s, user_id=uid, settings=settings)
    return secret, uri


def test_totp_enrolment_secret_is_stored_encrypted(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    secret, uri = enrol(engine, settings, uid)
    assert uri.startswith("otpauth://totp/Schadenportal:anna")
    with unit_of_work(engine) as s:
        stored = s.get(User, uid).totp_secret_enc
    assert secret not in stored


def test_totp_code_is_accepted_once(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    secret, _ = enrol(engine, settings, uid)
    code = pyotp.TOTP(secret).now()
    with unit_of_work(engine) as s:
        assert auth.verify_totp(s, user_id=uid, code=code, settings=settings)
    with unit_of_work(engine) as s:
        assert not auth.verify_totp(s, user_id=uid, code=code, settings=settings)
        assert s.get(User, uid).totp_enabled


def test_wrong_totp_code_is_refused(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    secret, _ = enrol(engine, settings, uid)
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 1) % 1_000_000:06d}"
    with unit_of_work(engine) as s:
        assert not auth.verify_totp(s, user_id=uid, code=wrong, settings=settings)
        assert not s.get(User, uid).totp_enabled


def test_totp_required_for_back_office_not_for_partner(engine, settings):
    from tests.factories import make_partner

    staff = make_user(engine, "anna", Role.STAFF)
    partner = make_user(engine, "glas", Role.PARTNER, partner_id=make_partner(engine))
    with unit_of_work(engine) as s:
        assert auth.totp_status(s, user_id=staff).required
        assert not auth.totp_status(s, user_id=partner).required


def start(engine, settings, uid):
    with unit_of_work(engine) as s:
        return auth.create_session(s, user_id=uid, settings=settings)


def touch(engine, settings, sid):
    with unit_of_work(engine) as s:
        return auth.touch_session(s, session_id=sid, settings=settings)


def test_session_is_valid_until_logout(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    info = start(engine, settings, uid)
    assert touch(engine, settings, info.session_id).actor.username == "anna"
    with unit_of_work(engine) as s:
        auth.revoke_session(s, session_id=info.session_id)
    assert touch(engine, settings, info.session_id) is None


def test_cookie_finds_only_a_live_session(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    info = start(engine, settings, uid)
    with unit_of_work(engine) as s:
        assert auth.find_cookie_session(s, username="anna", cookie_exp=repr(info.cookie_exp)) == info.session_id
        auth.revoke_session(s, session_id=info.session_id)
    with unit_of_work(engine) as s:
        assert auth.find_cookie_session(s, username="anna", cookie_exp=repr(info.cookie_exp)) is None


def test_idle_timeout_ends_the_session(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    info = start(engine, settings, uid)
    with unit_of_work(engine) as s:
        s.execute(update(UserSession).values(last_seen_at=now() - timedelta(minutes=settings.session_idle_minutes)))
    assert touch(engine, settings, info.session_id) is None
    with unit_of_work(engine) as s:
        assert s.get(UserSession, info.session_id).revoke_reason == "idle_timeout"


def test_absolute_timeout_ends_an_active_session(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    info = start(engine, settings, uid)
    with unit_of_work(engine) as s:
        s.execute(update(UserSession).values(expires_at=now() - timedelta(seconds=1)))
    assert touch(engine, settings, info.session_id) is None


def test_password_change_ends_other_sessions_only(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    mine, other = start(engine, settings, uid), start(engine, settings, uid)
    actor = touch(engine, settings, mine.session_id).actor
    with unit_of_work(engine) as s:
        auth.change_own_password(s, actor=actor, current=PASSWORD, new="neues-Passwort-1", repeat="neues-Passwort-1",
                                 keep_session=mine.session_id)
    assert touch(engine, settings, mine.session_id) is not None
    assert touch(engine, settings, other.session_id) is None
    assert login(engine, settings, "anna", "neues-Passwort-1").user_id == uid


def test_password_change_needs_the_current_password(engine, settings):
    uid = make_user(engine, "anna", Role.STAFF)
    actor = Actor(user_id=uid, username="anna", display_name="Anna", role=Role.STAFF)
    with pytest.raises(ValidationError, match="aktuelle Passwort"):
        with unit_of_work(engine) as s:
            auth.change_own_password(s, actor=actor, current="falsch-falsch", new="neues-Passwort-1",
                                     repeat="neues-Passwort-1", keep_session=None)
    assert login(engine, settings, "anna", PASSWORD).user_id == uid


def test_deactivation_ends_sessions(engine, settings):
    from core.permissions import SYSTEM
    from core.users import set_active

    uid = make_user(engine, "anna", Role.STAFF)
    info = start(engine, settings, uid)
    with unit_of_work(engine) as s:
        set_active(s, actor=SYSTEM, user_id=uid, active=False)
    assert touch(engine, settings, info.session_id) is None
    with unit_of_work(engine) as s:
        assert s.scalar(select(UserSession.revoke_reason).where(UserSession.id == info.session_id)) == "deactivated"
