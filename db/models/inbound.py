"""Inbound insurer mail (§4): each message fetched over IMAP, filed into a case or held for staff.

The unique `message_key` (SHA-256 of the Message-ID, or of the raw message when it has none) is what makes a
message be processed once, across restarts and several workers. Attachments of a held mail are kept encrypted
under `DATA_DIR/inbound` (core.inbound_mail) until staff assign or dismiss the mail.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow
from db.models._types import str_enum


class InboundMailStatus(StrEnum):
    FILED = "filed"  # filed into its case automatically
    UNASSIGNED = "unassigned"  # held for staff
    ASSIGNED = "assigned"  # filed into a case by staff
    DISMISSED = "dismissed"  # staff decided it belongs to no case


class HoldReason(StrEnum):
    """Why a mail was not filed automatically."""

    NO_MATCH = "no_match"
    SEVERAL_MATCHES = "several_matches"
    UNKNOWN_SENDER = "unknown_sender"
    TOO_LARGE = "too_large"  # only its header was fetched; staff ask the sender for the attachments


class InboundMail(Base):
    """One fetched message; its key is unique, so it is filed at most once."""

    __tablename__ = "inbound_mails"
    __table_args__ = (Index("ix_inbound_mails_status_received", "status", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str] = mapped_column(String(255), default="")
    sender: Mapped[str] = mapped_column(String(254), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    sent_at: Mapped[datetime | None]  # the Date header
    received_at: Mapped[datetime] = mapped_column(default=utcnow)  # when the worker fetched it
    body_excerpt: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[InboundMailStatus] = mapped_column(str_enum(InboundMailStatus))
    hold_reason: Mapped[HoldReason | None] = mapped_column(str_enum(HoldReason, 30))
    matched_numbers: Mapped[list] = mapped_column(JSON, default=list)  # case numbers found in it
    is_query: Mapped[bool] = mapped_column(default=False)  # reads like an insurer query (Rückfrage)
    rejected: Mapped[list] = mapped_column(JSON, default=list)  # [{"name": …, "reason": …}] kept out
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handled_by_name: Mapped[str] = mapped_column(String(200), default="")
    handled_at: Mapped[datetime | None]
    dismiss_reason: Mapped[str] = mapped_column(Text, default="")


class InboundAttachment(Base):
    """An accepted attachment: held encrypted (`stored_name`) until filed as `document_version_id`."""

    __tablename__ = "inbound_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("inbound_mails.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    mime: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    stored_name: Mapped[str | None] = mapped_column(String(100))  # None once filed or discarded
    document_version_id: Mapped[int | None] = mapped_column(ForeignKey("document_versions.id", ondelete="SET NULL"))
