"""Secure share links (§9): one document version for an insurer, a lawyer or the client, without an account.

A link is `BASE_URL/freigabe?t=<token>`. The token is a random part and its HMAC-SHA256 under a key derived from
`settings.cookie_key` (and the label below, so no other token of the app opens a share link); a token whose
signature does not match is refused before the database is asked. Only the SHA-256 of the token is stored, so
the link is shown once, when it is made. A link is bound to one document version, expires after at most
MAX_DAYS days, can be revoked, and records the recipient and the purpose. Every download is counted, written
to the access log and to the case's event chain.

Whatever is wrong with a link — unknown, tampered, expired, revoked, its file deleted — the visitor gets the
same None (the page shows one neutral message); only the access log says why.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.audit import log_access
from core.documents import (
    DocumentUnavailable,
    DownloadedFile,
    _read_decrypted,
    display_name,
)
from core.enums import Role
from core.errors import NotFound, ValidationError
from core.events import append_event
from core.i18n import label, t
from core.permissions import SYSTEM, Action, Actor, can, require
from core.settings import Settings
from core.timeutil import now
from db.models import Case, Document, DocumentVersion, ShareLink, ShareRecipient

__all__ = [
    "DEFAULT_DAYS", "MAX_DAYS", "URL_PATH", "CreatedShareLink", "ShareLinkView", "ShareRecipient", "SharedFile",
    "create_share_link", "delete_case_links", "download_shared", "list_share_links", "revoke_share_link",
    "shared_file",
]

MAX_DAYS = 30
DEFAULT_DAYS = 7
MAX_RECIPIENT = 200
MAX_PURPOSE = 300
#: The public page (its url_path in core.ui.navigation).
URL_PATH = "freigabe"
LOG_OBJECT = "share_link"

_KEY_LABEL = b"schadenportal share link v1"
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{22})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Who fetches a file through a link: no account, no rights (the access log names the link).
_VISITOR = Actor(user_id=None, username="share-link", display_name="share-link", role=Role.CLIENT)


@dataclass(frozen=True)
class ShareLinkView:
    id: int
    case_number: str
    version_id: int
    document: str  # e.g. "Rechnung v2"
    file_name: str
    recipient_kind: ShareRecipient
    recipient: str
    purpose: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    download_count: int
    last_download_at: datetime | None


@dataclass(frozen=True)
class CreatedShareLink:
    url: str  # shown once; only its hash is stored
    link: ShareLinkView


@dataclass(frozen=True)
class SharedFile:
    """What the public page shows of a valid link: the file, nothing about the case."""

    name: str
    mime: str
    size: int


# --- the token --------------------------------------------------------------------------------


def _key(settings: Settings) -> bytes:
    return hmac.new(settings.cookie_key.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _signature(settings: Settings, random_part: str) -> str:
    mac = hmac.new(_key(settings), random_part.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def make_token(settings: Settings) -> str:
    """A fresh token: 24 random bytes and their truncated HMAC, both URL-safe base64."""
    random_part = secrets.token_urlsafe(24)
    return f"{random_part}.{_signature(settings, random_part)}"


def signed(settings: Settings, token: str) -> bool:
    """True if the token has our shape and signature (says nothing about expiry or revocation)."""
    match = _TOKEN.match(token or "")
    return match is not None and hmac.compare_digest(match.group(2), _signature(settings, match.group(1)))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/{URL_PATH}?t={token}"


# --- back office ------------------------------------------------------------------------------


def create_share_link(
    session: Session, *, actor: Actor, settings: Settings, version_id: int, recipient_kind: ShareRecipient | str,
    recipient: str, purpose: str, days: int = DEFAULT_DAYS, at: datetime | None = None,
) -> CreatedShareLink:
    """A link to one document version for `days` days (1 to MAX_DAYS), logged and in the case's chain."""
    at = at or now()
    version, document, case = _version_in_scope(session, actor, version_id, lock=True)
    try:
        kind = ShareRecipient(recipient_kind)
    except ValueError:
        raise ValidationError(t("share.bad_recipient_kind"), field="recipient_kind") from None
    recipient = _clean(recipient, MAX_RECIPIENT, "share.recipient_missing", "share.recipient_too_long", "recipient")
    purpose = _clean(purpose, MAX_PURPOSE, "share.purpose_missing", "share.purpose_too_long", "purpose")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError(t("share.bad_days", max=MAX_DAYS), field="days")
    token = make_token(settings)
    link = ShareLink(
        case_id=case.id, document_version_id=version.id, token_hash=token_hash(token), recipient_kind=kind,
        recipient=recipient, purpose=purpose, created_at=at, created_by_id=actor.user_id,
        created_by_name=actor.display_name[:200], expires_at=at + timedelta(days=days), download_count=0,
    )
    session.add(link)
    session.flush()
    append_event(session, case=case, actor=actor, action="share_link_created", at=at, details={
        "link": link.id, "kind": str(document.kind), "version": version.version, "recipient_kind": str(kind),
        "recipient": recipient, "expires_at": link.expires_at.isoformat(timespec="seconds"),
    })
    log_access(session, actor=actor, action="share_create", object_type=LOG_OBJECT, object_ref=case.number,
               detail=f"link={link.id}; version={version.id}; days={days}")
    session.flush()
    return CreatedShareLink(link_url(settings, token), _view(link, version, document, case))


def revoke_share_link(session: Session, *, actor: Actor, link_id: int, at: datetime | None = None) -> ShareLinkView:
    """Revoke a link at once (a revoked link stays revoked); logged and in the case's chain."""
    row = session.execute(_links_query().where(ShareLink.id == link_id)).first()
    if row is None or not _may_share(actor, row.Case):
        raise NotFound(t("share.unknown_link"))
    link, version, document, case = row
    if link.revoked_at is None:
        case = session.scalar(select(Case).where(Case.id == case.id).with_for_update(of=Case)
                              .execution_options(populate_existing=True))
        link.revoked_at = at or now()
        link.revoked_by_id = actor.user_id
        append_event(session, case=case, actor=actor, action="share_link_revoked", at=link.revoked_at,
                     details={"link": link.id, "recipient": link.recipient})
        log_access(session, actor=actor, action="share_revoke", object_type=LOG_OBJECT, object_ref=case.number,
                   detail=f"link={link.id}")
        session.flush()
    return _view(link, version, document, case)


def list_share_links(
    session: Session, *, actor: Actor, case_number: str, active_only: bool = True, at: datetime | None = None,
) -> list[ShareLinkView]:
    """The case's share links, newest first (only those still usable unless `active_only` is False)."""
    case = session.scalar(select(Case).where(Case.number == case_number.strip().upper()))
    if case is None or not _may_share(actor, case):
        raise NotFound(t("case.refused"))
    stmt = _links_query().where(ShareLink.case_id == case.id).order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
    if active_only:
        stmt = stmt.where(ShareLink.revoked_at.is_(None), ShareLink.expires_at > (at or now()))
    return [_view(*row) for row in session.execute(stmt)]


def delete_case_links(session: Session, *, case_id: int) -> int:
    """Delete every share link of a case (for erasure: the recipient label may name a person)."""
    return session.execute(delete(ShareLink).where(ShareLink.case_id == case_id)).rowcount or 0


# --- the public side --------------------------------------------------------------------------


def shared_file(
    session: Session, *, settings: Settings, token: str, ip: str = "", at: datetime | None = None,
) -> SharedFile | None:
    """The file a valid link offers (name, type, size); None for any other link. Either way logged."""
    row = _usable(session, settings, token, ip, at or now())
    if row is None:
        return None
    link, version = row.ShareLink, row.DocumentVersion
    log_access(session, actor=_visitor(link, ip), action="view", object_type=LOG_OBJECT, object_ref=str(link.id))
    return SharedFile(display_name(version.original_name, version.mime), version.mime, version.size)


def download_shared(
    session: Session, *, settings: Settings, token: str, ip: str = "", at: datetime | None = None,
) -> DownloadedFile | None:
    """The decrypted, checksum-verified file of a valid link, counted, logged and in the case's chain; None
    (and a logged refusal) for any other link."""
    at = at or now()
    row = _usable(session, settings, token, ip, at)
    if row is None:
        return None
    link, version, document = row.ShareLink, row.DocumentVersion, row.Document
    data = _read_decrypted(settings, version.stored_name)
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise DocumentUnavailable(t("doc.corrupt"))
    case = session.scalar(select(Case).where(Case.id == link.case_id).with_for_update(of=Case)
                          .execution_options(populate_existing=True))
    link.download_count = ShareLink.download_count + 1
    link.last_download_at = at
    append_event(session, case=case, actor=SYSTEM, action="share_link_downloaded", at=at, details={
        "link": link.id, "kind": str(document.kind), "version": version.version,
        "recipient_kind": str(link.recipient_kind), "recipient": link.recipient,
    })
    log_access(session, actor=_visitor(link, ip), action="share_download", object_type="document",
               object_ref=str(version.id), detail=f"link={link.id}")
    session.flush()
    return DownloadedFile(filename=display_name(version.original_name, version.mime), mime=version.mime, data=data)


# --- helpers ----------------------------------------------------------------------------------


def _usable(session: Session, settings: Settings, token: str, ip: str, at: datetime):
    """The (ShareLink, DocumentVersion, Document) row of a usable link, or None and a logged refusal."""
    reason, row = "invalid", None
    if signed(settings, token):
        row = session.execute(
            select(ShareLink, DocumentVersion, Document)
            .join(DocumentVersion, DocumentVersion.id == ShareLink.document_version_id)
            .join(Document, Document.id == DocumentVersion.document_id)
            .where(ShareLink.token_hash == token_hash(token))
        ).first()
        if row is None:
            reason = "unknown"
        elif row.ShareLink.revoked_at is not None:
            reason = "revoked"
        elif row.ShareLink.expires_at <= at:
            reason = "expired"
        else:
            return row
    ref = str(row.ShareLink.id) if row is not None else ""
    log_access(session, actor=replace(_VISITOR, ip=ip), action="refused", object_type=LOG_OBJECT, object_ref=ref,
               detail=reason)
    return None


def _visitor(link: ShareLink, ip: str) -> Actor:
    return replace(_VISITOR, username=f"share-link:{link.id}", display_name=f"share-link:{link.id}", ip=ip)


def _may_share(actor: Actor, case: Case) -> bool:
    return can(actor, Action.SHARE_DOCUMENT, case) and can(actor, Action.DOWNLOAD_DOCUMENT, case)


def _version_in_scope(session: Session, actor: Actor, version_id: int, *, lock: bool):
    require(actor, Action.SHARE_DOCUMENT)
    row = session.execute(
        select(DocumentVersion, Document, Case)
        .join(Document, Document.id == DocumentVersion.document_id)
        .join(Case, Case.id == Document.case_id)
        .where(DocumentVersion.id == version_id)
    ).first()
    if row is None or not _may_share(actor, row.Case):
        raise NotFound(t("share.unknown_version"))
    case = row.Case
    if lock:
        case = session.scalar(select(Case).where(Case.id == case.id).with_for_update(of=Case)
                              .execution_options(populate_existing=True))
    return row.DocumentVersion, row.Document, case


def _clean(value: str, limit: int, missing: str, too_long: str, field: str) -> str:
    text = " ".join(_CONTROL.sub(" ", value or "").split())
    if not text:
        raise ValidationError(t(missing), field=field)
    if len(text) > limit:
        raise ValidationError(t(too_long, max=limit), field=field)
    return text


def _links_query():
    return (
        select(ShareLink, DocumentVersion, Document, Case)
        .join(DocumentVersion, DocumentVersion.id == ShareLink.document_version_id)
        .join(Document, Document.id == DocumentVersion.document_id)
        .join(Case, Case.id == ShareLink.case_id)
    )


def _view(link: ShareLink, version: DocumentVersion, document: Document, case: Case) -> ShareLinkView:
    return ShareLinkView(
        id=link.id, case_number=case.number, version_id=version.id,
        document=f"{label(document.kind)} v{version.version}",
        file_name=display_name(version.original_name, version.mime), recipient_kind=link.recipient_kind,
        recipient=link.recipient, purpose=link.purpose, created_at=link.created_at, created_by=link.created_by_name,
        expires_at=link.expires_at, revoked_at=link.revoked_at, download_count=link.download_count,
        last_download_at=link.last_download_at,
    )
