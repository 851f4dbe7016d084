"""Case documents and their versions (files encrypted at rest under DATA_DIR).

The text of a version is searchable: on PostgreSQL through the GIN index `ix_document_versions_search` on
`to_tsvector('german', text)`, on SQLite through the FTS5 table `document_search` (external content over this
table, kept current by triggers in the same transaction). Both are created by the migration `document_search`,
are not part of the models, and are left out of autogenerate by `db.search_index.include_name`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.enums import DocumentKind
from core.ocr import ExtractionStatus
from db.base import Base, utcnow
from db.models._types import str_enum


class Document(Base):
    """A document slot of a case (e.g. "Rechnung"); each upload adds a version."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind, 30))
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentVersion(Base):
    """One uploaded file; the stored name is generated, the original kept as metadata."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    version: Mapped[int]
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    original_name: Mapped[str] = mapped_column(String(255), default="")
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    # where `text` comes from; PENDING versions are recognised by the worker (core.text_extraction)
    extraction_status: Mapped[ExtractionStatus] = mapped_column(
        str_enum(ExtractionStatus, 20), default=ExtractionStatus.TEXT_LAYER, server_default="text_layer", index=True
    )
    extraction_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    extraction_next_at: Mapped[datetime | None]  # lease of the worker doing the OCR, or the next try
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
