"""Request and response bodies of the REST API (pydantic). Field rules stay in core (core.intake): the schemas
only fix types and the storage limits, so the API validates exactly like the intake form."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from core.enums import CaseStatus, DamageType, DocumentKind, LegalBasis
from core.lifecycle import DeadlineState

MAX_AMOUNT_CENTS = 10**13  # 100 billion euros: far above any claim, far below a BIGINT


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("no_nul", "NUL character")
    return value


def text(max_length: int, description: str = "", **kw: Any) -> Any:
    """A string field of limited length without NUL characters (no database stores them)."""
    return Annotated[str, AfterValidator(_no_nul), Field(max_length=max_length, description=description, **kw)]


class CaseSubmission(BaseModel):
    """A new case, as the broker's intake form takes it (the same rules apply, all at once)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "damage_type": "glass", "insurer": "HUK-COBURG", "incident_date": "2026-11-30",
        "client_last_name": "Muster", "client_first_name": "Erika", "client_postal_code": "10115",
        "client_email": "erika.muster@example.de", "plate": "B-AB 1234",
        "incident_description": "Steinschlag auf der A9",
    }]})

    damage_type: text(20, "Schadenart", json_schema_extra={"enum": [d.value for d in DamageType]})
    insurer: text(200, "Versicherung (eine noch unbekannte wird der Liste hinzugefügt)")
    incident_date: date | None = Field(description="Schadentag (nicht in der Zukunft)")
    client_last_name: text(100, "Nachname des Mandanten")
    client_postal_code: text(5, "Postleitzahl, fünfstellig")
    client_first_name: text(100) = ""
    client_email: text(254, "E-Mail oder Telefon ist nötig") = ""
    client_phone: text(50) = ""
    client_street: text(200) = ""
    client_city: text(100) = ""
    policy_number: text(50) = ""
    insurer_claim_number: text(50) = ""
    plate: text(16, "Kennzeichen, z. B. B-AB 1234") = ""
    vin: text(17, "FIN (17 Zeichen)") = ""
    incident_description: text(5000) = ""
    amount_claimed_cents: int | None = Field(default=None, ge=0, le=MAX_AMOUNT_CENTS,
                                             description="Geforderter Betrag in Cent")
    legal_basis: text(20, "Rechtsgrundlage", json_schema_extra={"enum": [b.value for b in LegalBasis]}) = (
        LegalBasis.CONTRACT.value)


class CaseCreated(BaseModel):
    number: str
    status: CaseStatus
    status_label: str
    clerk: str
    missing_documents: list[DocumentKind]
    possible_duplicates: list[str] = Field(description="Ihre Fälle mit gleichem Kennzeichen und Schadentag oder "
                                                       "gleicher Schadennummer")


class CaseSummaryOut(BaseModel):
    number: str
    status: CaseStatus
    status_label: str
    damage_type: DamageType
    received_at: datetime
    deadline: DeadlineState
    client_name: str
    plate: str
    insurer: str


class CaseList(BaseModel):
    items: list[CaseSummaryOut]
    page: int
    per_page: int
    total: int
    pages: int


class CaseDetail(BaseModel):
    number: str
    status: CaseStatus
    status_label: str
    damage_type: DamageType
    insurer: str
    policy_number: str
    insurer_claim_number: str
    client_name: str
    plate: str
    vin: str
    incident_date: date | None
    incident_description: str
    partner: str
    clerk: str
    received_at: datetime
    claim_due_at: datetime
    deadline: DeadlineState
    claim_letter_sent_at: datetime | None
    amount_claimed_cents: int | None
    amount_paid_cents: int | None
    paid_at: datetime | None
    closed_at: datetime | None
    status_reason: str


class TimelineEvent(BaseModel):
    at: datetime
    actor: str
    role: str
    action: str
    label: str
    text: str
    details: dict[str, Any]


class Timeline(BaseModel):
    number: str
    events: list[TimelineEvent]


class DocumentUploaded(BaseModel):
    case_number: str
    kind: DocumentKind
    version: int
    name: str
    mime: str
    size: int
    uploaded_at: datetime


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, str] = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    error: ErrorBody
