"""The tables behind the KPI charts: per week, per insurer, per status stage, the throughput distribution and
partner fairness. Each is computed from the KPI store with the definitions of core.kpis (same scope, same
figures), so a chart, its CSV/XLSX export and `python -m core kpis` never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import CaseStatus
from core.kpi_store import BUCKETS_PER_HOUR, STAGES
from core.kpis import (
    KpiFilter,
    Ranked,
    add_sums,
    figures,
    pending_by_week,
    plan,
    ranked,
    ranked_by_week,
    scope_sums,
    split_period,
)
from core.permissions import Action, Actor, require
from core.timeutil import berlin_midnight_utc, iso_week, now
from db.models import Insurer, KpiOrders, Partner
from db.models.kpi import CELL_COUNTERS

EMPTY = dict.fromkeys(CELL_COUNTERS, 0)


@dataclass(frozen=True)
class WeekRow:
    week: date  # Monday
    figures: dict  # the §5 figures of the cases received that week (within the period)


def weekly(session: Session, *, actor: Actor, flt: KpiFilter, at: datetime | None = None) -> list[WeekRow]:
    """The §5 figures per week of receipt, every week of the period (empty weeks included), oldest first."""
    require(actor, Action.VIEW_KPIS)
    split = plan(session, flt)
    sums = {key[0]: value for key, value in scope_sums(session, flt, split, by=("week",)).items()}
    return _week_rows(session, flt, split, sums, pending_by_week(session, flt, at or now()))


def _week_rows(session: Session, flt: KpiFilter, split, sums: dict[date, dict], pending: dict[date, int],
               counted: dict[str, dict] | None = None):
    counted = counted if counted is not None else {"t": {}, "q": {}}
    t, q = (ranked_by_week(session, m, flt, split, counted[m]) for m in ("t", "q"))
    none = Ranked.of([])
    rows = []
    week = flt.date_from - timedelta(days=flt.date_from.weekday())
    while week < flt.date_to:
        rows.append(WeekRow(week, figures(sums.get(week, EMPTY), pending=pending.get(week, 0),
                                          throughput=t.get(week, none), queries=q.get(week, none))))
        week += timedelta(days=7)
    return rows


@dataclass(frozen=True)
class InsurerRow:
    insurer_id: int
    insurer: str
    cases: int
    paid: int
    cut_rate: float | None
    cut_case_share: float | None
    success_rate: float | None


def by_insurer(session: Session, *, actor: Actor, flt: KpiFilter) -> list[InsurerRow]:
    """Cut rate, cut-case share and success rate per insurer (most cases first)."""
    require(actor, Action.VIEW_KPIS)
    sums = scope_sums(session, flt, split_period(flt.date_from, flt.date_to), by=("insurer_id",))
    return _insurer_rows(session, {key[0]: value for key, value in sums.items()})


def _insurer_rows(session: Session, sums: dict[int, dict]) -> list[InsurerRow]:
    names = dict(session.execute(select(Insurer.id, Insurer.name).where(Insurer.id.in_(list(sums)))).all())
    rows = []
    for insurer_id, s in sums.items():
        claimed = s["claimed_cents"]
        rows.append(InsurerRow(
            insurer_id, names.get(insurer_id, "?"), s["cases"], s["paid"],
            (1 - s["paid_cents"] / claimed) if s["paid"] and claimed else None,
            s["cut"] / s["paid"] if s["paid"] else None, s["success"] / s["closed"] if s["closed"] else None))
    return sorted(rows, key=lambda r: (-r.cases, r.insurer))


@dataclass(frozen=True)
class StageRow:
    stage: CaseStatus
    calls: int
    rate: float | None  # calls logged while the case was in this status ÷ cases in scope


def callbacks_by_stage(session: Session, *, actor: Actor, flt: KpiFilter) -> list[StageRow]:
    """Inbound status calls per status the case was in at the time of the call (§5 callback rate, split)."""
    require(actor, Action.VIEW_KPIS)
    return _stage_rows(add_sums(scope_sums(session, flt, split_period(flt.date_from, flt.date_to)).values()))


def _stage_rows(s: dict) -> list[StageRow]:
    return [StageRow(CaseStatus(stage), s[f"cb_{stage}"], s[f"cb_{stage}"] / s["cases"] if s["cases"] else None)
            for stage in STAGES]


def throughput_histogram(session: Session, *, actor: Actor, flt: KpiFilter, width: int = 6,
                         cap: int = 240) -> list[tuple[int, int]]:
    """(from hour, number of letters) per `width`-hour bin of the throughput time; everything from `cap` hours
    on is in the last bin. Empty bins up to the last filled one are included."""
    require(actor, Action.VIEW_KPIS)
    return _histogram(ranked(session, "t", flt, plan(session, flt)), width=width, cap=cap)


def _histogram(values: Ranked, *, width: int = 6, cap: int = 240) -> list[tuple[int, int]]:
    bins: dict[int, int] = {}
    for bucket, n in values.counts().items():
        start = min(max(bucket // BUCKETS_PER_HOUR, 0) // width * width, cap)
        bins[start] = bins.get(start, 0) + n
    if not bins:
        return []
    return [(h, bins.get(h, 0)) for h in range(0, max(bins) + width, width)]


@dataclass(frozen=True)
class FairnessRow:
    iso_week: str
    kind: str
    region: str  # first digit of the partner's postal code
    partners: int
    orders: int
    min_orders: int
    max_orders: int

    @property
    def spread(self) -> int:
        return self.max_orders - self.min_orders


@dataclass(frozen=True)
class PartnerWeek:
    iso_week: str
    partner_id: int
    partner: str
    kind: str
    region: str
    orders: int


def partner_weeks(session: Session, *, actor: Actor, flt: KpiFilter) -> list[PartnerWeek]:
    """Orders (not declined) per active partner and ISO week of the period, zero weeks included (§7)."""
    require(actor, Action.VIEW_KPIS)
    weeks = _iso_weeks(flt.date_from, flt.date_to)
    partners = session.execute(select(Partner.id, Partner.name, Partner.kind, Partner.postal_code)
                               .where(Partner.is_active.is_(True)).order_by(Partner.id)).all()
    partners = [p for p in partners if (flt.partner_kind is None or str(p.kind) == flt.partner_kind)
                and (flt.region is None or (p.postal_code or "")[:1] == flt.region)]
    counts = {(w, p): n for w, p, n in session.execute(
        select(KpiOrders.iso_week, KpiOrders.partner_id, KpiOrders.n).where(KpiOrders.iso_week.in_(weeks)))}
    return [PartnerWeek(w, p.id, p.name, str(p.kind), (p.postal_code or "")[:1], counts.get((w, p.id), 0))
            for w in weeks for p in partners]


def fairness(session: Session, *, actor: Actor, flt: KpiFilter) -> list[FairnessRow]:
    """Per ISO week, partner kind and region: how many partners, orders, and the spread (max − min)."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for row in partner_weeks(session, actor=actor, flt=flt):
        groups.setdefault((row.iso_week, row.kind, row.region), []).append(row.orders)
    return [FairnessRow(w, k, r, len(n), sum(n), min(n), max(n)) for (w, k, r), n in sorted(groups.items())]


def _iso_weeks(date_from: date, date_to: date) -> list[str]:
    weeks, day = [], date_from
    while day < date_to:
        week = iso_week(berlin_midnight_utc(day) + timedelta(hours=12))
        if not weeks or weeks[-1] != week:
            weeks.append(week)
        day += timedelta(days=1)
    return weeks



@dataclass(frozen=True)
class Dashboard:
    """Everything the KPI page shows for one filter: the figures, the previous period's, and the chart tables."""

    flt: KpiFilter
    current: dict
    previous: dict
    weeks: list[WeekRow]
    insurers: list[InsurerRow]
    stages: list[StageRow]
    histogram: list[tuple[int, int]]
    fairness: list[FairnessRow]


def dashboard(session: Session, *, actor: Actor, flt: KpiFilter, at: datetime | None = None) -> Dashboard:
    """All KPI page data in one call (what the page caches per filter and role): the period's counters are read
    once, grouped by week and insurer, and summed up for the figures, the weekly rows, the insurers and stages."""
    from core.kpis import compute_kpis

    require(actor, Action.VIEW_KPIS)
    at = at or now()
    split = plan(session, flt)
    grouped = scope_sums(session, flt, split, by=("week", "insurer_id"))
    weeks: dict[date, list[dict]] = {}
    insurers: dict[int, list[dict]] = {}
    for (week, insurer_id), sums in grouped.items():
        weeks.setdefault(week, []).append(sums)
        insurers.setdefault(insurer_id, []).append(sums)
    totals = add_sums(grouped.values())
    pending = pending_by_week(session, flt, at)
    counted: dict[str, dict] = {"t": {}, "q": {}}  # weekly bucket counts from the facts rows, reused for the period
    week_rows = _week_rows(session, flt, split, {w: add_sums(v) for w, v in weeks.items()}, pending, counted)
    throughput, queries = (ranked(session, m, flt, split, counted[m] or None) for m in ("t", "q"))
    current = figures(totals, pending=sum(pending.values()), throughput=throughput, queries=queries)
    return Dashboard(
        flt=flt, current=current, previous=compute_kpis(session, actor=actor, flt=flt.previous(), at=at),
        weeks=week_rows, insurers=_insurer_rows(session, {i: add_sums(v) for i, v in insurers.items()}),
        stages=_stage_rows(totals), histogram=_histogram(throughput), fairness=fairness(session, actor=actor, flt=flt),
    )
