"""The mail outbox for admins (§8): list the queued mails, count them by status, send a failed one again.
Enqueueing lives in core.outbox, sending in core.worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.audit import log_access
from core.enums import OutboxStatus
from core.errors import NotFound, ValidationError
from core.i18n import t
from core.permissions import Action, Actor, require
from core.timeutil import now
from db.models import OutboxMessage


@dataclass(frozen=True)
class OutboxRow:
    """A queued mail as the admin page shows it."""

    id: int
    created_at: datetime
    template_key: str
    recipient: str
    subject: str
    body: str
    attachments: tuple[str, ...]  # file names
    case_id: int | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime  # for `sending`: the end of the lease
    last_error: str
    message_id: str
    sent_at: datetime | None


def _row(m: OutboxMessage) -> OutboxRow:
    return OutboxRow(
        m.id, m.created_at, m.template_key, m.recipient, m.subject, m.body,
        tuple(str(a.get("filename", "")) for a in m.attachments or []), m.case_id, OutboxStatus(m.status),
        m.attempts, m.next_attempt_at, m.last_error, m.message_id, m.sent_at,
    )


def list_outbox(session: Session, *, actor: Actor, status: OutboxStatus | None = None,
                limit: int = 200) -> list[OutboxRow]:
    """The newest queued mails (optionally of one status), for admins; logged (mails hold personal data)."""
    require(actor, Action.MANAGE_SETTINGS)
    query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    log_access(session, actor=actor, action="view", object_type="outbox", detail=str(status or "all"))
    return [_row(m) for m in session.scalars(query)]


def outbox_counts(session: Session, *, actor: Actor) -> dict[OutboxStatus, int]:
    """How many mails are in each status (every status present, 0 if none)."""
    require(actor, Action.MANAGE_SETTINGS)
    counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return {status: counts.get(status, 0) for status in OutboxStatus}


def resend(session: Session, *, actor: Actor, message_id: int) -> OutboxRow:
    """A failed mail back to pending, with fresh attempts, due now (admins)."""
    require(actor, Action.MANAGE_SETTINGS)
    message = session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if message is None:
        raise NotFound(t("outbox.not_found"))
    if message.status != OutboxStatus.FAILED:
        raise ValidationError(t("outbox.not_failed"))
    message.status, message.attempts, message.next_attempt_at, message.claimed_by = OutboxStatus.PENDING, 0, now(), ""
    log_access(session, actor=actor, action="resend", object_type="outbox", object_ref=str(message.id))
    session.flush()
    return _row(message)
