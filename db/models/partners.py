"""The partner network around the orders: applications, invoices and monthly settlements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.enums import ApplicationStatus, PartnerKind, SettlementStatus
from db.base import Base, utcnow
from db.models._types import str_enum


class PartnerApplication(Base):
    """An application from the public page "Partner werden", waiting for an admin's decision."""

    __tablename__ = "partner_applications"
    __table_args__ = (Index("ix_partner_applications_ip_created", "ip_hash", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[PartnerKind] = mapped_column(str_enum(PartnerKind))
    street: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(100))
    regions: Mapped[str] = mapped_column(String(400))
    contact_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(50), default="")
    weekly_capacity: Mapped[int]
    message: Mapped[str] = mapped_column(Text, default="")
    consent_at: Mapped[datetime]
    ip_hash: Mapped[str] = mapped_column(String(64), default="")  # HMAC of the address, for the rate limit
    status: Mapped[ApplicationStatus] = mapped_column(
        str_enum(ApplicationStatus), default=ApplicationStatus.PENDING, index=True
    )
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invoice(Base):
    """The partner's invoice for an order (one per case; a correction replaces the data, the file versions stay)."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(String(50))
    invoice_date: Mapped[date]
    net_cents: Mapped[int] = mapped_column(BigInteger)
    vat_cents: Mapped[int] = mapped_column(BigInteger)
    gross_cents: Mapped[int] = mapped_column(BigInteger)
    deductible_cents: Mapped[int] = mapped_column(BigInteger, default=0)  # kept on site (glass shops)
    input_tax_client: Mapped[bool] = mapped_column(default=False)  # the portal collects the VAT from the client
    workshop_bond: Mapped[bool] = mapped_column(default=False)  # Werkstattbindung in the policy
    document_version_id: Mapped[int | None] = mapped_column(ForeignKey("document_versions.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Settlement(Base):
    """A partner's monthly statement (Abrechnung): paid by insurers, kept by the portal, paid out."""

    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("partner_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    month: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM (Europe/Berlin)
    commission_bp: Mapped[int]
    paid_in_cents: Mapped[int] = mapped_column(BigInteger)
    commission_cents: Mapped[int] = mapped_column(BigInteger)
    payout_cents: Mapped[int] = mapped_column(BigInteger)
    # What the statement was made from: partner name, address and IBAN at the time.
    partner_snapshot: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[SettlementStatus] = mapped_column(str_enum(SettlementStatus), default=SettlementStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[datetime | None]
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_reference: Mapped[str] = mapped_column(String(100), default="")


class SettlementLine(Base):
    """One paid case on a settlement; a case is settled once."""

    __tablename__ = "settlement_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    case_number: Mapped[str] = mapped_column(String(32))
    paid_at: Mapped[datetime]
    invoice_gross_cents: Mapped[int | None] = mapped_column(BigInteger)
    deductible_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger)
    commission_cents: Mapped[int] = mapped_column(BigInteger)
    payout_cents: Mapped[int] = mapped_column(BigInteger)
