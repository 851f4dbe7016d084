"""The case (Fall/Auftrag/Akte) and what hangs off it: tasks, notes, insurer queries, calls, survey."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.enums import CaseStatus, DamageType, NoteVisibility, PartnerKind
from db.base import Base, utcnow
from db.models._types import str_enum
from db.models.parties import Broker, Insurer, Partner, Person, User


class Case(Base):
    """One damage case. Status changes only through core.cases.change_status."""

    __tablename__ = "cases"
    __table_args__ = (
        # the board's status tabs in page order (received_at, id): most cases are closed, but not the newest ones,
        # so walking the received_at index and skipping other statuses read ~65,000 rows for a page of closed ones
        Index("ix_cases_status_received", "status", "received_at", "id"),
        # text_pattern_ops (PostgreSQL): the board's plate-prefix search (LIKE 'B-AB%') can use it too
        Index("ix_cases_plate_incident", "plate", "incident_date", postgresql_ops={"plate": "text_pattern_ops"}),
        Index("ix_cases_partner_received", "partner_id", "received_at"),
        Index("ix_cases_partner_status_received", "partner_id", "status", "received_at", "id"),  # a partner's tabs
        Index("ix_cases_broker_received", "broker_id", "received_at"),
        # the page order itself; the status makes a period's tab counts an index-only scan on PostgreSQL
        Index("ix_cases_received", "received_at", "id", "status"),
        # the board's filters, each with the page order (received_at) behind it
        Index("ix_cases_clerk_received", "clerk_id", "received_at"),
        Index("ix_cases_insurer_received", "insurer_id", "received_at"),
        Index("ix_cases_damage_received", "damage_type", "received_at"),
        # the board's client-name search: a name prefix is one range of this index per status, which also holds
        # the page order and the filters the board counts by, so neither the hits' rows nor their tab counts
        # need the table, and the counts come out grouped (1 % of all cases is ~10,000 index entries)
        Index("ix_cases_status_client_name", "status", "client_name_key", "received_at", "id", "partner_id",
              "insurer_id", "damage_type", "clerk_id", postgresql_ops={"client_name_key": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.RECEIVED)
    damage_type: Mapped[DamageType] = mapped_column(str_enum(DamageType))
    partner_kind: Mapped[PartnerKind | None] = mapped_column(str_enum(PartnerKind))
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    broker_id: Mapped[int | None] = mapped_column(ForeignKey("brokers.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    # the client's last name, lower-cased in Python (core.client_names keeps it current)
    client_name_key: Mapped[str] = mapped_column(String(100), default="", server_default="")
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    policy_number: Mapped[str] = mapped_column(String(50), default="")
    insurer_claim_number: Mapped[str] = mapped_column(String(50), default="", index=True)
    plate: Mapped[str] = mapped_column(String(16), default="")
    vin: Mapped[str] = mapped_column(String(17), default="")
    incident_date: Mapped[date | None]
    incident_description: Mapped[str] = mapped_column(Text, default="")
    postal_code: Mapped[str] = mapped_column(String(5), default="")  # where the damage is handled
    received_at: Mapped[datetime]
    review_started_at: Mapped[datetime | None]
    claim_letter_sent_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    appointment_at: Mapped[datetime | None]  # the partner's appointment with the client
    work_done_at: Mapped[datetime | None]  # the partner reported "Auftrag durchgeführt"
    status_reason: Mapped[str] = mapped_column(Text, default="")  # refusal or cancel reason
    amount_claimed_cents: Mapped[int | None] = mapped_column(BigInteger)
    amount_paid_cents: Mapped[int | None] = mapped_column(BigInteger)
    deductible_cents: Mapped[int | None] = mapped_column(BigInteger)
    # Derived at the moment the claim letter is sent (kept for fast KPIs): hours from intake.
    throughput_hours: Mapped[float | None]
    legal_hold: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(20), default="intake")  # intake, broker, import, demo
    last_event_hash: Mapped[str] = mapped_column(String(64), default="")
    event_count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    insurer: Mapped[Insurer] = relationship()
    client: Mapped[Person] = relationship()
    broker: Mapped[Broker | None] = relationship()
    partner: Mapped[Partner | None] = relationship()
    clerk: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


# The board's case-number prefix search (upper-cased input, also finds legacy numbers in lower case).
Index(
    "ix_cases_number_upper", func.upper(Case.number).label("number_upper"),
    postgresql_ops={"number_upper": "text_pattern_ops"},
)


class Task(Base):
    """Something a person has to do by a due time: for a case, or for a partner business (trial month end)."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_assignee_open", "assignee_id", "done_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30), default="manual")  # manual, document, query, reminder
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Note(Base):
    """A note on a case; its visibility decides who may read it."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    visibility: Mapped[NoteVisibility] = mapped_column(str_enum(NoteVisibility))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InsurerQuery(Base):
    """A query (Rückfrage) from the insurer and, once given, its answer."""

    __tablename__ = "insurer_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    subject: Mapped[str] = mapped_column(String(300), default="")
    received_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))


class CaseCallback(Base):
    """A logged inbound status call ("Was ist der Stand?"), for the callback KPI."""

    __tablename__ = "case_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    caller: Mapped[str] = mapped_column(String(20), default="client")  # client, partner, broker, insurer
    status_at_call: Mapped[str] = mapped_column(String(20), default="")
    logged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SurveyAnswer(Base):
    """The client's NPS answer; one per case."""

    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
