"""The login gate: streamlit-authenticator's form and cookie as transport, core.auth for every decision.

- The password is checked by core.auth (argon2id, attempts counted in the database, lockout).
- Roles of §3 must pass TOTP (enrolment with QR code at the first login).
- A login is a server-side session row; its id lives in session_state. The login cookie (the library's
  signed {username, exp_date}) only finds that row again in a new tab: no live row, no login.
"""

from __future__ import annotations

from datetime import datetime

import jwt
import streamlit as st
import streamlit_authenticator as stauth

from core import auth
from core.i18n import label, t
from core.permissions import Actor
from core.settings import Settings
from core.ui import cookies
from core.ui.db_errors import DatabaseUnavailable
from core.ui.resources import read_session, write_session
from db.seed import DEMO_LOGINS
from reports.qr import qr_png

SESSION_KEY = "sp_session_id"
PW_USER_KEY = "sp_pw_user_id"
COOKIE_PENDING_KEY = "sp_cookie_pending"
NOTICE_KEY = "sp_login_notice"
LOGOUT_KEY = "sp_logout_requested"
_LIB_KEYS = ("name", "username", "authentication_status", "email", "roles")
cookies.install()


def client_ip() -> str:
    """The browser's address ("" when unknown, e.g. under AppTest): behind a trusted proxy (TRUSTED_PROXY, the
    nginx of deploy/ sets X-Real-IP) the header's, otherwise the peer address Streamlit sees."""
    from core.ui.resources import settings

    if settings().trusted_proxy:
        forwarded = (st.context.headers or {}).get("X-Real-IP", "")
        if forwarded:
            return forwarded.strip()[:64]
    value = getattr(st.context, "ip_address", None)
    return value if isinstance(value, str) else ""


class LoginGate:
    """The login for one script run. `actor()` says who is logged in and shows nothing (the cookie component
    it renders is invisible); `render_login()` shows the password form, then TOTP, and reruns once the user
    is in. Build it once per run: the authenticator's cookie component may be rendered only once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.authenticator = _authenticator(settings)

    def actor(self) -> Actor | None:
        """The logged-in actor: this tab's server session, else the live session behind a login cookie. While
        the database is unreachable (e.g. PostgreSQL restarting) the run stops with t("db.unavailable")."""
        try:
            return self._actor()
        except DatabaseUnavailable as exc:
            st.error(str(exc))
            st.stop()

    def _actor(self) -> Actor | None:
        if st.session_state.pop(LOGOUT_KEY, False):
            _forget(self.authenticator, delete_cookie=True)
            return None
        sid = st.session_state.get(SESSION_KEY) or _cookie_session(self.settings)
        if not sid:
            return None
        with write_session() as s:
            info = auth.touch_session(s, session_id=sid, settings=self.settings, ip=client_ip())
        if info is None:
            _forget(self.authenticator, delete_cookie=True)
            st.session_state[NOTICE_KEY] = t("login.session_ended")
            return None
        st.session_state[SESSION_KEY] = info.session_id
        _write_pending_cookie(self.authenticator, self.settings)
        return info.actor

    def render_login(self) -> None:
        """The login form (password, then TOTP) in place of the page; reruns once the user is in."""
        if _login(self.authenticator, self.settings) is not None:
            st.rerun()


def request_logout() -> None:
    """on_click of the logout button: end the server session now; the cookie goes on the next run."""
    sid = st.session_state.pop(SESSION_KEY, None)
    if sid:
        with write_session() as s:
            auth.revoke_session(s, session_id=sid, reason="logout")
    st.session_state[LOGOUT_KEY] = True


def _authenticator(settings: Settings) -> stauth.Authenticate:
    authenticator = stauth.Authenticate(
        {"usernames": {}}, settings.cookie_name, settings.cookie_key, settings.session_absolute_hours / 24,
        auto_hash=False, login_sleep_time=0,
    )
    model = authenticator.authentication_controller.authentication_model
    model.check_credentials = lambda username, password: _check_password(model, settings, username, password)
    authenticator.cookie_controller.set_cookie = lambda: None  # we write the cookie once the session exists
    payload = _cookie_payload(settings)
    if payload:
        model.credentials["usernames"][payload[0]] = {"name": payload[0], "email": "", "roles": []}
    return authenticator


def _cookie_payload(settings: Settings) -> tuple[str, str] | None:
    """(username, exp) of a validly signed login cookie, else None."""
    token = st.context.cookies.get(settings.cookie_name)
    if not token:
        return None
    try:
        data = jwt.decode(token, settings.cookie_key, algorithms=["HS256"])
        return str(data["username"]), repr(float(data["exp_date"]))
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


def _cookie_session(settings: Settings) -> str | None:
    """The id of the live server session behind a validly signed login cookie, if there is one."""
    payload = _cookie_payload(settings)
    if payload is None:
        return None
    with read_session() as s:
        return auth.find_cookie_session(s, username=payload[0], cookie_exp=payload[1])


def _write_pending_cookie(authenticator: stauth.Authenticate, settings: Settings) -> None:
    pending = st.session_state.pop(COOKIE_PENDING_KEY, None)
    if not pending:
        return
    username, exp = pending
    token = jwt.encode({"username": username, "exp_date": exp}, settings.cookie_key, algorithm="HS256")
    authenticator.cookie_controller.cookie_model.cookie_manager.set(
        settings.cookie_name, token, expires_at=datetime.fromtimestamp(exp), same_site="strict",
        secure=settings.base_url.startswith("https://"),
    )


def _check_password(model, settings: Settings, username: str, password: str) -> bool:
    with write_session() as s:
        result = auth.check_password_login(
            s, username=username or "", password=password or "", settings=settings, ip=client_ip()
        )
    if result.user_id is None:
        st.session_state[NOTICE_KEY] = result.error
        return False
    st.session_state[PW_USER_KEY] = result.user_id
    name = auth.normalise_username(username)
    model.credentials["usernames"][name] = {"name": name, "email": "", "roles": []}
    return True


def _login(authenticator: stauth.Authenticate, settings: Settings) -> Actor | None:
    if not st.session_state.get("authentication_status"):
        _password_form(authenticator, settings)
        if st.session_state.get("authentication_status") and st.session_state.get(PW_USER_KEY):
            st.rerun()  # password accepted: go on without the form on screen
    if not st.session_state.get("authentication_status"):
        return None
    user_id = st.session_state.get(PW_USER_KEY)
    if user_id is None:  # the library restored a cookie: only a live server session counts
        return _resume_from_cookie(authenticator, settings)
    with write_session() as s:
        status = auth.totp_status(s, user_id=user_id)
        info = None if status.required else auth.create_session(s, user_id=user_id, settings=settings, ip=client_ip())
    if info is None:
        info = _totp_step(authenticator, settings, user_id, status)
        if info is None:
            return None
    st.session_state[SESSION_KEY] = info.session_id
    st.session_state[COOKIE_PENDING_KEY] = (info.actor.username, info.cookie_exp)
    st.session_state.pop(PW_USER_KEY, None)
    st.rerun()


def _password_form(authenticator: stauth.Authenticate, settings: Settings) -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if not st.session_state.get("authentication_status"):
        st.title(t("app.title"))
        if notice:
            st.error(notice)
    authenticator.login(
        fields={
            "Form name": t("login.title"), "Username": t("login.username"), "Password": t("login.password"),
            "Login": t("login.submit"),
        },
        key="sp_login_form",
    )
    if st.session_state.get("authentication_status") is False:
        st.error(st.session_state.pop(NOTICE_KEY, None) or t("login.failed"))
    if settings.demo and not st.session_state.get("authentication_status"):
        _demo_logins(settings)


def _demo_logins(settings: Settings) -> None:
    with st.expander(t("login.demo_logins", password=settings.demo_password), expanded=True):
        st.dataframe(
            [{t("login.demo_user_col"): u, t("login.demo_role_col"): label(role)} for u, role, _ in DEMO_LOGINS],
            hide_index=True,
        )
        st.caption(t("login.demo_totp_hint"))


def _totp_step(
    authenticator: stauth.Authenticate, settings: Settings, user_id: int, status: auth.TotpStatus
) -> auth.SessionInfo | None:
    st.title(t("totp.title"))
    if not status.enrolled:
        with write_session() as s:
            secret, uri = auth.start_totp_enrolment(s, user_id=user_id, settings=settings)
        st.info(t("totp.enrol_intro"))
        st.image(qr_png(uri), width=220)
        st.code(secret, language=None)
        st.caption(t("totp.secret_label"))
    else:
        st.write(t("totp.enter_code"))
    with st.form("sp_totp_form", clear_on_submit=True):
        code = st.text_input(t("totp.code"), max_chars=6, key="sp_totp_code")
        submitted = st.form_submit_button(t("totp.submit"))
    if st.button(t("totp.cancel")):
        _forget(authenticator, delete_cookie=False)
        st.rerun()
    if not submitted:
        return None
    with write_session() as s:
        locked = auth.is_locked(s, username=status.username, settings=settings)
        ok = not locked and auth.verify_totp(s, user_id=user_id, code=code, settings=settings, ip=client_ip())
        info = auth.create_session(s, user_id=user_id, settings=settings, ip=client_ip()) if ok else None
    if info is None:
        st.error(t("login.locked", minutes=settings.lockout_minutes) if locked else t("totp.invalid"))
    return info


def _resume_from_cookie(authenticator: stauth.Authenticate, settings: Settings) -> Actor | None:
    payload = _cookie_payload(settings)
    info = None
    if payload:
        with write_session() as s:
            sid = auth.find_cookie_session(s, username=payload[0], cookie_exp=payload[1])
            info = auth.touch_session(s, session_id=sid, settings=settings, ip=client_ip()) if sid else None
    if info is not None:
        st.session_state[SESSION_KEY] = info.session_id
        return info.actor
    _forget(authenticator, delete_cookie=True)
    _password_form(authenticator, settings)
    return None


def _forget(authenticator: stauth.Authenticate, *, delete_cookie: bool) -> None:
    """Drop every trace of the login from this browser session (and the cookie, where asked)."""
    for key in (SESSION_KEY, PW_USER_KEY, COOKIE_PENDING_KEY):
        st.session_state.pop(key, None)
    for key in _LIB_KEYS:
        st.session_state[key] = None
    if delete_cookie:
        st.session_state["logout"] = True  # the library must not trust the old cookie again in this tab
        authenticator.cookie_controller.delete_cookie()
