"""The KPIs of §5, one implementation for the dashboard, the exports and `python -m core kpis`.

Scope: cases received in [date_from, date_to) (Berlin dates), cancelled cases excluded, narrowed by the
filters. Sums come from kpi_cells for the whole weeks of the period and from the facts rows for the days at
its edges; medians and the p90 read their rank from the hour buckets and only the values of one bucket
(core.kpi_store keeps all of it equal to the cases).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import accumulate

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.kpi_store import LETTER_DUE, bucket_of, fact_sums
from core.permissions import Action, Actor, require
from core.timeutil import berlin_midnight_utc, now
from db.models import KpiBucket, KpiCaseFacts, KpiCell, KpiQueryFacts
from db.models.kpi import CELL_COUNTERS

#: The keys of `kpis --format json`, exactly as §5 names them.
KPI_KEYS = (
    "cases", "throughput_hours_median", "throughput_hours_p90", "within_48h_share", "cut_rate", "cut_case_share",
    "success_rate", "nps", "nps_responses", "callback_rate", "query_response_hours_median",
)
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class KpiFilter:
    """A period [date_from, date_to) in Berlin dates and the optional filters of the dashboard."""

    date_from: date
    date_to: date
    damage_type: str | None = None
    insurer_id: int | None = None
    partner_kind: str | None = None
    region: str | None = None
    clerk_id: int | None = None

    def dims(self) -> dict[str, object]:
        """The filters that are set, by kpi_cells column."""
        values = {"damage_type": self.damage_type, "insurer_id": self.insurer_id,
                  "partner_kind": self.partner_kind, "region": self.region, "clerk_id": self.clerk_id}
        return {k: v for k, v in values.items() if v is not None}

    def previous(self) -> KpiFilter:
        """The period of the same length right before this one, same filters."""
        length = self.date_to - self.date_from
        return replace(self, date_from=self.date_from - length, date_to=self.date_from)


def dims_where(model, flt: KpiFilter) -> list:
    return [getattr(model, k) == v for k, v in flt.dims().items()]


# --- the period split into whole weeks and edge days ----------------------------------------------------------


@dataclass(frozen=True)
class PeriodSplit:
    weeks: tuple[date, date] | None  # [first Monday, end Monday) of the whole weeks
    edges: list[tuple[datetime, datetime]]  # UTC ranges of the days outside whole weeks


def split_period(date_from: date, date_to: date) -> PeriodSplit:
    if date_to <= date_from:
        return PeriodSplit(None, [])
    first = date_from + timedelta(days=-date_from.weekday() % 7)
    end = date_to - timedelta(days=date_to.weekday())
    if first >= end:
        return PeriodSplit(None, [(berlin_midnight_utc(date_from), berlin_midnight_utc(date_to))])
    edges = [(berlin_midnight_utc(a), berlin_midnight_utc(b)) for a, b in ((date_from, first), (end, date_to)) if a < b]
    return PeriodSplit((first, end), edges)


def _in_ranges(column, ranges: list[tuple[datetime, datetime]]):
    from sqlalchemy import or_

    return or_(*(and_(column >= a, column < b) for a, b in ranges))


# --- sums ------------------------------------------------------------------------------------------------------


def _answered():
    q = KpiQueryFacts
    return select(q.case_id, func.count().label("n")).group_by(q.case_id).subquery()


def scope_sums(session: Session, flt: KpiFilter, split: PeriodSplit, *, by: str | None = None) -> dict:
    """Counter sums of the scope, {group: {counter: n}} with by=None giving the group None."""
    out: dict = {}

    def add(group, values: dict) -> None:
        target = out.setdefault(group, dict.fromkeys(CELL_COUNTERS, 0))
        for k, v in values.items():
            target[k] += int(v or 0)  # PostgreSQL sums integers as numeric

    if split.weeks:
        c = KpiCell
        group_cols = [getattr(c, by)] if by else []
        stmt = (select(*group_cols, *(func.sum(getattr(c, k)).label(k) for k in CELL_COUNTERS))
                .where(c.week >= split.weeks[0], c.week < split.weeks[1], *dims_where(c, flt)))
        if by:
            stmt = stmt.group_by(*group_cols)
        for row in session.execute(stmt).mappings():
            add(row[by] if by else None, {k: row[k] for k in CELL_COUNTERS})
    if split.edges:
        f, answered = KpiCaseFacts, _answered()
        group_cols = [getattr(f, by)] if by else []
        stmt = (select(*group_cols, *(v.label(k) for k, v in fact_sums(answered).items()))
                .select_from(f).outerjoin(answered, answered.c.case_id == f.case_id)
                .where(f.cancelled.is_(False), _in_ranges(f.received_at, split.edges), *dims_where(f, flt)))
        if by:
            stmt = stmt.group_by(*group_cols)
        for row in session.execute(stmt).mappings():
            add(row[by] if by else None, {k: row[k] for k in CELL_COUNTERS})
    return out


def _pending_letters(session: Session, flt: KpiFilter, at: datetime) -> int:
    """Cases in scope without a letter whose 48 h have not passed at `at` (they are not yet in the share)."""
    f = KpiCaseFacts
    return session.scalar(select(func.count()).where(
        f.cancelled.is_(False), f.throughput_hours.is_(None), f.received_at > at - LETTER_DUE,
        f.received_at >= berlin_midnight_utc(flt.date_from),
        f.received_at < berlin_midnight_utc(flt.date_to), *dims_where(f, flt))) or 0


# --- ranked values (medians, p90) -----------------------------------------------------------------------------


class Ranked:
    """The values of one metric in scope, readable by rank without loading them all."""

    def __init__(self, buckets: dict[int, int], fetch: Callable[[int], list[float]]) -> None:
        self.keys = sorted(b for b, n in buckets.items() if n)
        self.cum = list(accumulate(buckets[b] for b in self.keys))
        self.fetch = fetch
        self.cache: dict[int, list[float]] = {}

    @classmethod
    def of(cls, values: list[float]) -> Ranked:
        by_bucket: dict[int, list[float]] = {}
        for v in values:
            by_bucket.setdefault(bucket_of(v), []).append(v)
        return cls({b: len(vs) for b, vs in by_bucket.items()}, lambda b: by_bucket[b])

    def counts(self) -> dict[int, int]:
        """How many values fall into each bucket (core.kpi_store.bucket_of)."""
        return {b: c - p for b, c, p in zip(self.keys, self.cum, [0, *self.cum])}

    def __len__(self) -> int:
        return self.cum[-1] if self.cum else 0

    def bucket_at(self, rank: int) -> int:
        return self.keys[bisect_right(self.cum, rank)]

    def prime(self, bucket: int, values: list[float]) -> None:
        """Give the values of a bucket read elsewhere (one query for many weeks)."""
        self.cache[bucket] = sorted(values)

    def at(self, rank: int) -> float:
        i = bisect_right(self.cum, rank)
        bucket = self.keys[i]
        if bucket not in self.cache:
            self.cache[bucket] = sorted(self.fetch(bucket))
        return self.cache[bucket][rank - (self.cum[i - 1] if i else 0)]


def quantile_ranks(n: int) -> set[int]:
    """The ranks median() and p90() read for n values."""
    if n == 0:
        return set()
    j = 9 * (n - 1) // 10
    return {n // 2, max(n // 2 - 1, 0), j, min(j + 1, n - 1)}


def median(values: Ranked) -> float | None:
    """statistics.median of the values; None when there are none."""
    n = len(values)
    if n == 0:
        return None
    if n % 2:
        return values.at(n // 2)
    return (values.at(n // 2 - 1) + values.at(n // 2)) / 2


def p90(values: Ranked) -> float | None:
    """statistics.quantiles(values, n=10, method="inclusive")[-1]; a single value is its own p90."""
    n = len(values)
    if n == 0:
        return None
    if n == 1:
        return values.at(0)
    j, delta = divmod(9 * (n - 1), 10)
    return (values.at(j) * (10 - delta) + values.at(j + 1) * delta) / 10


def _metric_columns(metric: str):
    """(value column, bucket column, week column, extra FROM/WHERE) of a metric."""
    if metric == "t":
        f = KpiCaseFacts
        return f.throughput_hours, f.t_bucket, f.week, f.cancelled
    q = KpiQueryFacts
    return q.hours, q.bucket, q.week, q.cancelled


def _values_stmt(metric: str, *, joined: bool = True):
    """SELECT of the metric's values of non-cancelled cases; `joined` adds the case facts (for received_at and
    the filter columns) to the query facts."""
    value, bucket, week, cancelled = _metric_columns(metric)
    stmt = select(value).where(cancelled.is_(False), value.is_not(None))
    if metric == "q" and joined:
        f = KpiCaseFacts
        stmt = stmt.join(f, f.case_id == KpiQueryFacts.case_id)
    return stmt, bucket, week


def ranked(session: Session, metric: str, flt: KpiFilter, split: PeriodSplit) -> Ranked:
    """The metric's values in scope ("t": throughput hours, "q": query response hours)."""
    base, bucket_col, week_col = _values_stmt(metric)
    plain = _values_stmt(metric, joined=False)[0]
    f = KpiCaseFacts
    if flt.dims() or split.weeks is None:  # filtered, or days only: read the values (a smaller set)
        where = [*dims_where(f, flt), scope_where(split)]
        return Ranked.of(list(session.scalars(base.where(*where))))
    edge_values = list(session.scalars(base.where(_in_ranges(f.received_at, split.edges)))) if split.edges else []
    b = KpiBucket
    buckets: dict[int, int] = dict(session.execute(
        select(b.bucket, func.sum(b.n)).where(b.metric == metric, b.week >= split.weeks[0], b.week < split.weeks[1])
        .group_by(b.bucket)).all())
    edge_by_bucket: dict[int, list[float]] = {}
    for v in edge_values:
        key = bucket_of(v)
        edge_by_bucket.setdefault(key, []).append(v)
        buckets[key] = buckets.get(key, 0) + 1

    def fetch(bucket: int) -> list[float]:
        weeks = [week_col >= split.weeks[0], week_col < split.weeks[1]]
        return [*session.scalars(plain.where(bucket_col == bucket, *weeks)), *edge_by_bucket.get(bucket, [])]

    return Ranked(buckets, fetch)


def ranked_by_week(session: Session, metric: str, flt: KpiFilter, split: PeriodSplit) -> dict[date, Ranked]:
    """The metric's values in scope per week (Monday) of receipt."""
    base, bucket_col, week_col = _values_stmt(metric)
    plain = _values_stmt(metric, joined=False)[0]
    f = KpiCaseFacts
    lists: dict[date, list[float]] = {}
    if flt.dims() or split.weeks is None:
        where = [*dims_where(f, flt), scope_where(split)]
    elif split.edges:
        where = [_in_ranges(f.received_at, split.edges)]
    else:
        where = None
    if where is not None:
        for value, week in session.execute(base.add_columns(week_col).where(*where)):
            lists.setdefault(week, []).append(value)
    out = {week: Ranked.of(values) for week, values in lists.items()}
    if flt.dims() or split.weeks is None:
        return out
    b = KpiBucket
    per_week: dict[date, dict[int, int]] = {}
    for week, bucket, n in session.execute(
            select(b.week, b.bucket, b.n).where(b.metric == metric, b.week >= split.weeks[0],
                                                b.week < split.weeks[1], b.n != 0)):
        per_week.setdefault(week, {})[bucket] = n
    pairs = set()
    for week, buckets in per_week.items():
        out[week] = Ranked(buckets, lambda bucket, w=week: list(
            session.scalars(plain.where(bucket_col == bucket, week_col == w))))
        pairs |= {(week, out[week].bucket_at(r)) for r in quantile_ranks(len(out[week]))}
    read: dict[tuple[date, int], list[float]] = {pair: [] for pair in pairs}
    weeks_of: dict[int, list[date]] = {}
    for week, bucket in sorted(pairs):
        weeks_of.setdefault(bucket, []).append(week)
    if weeks_of:  # one statement; each OR term is an index range (bucket, week)
        terms = [and_(bucket_col == b, week_col.in_(ws)) for b, ws in weeks_of.items()]
        for value, week, bucket in session.execute(plain.add_columns(week_col, bucket_col).where(or_(*terms))):
            read[(week, bucket)].append(value)
    for (week, bucket), values in read.items():
        out[week].prime(bucket, values)
    return out


def scope_where(split: PeriodSplit):
    f = KpiCaseFacts
    ranges = list(split.edges)
    if split.weeks:
        ranges.append((berlin_midnight_utc(split.weeks[0]), berlin_midnight_utc(split.weeks[1])))
    return _in_ranges(f.received_at, ranges) if ranges else f.case_id.is_(None)


# --- the figures ----------------------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def figures(sums: dict, *, pending: int, throughput: Ranked, queries: Ranked) -> dict[str, float | int | None]:
    """The §5 figures from the counter sums and the ranked values of a scope."""
    s = sums
    claimed = s["claimed_cents"]
    return {
        "cases": s["cases"],
        "throughput_hours_median": median(throughput),
        "throughput_hours_p90": p90(throughput),
        "within_48h_share": _ratio(s["within_48h"], s["letters"] + s["no_letter"] - pending),
        "cut_rate": (1 - s["paid_cents"] / claimed) if s["paid"] and claimed else None,
        "cut_case_share": _ratio(s["cut"], s["paid"]),
        "success_rate": _ratio(s["success"], s["closed"]),
        "nps": _ratio(100 * (s["nps_promoters"] - s["nps_detractors"]), s["nps_n"]),
        "nps_responses": s["nps_n"],
        "callback_rate": _ratio(s["callbacks"], s["cases"]),
        "query_response_hours_median": median(queries),
    }


def compute_kpis(session: Session, *, actor: Actor, flt: KpiFilter, at: datetime | None = None) -> dict:
    """All §5 figures of the filter's scope, keys as KPI_KEYS (numbers, or None)."""
    require(actor, Action.VIEW_KPIS)
    return _compute(session, flt, at or now())


def _compute(session: Session, flt: KpiFilter, at: datetime) -> dict:
    split = split_period(flt.date_from, flt.date_to)
    sums = scope_sums(session, flt, split).get(None, dict.fromkeys(CELL_COUNTERS, 0))
    return figures(sums, pending=_pending_letters(session, flt, at), throughput=ranked(session, "t", flt, split),
                   queries=ranked(session, "q", flt, split))




def make_filter(
    session: Session, *, date_from: date, date_to: date, damage_type: str | None = None, insurer: str | None = None,
    partner_kind: str | None = None, region: str | None = None, clerk: str | None = None,
) -> KpiFilter:
    """A KpiFilter from names as a user types them (insurer name, clerk login); German errors."""
    from core.enums import DamageType, PartnerKind
    from core.i18n import t
    from db.models import Insurer, User

    if date_to <= date_from:
        raise ValidationError(t("kpi.period_order"), field="date_to")
    if damage_type is not None and damage_type not in {d.value for d in DamageType}:
        raise ValidationError(t("kpi.unknown_damage_type", value=damage_type), field="damage_type")
    if partner_kind is not None and partner_kind not in {k.value for k in PartnerKind}:
        raise ValidationError(t("kpi.unknown_partner_kind", value=partner_kind), field="partner_kind")
    if region is not None and not (len(region) == 1 and region.isdigit()):
        raise ValidationError(t("kpi.bad_region"), field="region")
    insurer_id = clerk_id = None
    if insurer is not None:
        insurer_id = session.scalar(select(Insurer.id).where(func.lower(Insurer.name) == insurer.strip().lower()))
        if insurer_id is None:
            raise ValidationError(t("kpi.unknown_insurer", value=insurer), field="insurer")
    if clerk is not None:
        clerk_id = session.scalar(select(User.id).where(User.username == clerk.strip().lower()))
        if clerk_id is None:
            raise ValidationError(t("kpi.unknown_clerk", value=clerk), field="clerk")
    return KpiFilter(date_from, date_to, damage_type, insurer_id, partner_kind, region, clerk_id)


def kpis_csv(figures: dict) -> str:
    """The figures as CSV: a header row with the §5 keys and one row of values (empty for null)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(KPI_KEYS)
    writer.writerow(["" if figures[k] is None else figures[k] for k in KPI_KEYS])
    return out.getvalue()
