"""People and organisations: users, partner businesses, brokers, insurers, clients; assignments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from core.enums import AssignmentOrigin, LegalBasis, PartnerKind, Role
from db.base import Base, utcnow
from db.models._types import str_enum


class Partner(Base):
    """A partner business (Betrieb)."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[PartnerKind] = mapped_column(str_enum(PartnerKind), index=True)
    street: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(5), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    # Postal-code regions served: comma-separated two-digit prefixes, e.g. "10,12,13".
    regions: Mapped[str] = mapped_column(String(400), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    iban: Mapped[str] = mapped_column(String(34), default="")
    weekly_capacity: Mapped[int] = mapped_column(default=10)
    commission_bp: Mapped[int] = mapped_column(default=0)  # basis points kept by the portal
    is_active: Mapped[bool] = mapped_column(default=True)
    paused: Mapped[bool] = mapped_column(default=False)
    trial_until: Mapped[date | None]
    last_assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Broker(Base):
    """An insurance broker (Vermittler) who sends cases."""

    __tablename__ = "brokers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Insurer(Base):
    """An insurer from the maintained list."""

    __tablename__ = "insurers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(Base):
    """A client (Mandant, Geschädigter): the person whose damage it is."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone: Mapped[str] = mapped_column(String(50), default="")
    street: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(5), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    legal_basis: Mapped[LegalBasis] = mapped_column(str_enum(LegalBasis), default=LegalBasis.CONTRACT)
    legal_basis_at: Mapped[datetime] = mapped_column(default=utcnow)
    pseudonymised_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The case-insensitive last-name prefix search of the data-protection requests (core.subject_rights).
Index(
    "ix_persons_last_name_lower", func.lower(Person.last_name).label("last_name_lower"),
    postgresql_ops={"last_name_lower": "text_pattern_ops"},
)


class User(Base):
    """A login. Partner and broker logins are linked to their business or agency."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)  # always lower-case
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    role: Mapped[Role] = mapped_column(str_enum(Role))
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    totp_secret_enc: Mapped[str | None] = mapped_column(String(255))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    is_active: Mapped[bool] = mapped_column(default=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    broker_id: Mapped[int | None] = mapped_column(ForeignKey("brokers.id"), index=True)
    digest_mode: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """One assignment of a case to a partner, with why that partner was chosen (§7)."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_partner_week", "partner_id", "iso_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    iso_week: Mapped[str] = mapped_column(String(8))  # e.g. 2026-W48
    origin: Mapped[AssignmentOrigin] = mapped_column(str_enum(AssignmentOrigin))
    reason: Mapped[str] = mapped_column(Text, default="")
    candidates: Mapped[list] = mapped_column(JSON, default=list)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    decline_reason: Mapped[str] = mapped_column(Text, default="")


class Counter(Base):
    """Named counters (case numbers per year), incremented under a row lock."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
