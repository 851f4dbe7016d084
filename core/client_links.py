"""Client links (§3 client): signed, expiring links to a case's live status and to its survey; no account.

A link is `BASE_URL/status?t=<token>` or `BASE_URL/umfrage?t=<token>`. The token is a JWT (HS256) signed with a
key derived from `settings.cookie_key` and the label below, so no other token of the app (session cookie,
set-password link) is accepted as a client link and vice versa. It carries the case id, the purpose, an expiry
(status 30 days, survey 60 days) and a fingerprint of the case number and the client's e-mail address: a changed
(or erased) address revokes every link made before.

No token is stored: a queued mail holds a marker (`status_link_marker(case)`), which the sender turns into a link
with a fresh token (`expand_markers`, called by core.outbox.complete_links). The marker carries the fingerprint
too, so a marker typed into user text (a name, a reason) for another case gives a link that does not open.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import jwt

from core.settings import Settings
from core.timeutil import now
from db.models import Case

_KEY_LABEL = b"schadenportal client link v1"


class LinkPurpose(StrEnum):
    STATUS = "status"
    SURVEY = "survey"


#: How long a link works after its mail was sent.
VALIDITY: dict[LinkPurpose, timedelta] = {
    LinkPurpose.STATUS: timedelta(days=30),
    LinkPurpose.SURVEY: timedelta(days=60),
}
#: The public page of each purpose (its url_path in core.ui.navigation).
URL_PATH: dict[LinkPurpose, str] = {LinkPurpose.STATUS: "status", LinkPurpose.SURVEY: "umfrage"}

_MARKER = re.compile(r"\{client_link:(status|survey):(\d{1,18}):([0-9a-f]{16})\}")


class LinkState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"  # signed by us, but too old
    INVALID = "invalid"  # missing, tampered, another key or another purpose


@dataclass(frozen=True)
class LinkClaims:
    state: LinkState
    case_id: int | None = None
    fingerprint: str = ""


def client_fingerprint(*, case_number: str, email: str) -> str:
    """16 hex digits over case number and the client's address; changes when the address changes."""
    return hashlib.sha256(f"{case_number}\n{email.strip().lower()}".encode()).hexdigest()[:16]


def case_fingerprint(case: Case) -> str:
    return client_fingerprint(case_number=case.number, email=case.client.email if case.client else "")


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.cookie_key.encode(), _KEY_LABEL, hashlib.sha256).digest()


def make_token(
    settings: Settings, *, case_id: int, fingerprint: str, purpose: LinkPurpose, at: datetime | None = None
) -> str:
    """A signed token for one case and purpose, valid for VALIDITY[purpose] from `at`."""
    purpose = LinkPurpose(purpose)
    payload = {"p": str(purpose), "cid": case_id, "fp": fingerprint, "exp": (at or now()) + VALIDITY[purpose]}
    return jwt.encode(payload, _key(settings), algorithm="HS256")


def read_token(settings: Settings, *, token: str, purpose: LinkPurpose, at: datetime | None = None) -> LinkClaims:
    """Check signature, purpose and expiry; the case itself (and its fingerprint) is the caller's check."""
    options = {"require": ["exp"], "verify_exp": at is None}
    try:
        data = jwt.decode(token or "", _key(settings), algorithms=["HS256"], options=options)
    except jwt.ExpiredSignatureError:
        return LinkClaims(LinkState.EXPIRED)
    except jwt.PyJWTError:
        return LinkClaims(LinkState.INVALID)
    case_id, fingerprint, exp = data.get("cid"), data.get("fp"), data.get("exp")
    if data.get("p") != str(LinkPurpose(purpose)) or not isinstance(case_id, int) or not isinstance(fingerprint, str):
        return LinkClaims(LinkState.INVALID)
    if at is not None and (not isinstance(exp, int | float) or exp <= at.timestamp()):
        return LinkClaims(LinkState.EXPIRED)
    return LinkClaims(LinkState.VALID, case_id, fingerprint)


def link_url(settings: Settings, *, case_id: int, fingerprint: str, purpose: LinkPurpose,
             at: datetime | None = None) -> str:
    """The full link with a fresh token."""
    token = make_token(settings, case_id=case_id, fingerprint=fingerprint, purpose=purpose, at=at)
    return f"{settings.base_url.rstrip('/')}/{URL_PATH[LinkPurpose(purpose)]}?t={token}"


def _marker(case: Case, purpose: LinkPurpose) -> str:
    return f"{{client_link:{purpose}:{case.id}:{case_fingerprint(case)}}}"


def status_link_marker(case: Case) -> str:
    """Put this into a mail's values where the client's status link belongs (expanded when the mail is sent)."""
    return _marker(case, LinkPurpose.STATUS)


def survey_link_marker(case: Case) -> str:
    """Put this into a mail's values where the client's survey link belongs (expanded when the mail is sent)."""
    return _marker(case, LinkPurpose.SURVEY)


def expand_markers(text: str, settings: Settings, *, at: datetime | None = None) -> str:
    """Every client-link marker in `text` replaced by its link with a fresh token."""
    return _MARKER.sub(
        lambda m: link_url(settings, case_id=int(m[2]), fingerprint=m[3], purpose=LinkPurpose(m[1]), at=at), text
    )
