"""Required documents per damage type (§4 review) and what is still missing on a case."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import DamageType, DocumentKind
from db.models import Document, DocumentVersion

K = DocumentKind

REQUIRED: dict[DamageType, tuple[DocumentKind, ...]] = {
    DamageType.GLASS: (K.REGISTRATION, K.ASSIGNMENT, K.INVOICE, K.PHOTO),
    DamageType.ACCIDENT: (K.REGISTRATION, K.POWER_OF_ATTORNEY, K.REPORT, K.PHOTO),
    DamageType.OTHER: (K.REGISTRATION, K.INVOICE, K.PHOTO),
}


@dataclass(frozen=True)
class ChecklistItem:
    kind: DocumentKind
    present: bool


def present_kinds(session: Session, *, case_id: int) -> set[DocumentKind]:
    """Document kinds of the case that have at least one uploaded version."""
    rows = session.scalars(
        select(Document.kind).join(DocumentVersion, DocumentVersion.document_id == Document.id)
        .where(Document.case_id == case_id).distinct()
    )
    return set(rows)


def checklist(session: Session, *, case_id: int, damage_type: DamageType) -> list[ChecklistItem]:
    """The required documents of the damage type, each marked present or missing."""
    present = present_kinds(session, case_id=case_id)
    return [ChecklistItem(kind, kind in present) for kind in REQUIRED[damage_type]]
