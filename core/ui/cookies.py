"""The login cookie in the browser: written and deleted by one line of JavaScript, read by the server.

streamlit-authenticator reads the cookie from st.context.cookies. To write and delete it, it renders the
CookieManager of extra-streamlit-components, which also sends every cookie back on each page load and so
reruns the app a moment after it opened: a form sent in that moment came back empty. `BrowserCookies` takes
its place (`install()`); it sends nothing back, so a page load is one script run.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from types import SimpleNamespace

import streamlit as st

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TOKEN = re.compile(r"[A-Za-z0-9._-]*")


class BrowserCookies:
    """The part of extra-streamlit-components' CookieManager that streamlit-authenticator uses."""

    def set(self, cookie: str, val: str, *, expires_at: datetime, same_site: str = "strict",
            secure: bool = False, path: str = "/") -> None:
        _run(cookie_header(cookie, val, expires_at=expires_at, same_site=same_site, secure=secure, path=path))

    def delete(self, cookie: str, path: str = "/") -> None:
        _run(cookie_header(cookie, "", expires_at=_EPOCH, same_site="strict", secure=False, path=path))


def cookie_header(name: str, value: str, *, expires_at: datetime, same_site: str, secure: bool, path: str) -> str:
    """The `document.cookie` assignment for one cookie (a naive `expires_at` is local time)."""
    if not (_TOKEN.fullmatch(name) and _TOKEN.fullmatch(value)):
        raise ValueError("cookie name and value must be plain tokens (letters, digits, . _ -)")
    expires = expires_at.astimezone(UTC) if expires_at.tzinfo else expires_at.astimezone().astimezone(UTC)
    parts = [f"{name}={value}", f"expires={format_datetime(expires, usegmt=True)}", f"path={path}",
             f"SameSite={same_site.capitalize()}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def _run(header: str) -> None:
    st.html(f"<script>document.cookie = {json.dumps(header)};</script>", unsafe_allow_javascript=True)


def install() -> None:
    """Make streamlit-authenticator build BrowserCookies where it would build the reporting CookieManager."""
    from streamlit_authenticator.models import cookie_model

    cookie_model.stx = SimpleNamespace(CookieManager=BrowserCookies)
