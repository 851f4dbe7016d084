"""Secure share links (§9): one document version for one outside recipient, signed, expiring, revocable.

Also the two indexes the access-log viewer (§10) pages by: filtering by user or by object, newest first.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow
from db.models._types import str_enum
from db.models.audit import AccessLog


class ShareRecipient(StrEnum):
    """Who a document is shared with."""

    INSURER = "insurer"
    LAWYER = "lawyer"
    CLIENT = "client"


class ShareLink(Base):
    """A link to one document version. Only the SHA-256 of its token is stored; the link is shown once."""

    __tablename__ = "share_links"
    __table_args__ = (Index("ix_share_links_case_created", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    # a version deleted by the retention purge takes its links with it
    document_version_id: Mapped[int] = mapped_column(
        ForeignKey("document_versions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    recipient_kind: Mapped[ShareRecipient] = mapped_column(str_enum(ShareRecipient))
    recipient: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    download_count: Mapped[int] = mapped_column(default=0)
    last_download_at: Mapped[datetime | None]


# The access-log viewer filters by user or by object and shows the newest rows first (core.access_log): each
# filter walks one of these indexes backwards and stops after a page.
Index("ix_access_log_username_at", AccessLog.username, AccessLog.at)
Index("ix_access_log_object_ref_at", AccessLog.object_ref, AccessLog.at)
