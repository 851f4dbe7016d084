"""KPI store (§5): one facts row per case, and summary tables kept equal to the sum of those rows.

Written by core.kpi_store in the transaction of each change; `core.kpi_store.rebuild` recomputes them all.
Dimensions use "" / 0 for "none", so they can be part of a primary key.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

#: The summed counters of kpi_cells, in this order (also the facts' contribution, see core.kpi_store).
CELL_COUNTERS = (
    "cases", "letters", "within_48h", "no_letter", "paid", "paid_cents", "claimed_cents", "cut", "closed",
    "success", "nps_n", "nps_promoters", "nps_detractors", "callbacks", "cb_received", "cb_review",
    "cb_claim_sent", "cb_insurer_query", "cb_paid", "cb_closed", "cb_cancelled", "queries_answered",
)


FILTER_DIMENSIONS = ("damage_type", "insurer_id", "partner_kind", "region", "clerk_id")


def _led_by_each_dimension(table: str, bucket: str, value: str) -> tuple[Index, ...]:
    """Per filter dimension, the scan index led by it: with two or more filters the database reads only the rows
    of the most selective one (e.g. one region of ten) instead of every row of the weeks; with received_at for
    the edge days of a period, so no table row is read."""
    return tuple(Index(f"ix_{table}_by_{dim}", dim, "week", bucket, value, "cancelled",
                       *(other for other in FILTER_DIMENSIONS if other != dim), "received_at")
                 for dim in FILTER_DIMENSIONS)


class KpiCaseFacts(Base):
    """What one case contributes to the KPIs, derived from the case and its survey, calls and queries."""

    __tablename__ = "kpi_case_facts"
    __table_args__ = (
        Index("ix_kpi_case_facts_received", "received_at"),
        # one bucket's values (medians, p90s): covering, so the filters are checked without reading table rows
        Index("ix_kpi_case_facts_throughput", "t_bucket", "week", "throughput_hours", "cancelled", *FILTER_DIMENSIONS,
              "received_at"),
        # a filtered median reads this index only: buckets counted per week, no table rows touched
        Index("ix_kpi_case_facts_scan", "week", "t_bucket", "throughput_hours", "cancelled", "damage_type",
              "insurer_id", "partner_kind", "region", "clerk_id"),
        *_led_by_each_dimension("kpi_case_facts", "t_bucket", "throughput_hours"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    week: Mapped[date]  # Monday of the Berlin week of received_at
    received_at: Mapped[datetime]
    cancelled: Mapped[bool]
    damage_type: Mapped[str] = mapped_column(String(20))
    insurer_id: Mapped[int]
    partner_kind: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(1))  # first digit of the postal code
    clerk_id: Mapped[int]
    throughput_hours: Mapped[float | None]
    t_bucket: Mapped[int | None]  # whole hours of throughput_hours
    within_48h: Mapped[bool]
    paid: Mapped[bool]
    paid_cents: Mapped[int] = mapped_column(BigInteger)
    claimed_cents: Mapped[int] = mapped_column(BigInteger)
    closed: Mapped[bool]
    nps_score: Mapped[int | None]
    cb_received: Mapped[int]
    cb_review: Mapped[int]
    cb_claim_sent: Mapped[int]
    cb_insurer_query: Mapped[int]
    cb_paid: Mapped[int]
    cb_closed: Mapped[int]
    cb_cancelled: Mapped[int]
    queries_answered: Mapped[int] = mapped_column(default=0)  # its answered insurer queries (kpi_query_facts rows)
    status: Mapped[str] = mapped_column(String(20), default="")  # for the board's status counts (case_counts)
    partner_id: Mapped[int] = mapped_column(default=0)  # 0: no partner yet


class KpiQueryFacts(Base):
    """The response time of one answered insurer query (the n-th of its case, by id), with its case's week,
    receipt and filter dimensions (so a filtered median needs no join)."""

    __tablename__ = "kpi_query_facts"
    __table_args__ = (
        Index("ix_kpi_query_facts_bucket", "bucket", "week", "hours", "cancelled", *FILTER_DIMENSIONS, "received_at"),
        Index("ix_kpi_query_facts_received", "received_at"),
        Index("ix_kpi_query_facts_scan", "week", "bucket", "hours", "cancelled", "damage_type", "insurer_id",
              "partner_kind", "region", "clerk_id"),
        *_led_by_each_dimension("kpi_query_facts", "bucket", "hours"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    n: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[date]
    received_at: Mapped[datetime]
    cancelled: Mapped[bool]
    damage_type: Mapped[str] = mapped_column(String(20))
    insurer_id: Mapped[int]
    partner_kind: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(1))
    clerk_id: Mapped[int]
    hours: Mapped[float]
    bucket: Mapped[int]


class KpiCell(Base):
    """Sums of the facts of non-cancelled cases per week and filter dimensions."""

    __tablename__ = "kpi_cells"

    week: Mapped[date] = mapped_column(primary_key=True)
    damage_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    insurer_id: Mapped[int] = mapped_column(primary_key=True)
    partner_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    region: Mapped[str] = mapped_column(String(1), primary_key=True)
    clerk_id: Mapped[int] = mapped_column(primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)
    letters: Mapped[int] = mapped_column(default=0)
    within_48h: Mapped[int] = mapped_column(default=0)
    no_letter: Mapped[int] = mapped_column(default=0)
    paid: Mapped[int] = mapped_column(default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    claimed_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    cut: Mapped[int] = mapped_column(default=0)
    closed: Mapped[int] = mapped_column(default=0)
    success: Mapped[int] = mapped_column(default=0)
    nps_n: Mapped[int] = mapped_column(default=0)
    nps_promoters: Mapped[int] = mapped_column(default=0)
    nps_detractors: Mapped[int] = mapped_column(default=0)
    callbacks: Mapped[int] = mapped_column(default=0)
    cb_received: Mapped[int] = mapped_column(default=0)
    cb_review: Mapped[int] = mapped_column(default=0)
    cb_claim_sent: Mapped[int] = mapped_column(default=0)
    cb_insurer_query: Mapped[int] = mapped_column(default=0)
    cb_paid: Mapped[int] = mapped_column(default=0)
    cb_closed: Mapped[int] = mapped_column(default=0)
    cb_cancelled: Mapped[int] = mapped_column(default=0)
    queries_answered: Mapped[int] = mapped_column(default=0)


class KpiBucket(Base):
    """How many throughput times (metric "t") or query response times ("q") fall into each quarter hour
    (core.kpi_store.bucket_of), per week, over non-cancelled cases: once over all cases (dim = value = "") and
    once per value of each filter dimension (dim "damage_type", "insurer_id", "partner_kind", "region" or
    "clerk_id", value as text). The quantiles find their rank here and read only one bucket's values."""

    __tablename__ = "kpi_buckets"

    metric: Mapped[str] = mapped_column(String(1), primary_key=True)
    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    week: Mapped[date] = mapped_column(primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class CaseCount(Base):
    """Cases per status (cancelled ones included), once over all cases (dim = value = "") and once per value of
    each board filter that has one (dim "damage_type", "insurer_id", "partner_id" or "clerk_id", value as text;
    "0" for no partner or clerk): the board's tabs and a partner's order counts read a few rows, not every case."""

    __tablename__ = "case_counts"

    dim: Mapped[str] = mapped_column(String(12), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class KpiOrders(Base):
    """Orders (assignments not declined) per partner and ISO week, for the fairness figures (§7)."""

    __tablename__ = "kpi_orders"

    iso_week: Mapped[str] = mapped_column(String(8), primary_key=True)
    partner_id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
