"""The KPIs of §5, one implementation for the dashboard, the exports and `python -m core kpis`.

Scope: cases received in [date_from, date_to) (Berlin dates), cancelled cases excluded, narrowed by the
filters. Sums come from kpi_cells for the whole weeks of the period and from the facts rows for the days at
its edges; medians and the p90 read their rank from the hour buckets and only the values of one bucket
(core.kpi_store keeps all of it equal to the cases).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from itertools import accumulate

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.kpi_store import LETTER_DUE, bucket_of, fact_sums, week_of
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
    stored: tuple[str, str] | None = None  # the kpi_buckets rows (dim, value) of the whole weeks' scope (plan())


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
    return or_(*(and_(column >= a, column < b) for a, b in ranges))


# --- sums ------------------------------------------------------------------------------------------------------


def scope_sums(session: Session, flt: KpiFilter, split: PeriodSplit, *, by: tuple[str, ...] = ()) -> dict:
    """Counter sums of the scope per group of the `by` columns: {(value, ...): {counter: n}}; by=() gives the
    single group ()."""
    out: dict = {}

    def add(rows) -> None:
        for row in rows:
            target = out.setdefault(tuple(row[b] for b in by), dict.fromkeys(CELL_COUNTERS, 0))
            for k in CELL_COUNTERS:
                target[k] += int(row[k] or 0)  # PostgreSQL sums integers as numeric

    if split.weeks:
        c = KpiCell
        stmt = (select(*(getattr(c, b) for b in by), *(func.sum(getattr(c, k)).label(k) for k in CELL_COUNTERS))
                .where(c.week >= split.weeks[0], c.week < split.weeks[1], *dims_where(c, flt)))
        add(session.execute(stmt.group_by(*(getattr(c, b) for b in by)) if by else stmt).mappings())
    if split.edges:
        f = KpiCaseFacts
        stmt = (select(*(getattr(f, b) for b in by), *(v.label(k) for k, v in fact_sums().items()))
                .select_from(f).where(f.cancelled.is_(False), _in_ranges(f.received_at, split.edges), *dims_where(f, flt)))
        add(session.execute(stmt.group_by(*(getattr(f, b) for b in by)) if by else stmt).mappings())
    return out


def add_sums(groups) -> dict:
    """The sum of several counter dicts."""
    total = dict.fromkeys(CELL_COUNTERS, 0)
    for sums in groups:
        for k in CELL_COUNTERS:
            total[k] += sums[k]
    return total


def pending_by_week(session: Session, flt: KpiFilter, at: datetime) -> dict[date, int]:
    """Per week: the cases in scope without a letter whose 48 h have not passed at `at` (not yet in the share).
    The week bound (implied by the receipt bound) lets the database seek into the last weeks of an index led by
    a filter dimension instead of reading all of that dimension's rows."""
    f = KpiCaseFacts
    since = at - LETTER_DUE
    return dict(session.execute(select(f.week, func.count()).where(
        f.cancelled.is_(False), f.throughput_hours.is_(None), f.received_at > since, f.week >= week_of(since),
        f.received_at >= berlin_midnight_utc(flt.date_from), f.received_at < berlin_midnight_utc(flt.date_to),
        *dims_where(f, flt)).group_by(f.week)).all())


# --- ranked values (medians, p90) -----------------------------------------------------------------------------


class Ranked:
    """The values of one metric in scope, readable by rank without loading them all: the buckets' value counts
    (all of them, or only the spans of the buckets the quantiles need) and a reader of one bucket's values."""

    def __init__(self, buckets: dict[int, int], fetch: Callable[[int], list[float]]) -> None:
        keys = sorted(b for b, n in buckets.items() if n)
        ends = list(accumulate(buckets[b] for b in keys))
        self._set(len_=ends[-1] if ends else 0, keys=keys, starts=[0, *ends[:-1]], ends=ends, fetch=fetch)

    @classmethod
    def sparse(cls, total: int, spans: list[tuple[int, int, int]], fetch: Callable[[int], list[float]]) -> Ranked:
        """`total` values of which only some buckets are known: (bucket, values before it, values in it)."""
        self = cls.__new__(cls)
        spans = sorted(spans)
        self._set(len_=total, keys=[b for b, _, _ in spans], starts=[s for _, s, _ in spans],
                  ends=[s + n for _, s, n in spans], fetch=fetch)
        return self

    def _set(self, *, len_: int, keys: list[int], starts: list[int], ends: list[int], fetch) -> None:
        self.len, self.keys, self.starts, self.ends, self.fetch = len_, keys, starts, ends, fetch
        self.cache: dict[int, list[float]] = {}

    @classmethod
    def of(cls, values: list[float]) -> Ranked:
        by_bucket: dict[int, list[float]] = {}
        for v in values:
            by_bucket.setdefault(bucket_of(v), []).append(v)
        return cls({b: len(vs) for b, vs in by_bucket.items()}, lambda b: by_bucket[b])

    def counts(self) -> dict[int, int]:
        """How many values fall into each known bucket (core.kpi_store.bucket_of)."""
        return {b: e - s for b, s, e in zip(self.keys, self.starts, self.ends)}

    def __len__(self) -> int:
        return self.len

    def _index(self, rank: int) -> int:
        i = bisect_right(self.ends, rank)
        if i == len(self.keys) or self.starts[i] > rank:
            raise LookupError(f"rank {rank} lies in no known bucket")
        return i

    def bucket_at(self, rank: int) -> int:
        return self.keys[self._index(rank)]

    def prime(self, bucket: int, values: list[float]) -> None:
        """Give the values of a bucket read elsewhere (one query for many weeks)."""
        self.cache[bucket] = sorted(values)

    def at(self, rank: int) -> float:
        i = self._index(rank)
        bucket = self.keys[i]
        if bucket not in self.cache:
            self.cache[bucket] = sorted(self.fetch(bucket))
        return self.cache[bucket][rank - self.starts[i]]


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


@dataclass(frozen=True)
class _Metric:
    """Where a metric's values live: throughput hours ("t") on the case facts, query response hours ("q") on
    the query facts; both rows carry the case's week, receipt and filter dimensions."""

    name: str
    model: type
    value: object
    bucket: object

    @property
    def week(self):
        return self.model.week

    def select(self, *columns):
        return select(*columns).where(self.model.cancelled.is_(False), self.value.is_not(None))

    def scope(self, flt: KpiFilter, split: PeriodSplit) -> list:
        """The filters, whole weeks by their week column (read from the covering `…_scan` index), edge days by
        received_at."""
        m = self.model
        terms = [and_(m.week >= split.weeks[0], m.week < split.weeks[1])] if split.weeks else []
        terms += [and_(m.received_at >= a, m.received_at < b) for a, b in split.edges]
        return [*dims_where(m, flt), or_(*terms) if terms else m.week.is_(None)]

    def edges(self, split: PeriodSplit):
        return _in_ranges(self.model.received_at, split.edges)


def _metric(name: str) -> _Metric:
    if name == "t":
        f = KpiCaseFacts
        return _Metric(name, f, f.throughput_hours, f.t_bucket)
    q = KpiQueryFacts
    return _Metric(name, q, q.hours, q.bucket)


def plan(session: Session, flt: KpiFilter) -> PeriodSplit:
    """The filter's period split, with the kpi_buckets rows (dim, value) that count exactly the cases of its whole
    weeks: ("", "") without a filter, a dimension's own rows for a filter on one, and for two or more filters the
    rows of one of them whose cases all meet the others too (partner kind "appraiser" adds nothing to damage type
    "accident" when only appraisers take accidents). None: no such rows, or no whole week (read the facts rows)."""
    split = split_period(flt.date_from, flt.date_to)
    dims = flt.dims()
    if split.weeks is None:
        return split
    if len(dims) <= 1:
        return replace(split, stored=next(((d, str(v)) for d, v in dims.items()), ("", "")))
    c = KpiCell  # non-cancelled cases of the whole weeks: meeting all filters, and meeting each one
    terms = dims_where(c, flt)
    both, *each = session.execute(select(*(func.coalesce(func.sum(case((t, c.cases), else_=0)), 0)
                                           for t in (and_(*terms), *terms)))
                                  .where(c.week >= split.weeks[0], c.week < split.weeks[1])).one()
    # a subset of a filter's cases with as many cases is all of them
    return replace(split, stored=next(((d, str(v)) for (d, v), n in zip(dims.items(), each) if n == both), None))


def _stored(metric: str, key: tuple[str, str], split: PeriodSplit) -> list:
    b = KpiBucket
    return [b.metric == metric, b.dim == key[0], b.value == key[1], b.week >= split.weeks[0], b.week < split.weeks[1]]


def ranked(session: Session, metric: str, flt: KpiFilter, split: PeriodSplit,
           by_week: dict[date, dict[int, int]] | None = None) -> Ranked:
    """The metric's values in scope ("t": throughput hours, "q": query response hours), readable by rank.
    `by_week`: the scope's bucket counts per week, if ranked_by_week already counted them from the facts rows."""
    m = _metric(metric)
    key = split.stored
    if key is None:  # bucket counts by the database from the facts rows, then one bucket's values
        where = m.scope(flt, split)
        if by_week is None:
            counts = dict(session.execute(m.select(m.bucket, func.count()).where(*where).group_by(m.bucket)).all())
        else:
            counts = Counter()
            for buckets in by_week.values():
                counts.update(buckets)
        return Ranked(counts, lambda bucket: list(session.scalars(m.select(m.value).where(m.bucket == bucket, *where))))
    dims = dims_where(m.model, flt)
    b = KpiBucket
    buckets: dict[int, int] = {k: int(n) for k, n in session.execute(
        select(b.bucket, func.sum(b.n)).where(*_stored(metric, key, split)).group_by(b.bucket))}
    in_period = and_(m.week >= split.weeks[0], m.week < split.weeks[1])
    if split.edges:  # the edge days' bucket counts from the facts rows, added
        for k, n in session.execute(m.select(m.bucket, func.count()).where(m.edges(split), *dims).group_by(m.bucket)):
            buckets[k] = buckets.get(k, 0) + n
        edge_weeks = [week_of(start) for start, _ in split.edges]  # first: the (bucket, week, value) index skips
        in_period = or_(in_period, and_(m.week.in_(edge_weeks), m.edges(split)))  # the other weeks' rows
    return Ranked(buckets, lambda bucket: list(session.scalars(
        m.select(m.value).where(m.bucket == bucket, in_period, *dims))))


def _stored_spans(session: Session, metric: str, key: tuple[str, str], split: PeriodSplit):
    """Per whole week: (week, values in scope, [(bucket, values before it, values in it)]) of only the buckets
    that hold a rank median() or p90() reads (quantile_ranks), found by the database with running sums."""
    b = KpiBucket
    inner = select(
        b.week, b.bucket, b.n, func.sum(b.n).over(partition_by=b.week, order_by=b.bucket).label("end"),
        func.sum(b.n).over(partition_by=b.week).label("total"),
    ).where(*_stored(metric, key, split), b.n != 0).subquery()
    r = inner.c
    j = 9 * (r.total - 1) // 10
    ranks = (r.total // 2, r.total // 2 - 1, j, j + 1)
    rows = session.execute(select(r.week, r.total, r.bucket, r.end - r.n, r.n)
                           .where(or_(*(and_(r.end - r.n <= x, x < r.end) for x in ranks))))
    out: dict[date, tuple[int, list]] = {}
    for week, total, bucket, start, n in rows:
        out.setdefault(week, (int(total), []))[1].append((bucket, int(start), int(n)))
    return [(week, total, spans) for week, (total, spans) in out.items()]


def ranked_by_week(session: Session, metric: str, flt: KpiFilter, split: PeriodSplit,
                   counted: dict[date, dict[int, int]] | None = None) -> dict[date, Ranked]:
    """The metric's values in scope per week (Monday) of receipt, readable by rank; the values the medians and
    p90s need are read with one statement for all weeks. Whole weeks come from kpi_buckets where it holds the
    scope (split.stored, see plan()), the others (edge days, filters that narrow each other) from the facts rows."""
    m = _metric(metric)
    key = split.stored
    dims = dims_where(m.model, flt)
    where = m.scope(flt, split) if key is None else ([m.edges(split), *dims] if split.edges else [])
    out: dict[date, Ranked] = {}
    needed: dict[tuple[bool, int], set[date]] = {}  # (read with `where`?, bucket) -> weeks
    if where:
        per_week: dict[date, dict[int, int]] = {}
        for week, bucket, n in session.execute(
                m.select(m.week, m.bucket, func.count()).where(*where).group_by(m.week, m.bucket)):
            per_week.setdefault(week, {})[bucket] = n
        if counted is not None and key is None:  # every week from the facts rows: ranked() can reuse the counts
            counted.update(per_week)
        for week, buckets in per_week.items():
            out[week] = Ranked(buckets, lambda bucket, w=week: list(session.scalars(
                m.select(m.value).where(m.week == w, m.bucket == bucket, *where))))
            for rank in quantile_ranks(len(out[week])):
                needed.setdefault((True, out[week].bucket_at(rank)), set()).add(week)
    if key is not None:
        for week, total, spans in _stored_spans(session, metric, key, split):
            out[week] = Ranked.sparse(total, spans, lambda bucket, w=week: list(session.scalars(
                m.select(m.value).where(m.week == w, m.bucket == bucket, *dims))))
            for bucket, _, _ in spans:
                needed.setdefault((False, bucket), set()).add(week)
    read: dict[tuple[date, int], list[float]] = {}
    for facts_only in (False, True):
        wanted = {(w, b) for (ff, b), ws in needed.items() if ff == facts_only for w in ws}
        if not wanted:
            continue
        if facts_only:  # the rows in scope of the wanted buckets (an OR of (bucket, weeks) terms, tested on every
            buckets = sorted({b for _, b in wanted})  # row of the scope, took longer than reading a few rows more)
            stmt = m.select(m.value, m.week, m.bucket).where(m.bucket.in_(buckets), *where)
        else:  # per bucket an index seek into its weeks
            terms = [and_(m.bucket == b, m.week.in_(sorted(ws))) for (ff, b), ws in needed.items() if not ff]
            stmt = m.select(m.value, m.week, m.bucket).where(or_(*terms), *dims)
        for value, week, bucket in session.execute(stmt):
            if (week, bucket) in wanted:
                read.setdefault((week, bucket), []).append(value)
    for (_, bucket), weeks in needed.items():
        for week in weeks:
            out[week].prime(bucket, read.get((week, bucket), []))
    return out


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
    split = plan(session, flt)
    sums = add_sums(scope_sums(session, flt, split).values())
    pending = sum(pending_by_week(session, flt, at).values())
    return figures(sums, pending=pending, throughput=ranked(session, "t", flt, split),
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
