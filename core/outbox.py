"""The mail outbox (§8): a mail is a row written in the same transaction as the change that caused it.

Sending (yagmail, retries, the .eml fallback) is the worker's job; this module only enqueues. Attachments
are references ({"kind", "ref", "filename"}) rendered when the mail is sent, so no file is written before
the transaction commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.client_links import expand_markers
from core.permissions import Action, Actor, require
from core.settings import Settings
from core.templates import render
from core.validation import email as valid_email
from db.models import OutboxMessage

#: Links in queued mails start with this mark; the sender puts the configured BASE_URL there, so core
#: services need no settings to write a link and a changed BASE_URL applies to mails still queued.
BASE_URL_MARK = "{base_url}"


def app_link(path: str) -> str:
    """A link into the app for a mail, e.g. app_link("/case?nr=SP-2026-000001")."""
    return BASE_URL_MARK + path


def complete_links(text: str, settings: Settings) -> str:
    """The mail text with its links completed when it is sent: client-link markers become links with a fresh
    token (core.client_links), then the app's address goes where `{base_url}` stands."""
    return expand_markers(text, settings).replace(BASE_URL_MARK, settings.base_url.rstrip("/"))


def enqueue_mail(
    session: Session, *, idempotency_key: str, template_key: str, recipient: str, values: dict[str, object],
    case_id: int | None = None, attachments: list[dict] | None = None,
) -> OutboxMessage | None:
    """Queue a mail from a template; a second call with the same idempotency key queues nothing."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    recipient = valid_email(recipient, required=True, field="recipient")
    mail = render(session, key=template_key, values=values)
    message = OutboxMessage(
        idempotency_key=idempotency_key[:120], case_id=case_id, template_key=template_key, recipient=recipient,
        subject=mail.subject[:300], body=mail.body, attachments=list(attachments or []),
    )
    session.add(message)
    session.flush()
    return message


@dataclass(frozen=True)
class MailFile:
    """A `.eml` file written because no SMTP server is configured (admin outbox page)."""

    name: str
    modified: datetime
    size: int
    recipient: str
    subject: str


_EML_NAME = re.compile(r"[A-Za-z0-9@_+-][A-Za-z0-9@._+-]*\.eml")


def list_mail_files(*, actor: Actor, directory: Path, limit: int = 200) -> list[MailFile]:
    """The newest `.eml` files in `directory` (at most `limit`), with recipient and subject from their headers."""
    require(actor, Action.MANAGE_SETTINGS)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        if _EML_NAME.fullmatch(path.name) and path.is_file():
            stat = path.stat()
            found.append((stat.st_mtime, path.name, stat.st_size))
    found.sort(reverse=True)
    out = []
    for mtime, name, size in found[:limit]:
        with (directory / name).open("rb") as fh:  # the headers are at the start
            headers = BytesHeaderParser(policy=policy.default).parsebytes(fh.read(32_768))
        out.append(MailFile(name, datetime.fromtimestamp(mtime, UTC), size, str(headers.get("To", "")),
                            str(headers.get("Subject", ""))))
    return out


def read_mail_file(*, actor: Actor, directory: Path, name: str) -> bytes:
    """The bytes of one `.eml` file in `directory` (a plain file name as listed, never a path)."""
    require(actor, Action.MANAGE_SETTINGS)
    if not _EML_NAME.fullmatch(name):
        raise ValueError("not a mail file name")
    return (directory / name).read_bytes()
