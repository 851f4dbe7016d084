"""The KPI store (db.models.kpi), kept equal to a full recomputation in the transaction of every change.

How: a session hook notes which cases (and assignments) a flush touched; just before the commit, the facts of
those cases are computed again from the database, and the difference between the old and the new facts is
added to the summary tables (kpi_cells, kpi_buckets) — one place, whatever service made the change. Bulk
writers that bypass the ORM (the demo seed) call `rebuild`. `verify` compares the store with a rebuild.

On PostgreSQL the facts rows of the touched cases are locked (in id order) before they are read, so two
transactions changing the same case add their differences one after the other; the summary rows are
incremented in key order (`INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice

from sqlalchemy import String, Table, case, cast, delete, event, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, attributes

from core.enums import CaseStatus
from core.timeutil import to_berlin
from db.models import (
    Assignment,
    Case,
    CaseCallback,
    CaseCount,
    InsurerQuery,
    KpiBucket,
    KpiCaseFacts,
    KpiCell,
    KpiOrders,
    KpiQueryFacts,
    SurveyAnswer,
)
from db.models.kpi import CELL_COUNTERS

CELL_KEY = ("week", "damage_type", "insurer_id", "partner_kind", "region", "clerk_id")
BUCKET_KEY = ("metric", "dim", "value", "week", "bucket")
STAGES = tuple(s.value for s in CaseStatus)
LETTER_DUE = timedelta(hours=48)
_CHUNK = 500
_CASES_KEY, _ORDERS_KEY = "kpi_cases", "kpi_orders"


def week_of(at: datetime) -> date:
    """Monday of the Berlin week of an instant."""
    day = to_berlin(at).date()
    return day - timedelta(days=day.weekday())


def region_of(postal_code: str | None) -> str:
    """The postal-code zone (first digit) a case belongs to; "" when unknown."""
    first = (postal_code or "")[:1]
    return first if first.isdigit() else ""


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


#: Buckets per hour of kpi_buckets: a quantile reads one bucket's values, so finer buckets read fewer rows.
BUCKETS_PER_HOUR = 4
#: The filter dimensions kpi_buckets is also kept per value of (a filter on one of them reads no facts rows).
BUCKET_DIMS = CELL_KEY[1:]


def bucket_of(hours: float) -> int:
    """The kpi_buckets bucket of a duration (quarter hours, rounded down)."""
    return math.floor(hours * BUCKETS_PER_HOUR)


@dataclass
class CaseInput:
    """Everything about one case that the KPIs read."""

    case_id: int
    received_at: datetime
    status: str
    damage_type: str
    insurer_id: int
    partner_kind: str | None
    postal_code: str | None
    clerk_id: int | None
    claim_letter_sent_at: datetime | None
    paid_at: datetime | None
    amount_paid_cents: int | None
    amount_claimed_cents: int | None
    partner_id: int | None
    nps_score: int | None = None
    callbacks: Counter = field(default_factory=Counter)  # status at call -> count
    queries: list[tuple[datetime, datetime]] = field(default_factory=list)  # answered: (received, answered), by id


def case_facts(c: CaseInput) -> dict:
    """The kpi_case_facts row of a case (§5 definitions, per case)."""
    letter = c.claim_letter_sent_at
    hours = hours_between(c.received_at, letter) if letter is not None else None
    paid, claimed = c.amount_paid_cents or 0, c.amount_claimed_cents or 0
    return {
        "case_id": c.case_id, "week": week_of(c.received_at), "received_at": c.received_at,
        "cancelled": c.status == CaseStatus.CANCELLED, "damage_type": str(c.damage_type),
        "insurer_id": c.insurer_id, "partner_kind": str(c.partner_kind or ""), "region": region_of(c.postal_code),
        "clerk_id": c.clerk_id or 0, "throughput_hours": hours, "t_bucket": None if hours is None else bucket_of(hours),
        "within_48h": letter is not None and letter - c.received_at <= LETTER_DUE, "paid": c.paid_at is not None,
        "paid_cents": paid, "claimed_cents": claimed, "closed": c.status == CaseStatus.CLOSED,
        "nps_score": c.nps_score, **{f"cb_{s}": c.callbacks.get(s, 0) for s in STAGES},
        "queries_answered": len(c.queries), "status": str(c.status), "partner_id": c.partner_id or 0,
    }


def query_facts(c: CaseInput, facts: dict | None = None) -> list[dict]:
    """The kpi_query_facts rows of a case: one per answered insurer query, with the case's dimensions."""
    f = facts or case_facts(c)
    case_part = {k: f[k] for k in ("case_id", "week", "received_at", "cancelled", *CELL_KEY[1:])}
    rows = []
    for n, (received, answered) in enumerate(c.queries):
        hours = hours_between(received, answered)
        rows.append({**case_part, "n": n, "hours": hours, "bucket": bucket_of(hours)})
    return rows


def cell_contribution(f: dict) -> tuple[tuple, dict[str, int]] | None:
    """(cell key, counters) a facts row adds to kpi_cells; None for a cancelled case."""
    if f["cancelled"]:
        return None
    letter, score = f["throughput_hours"] is not None, f["nps_score"]
    counts = {
        "cases": 1, "letters": int(letter), "within_48h": int(f["within_48h"]), "no_letter": int(not letter),
        "paid": int(f["paid"]), "paid_cents": f["paid_cents"] if f["paid"] else 0,
        "claimed_cents": f["claimed_cents"] if f["paid"] else 0,
        "cut": int(f["paid"] and f["paid_cents"] < f["claimed_cents"]), "closed": int(f["closed"]),
        "success": int(f["closed"] and f["paid_cents"] > 0), "nps_n": int(score is not None),
        "nps_promoters": int(score is not None and score >= 9), "nps_detractors": int(score is not None and score <= 6),
        "callbacks": sum(f[f"cb_{s}"] for s in STAGES), **{f"cb_{s}": f[f"cb_{s}"] for s in STAGES},
        "queries_answered": f["queries_answered"],
    }
    return tuple(f[k] for k in CELL_KEY), counts


def bucket_keys(f: dict) -> list[tuple[str, str]]:
    """The (dim, value) rows of kpi_buckets a facts (or query facts) row counts in: all cases, and its value of
    each filter dimension."""
    return [("", ""), *((d, str(f[d])) for d in BUCKET_DIMS)]


def bucket_contribution(f: dict, queries: list[dict]) -> Counter:
    """(metric, dim, value, week, bucket) -> count a case adds to kpi_buckets."""
    out: Counter = Counter()
    if f["cancelled"]:
        return out
    keys = bucket_keys(f)
    if f["t_bucket"] is not None:
        for dim, value in keys:
            out[("t", dim, value, f["week"], f["t_bucket"])] += 1
    for q in queries:
        for dim, value in keys:
            out[("q", dim, value, q["week"], q["bucket"])] += 1
    return out


#: The board filters case_counts is also kept per value of.
COUNT_DIMS = ("damage_type", "insurer_id", "partner_id", "clerk_id")
COUNT_KEY = ("dim", "value", "status")


def count_contribution(f: dict) -> list[tuple[str, str, str]]:
    """The case_counts rows (dim, value, status) a case counts in: all cases, and its value of each dimension."""
    return [("", "", f["status"]), *((d, str(f[d]), f["status"]) for d in COUNT_DIMS)]


# --- reading cases --------------------------------------------------------------------------------------------


def _chunks(ids, size: int = _CHUNK):
    it = iter(ids)
    while chunk := list(islice(it, size)):
        yield chunk


def load_inputs(session: Session, case_ids: list[int]) -> list[CaseInput]:
    """The KPI inputs of these cases, read with one query per table."""
    cols = (Case.id, Case.received_at, Case.status, Case.damage_type, Case.insurer_id, Case.partner_kind,
            Case.postal_code, Case.clerk_id, Case.claim_letter_sent_at, Case.paid_at, Case.amount_paid_cents,
            Case.amount_claimed_cents, Case.partner_id)
    inputs = {r[0]: CaseInput(*r) for r in session.execute(select(*cols).where(Case.id.in_(case_ids)))}
    for case_id, score in session.execute(
            select(SurveyAnswer.case_id, SurveyAnswer.score).where(SurveyAnswer.case_id.in_(case_ids))):
        inputs[case_id].nps_score = score
    for case_id, stage, n in session.execute(
            select(CaseCallback.case_id, CaseCallback.status_at_call, func.count())
            .where(CaseCallback.case_id.in_(case_ids)).group_by(CaseCallback.case_id, CaseCallback.status_at_call)):
        inputs[case_id].callbacks[stage] += n
    for case_id, received, answered in session.execute(
            select(InsurerQuery.case_id, InsurerQuery.received_at, InsurerQuery.answered_at)
            .where(InsurerQuery.case_id.in_(case_ids), InsurerQuery.answered_at.is_not(None))
            .order_by(InsurerQuery.id)):
        inputs[case_id].queries.append((received, answered))
    return [inputs[i] for i in sorted(inputs)]


# --- writing the store ----------------------------------------------------------------------------------------


def _upsert(session: Session, table: Table, keys: tuple[str, ...], rows: list[dict], *, add: bool) -> None:
    """Insert rows; on a key conflict add the counters (add=True) or replace the values."""
    if not rows:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table)
    values = [c.name for c in table.columns if c.name not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: (table.c[c] + stmt.excluded[c]) if add else stmt.excluded[c] for c in values},
    )
    session.execute(stmt, rows)


def refresh_cases(session: Session, case_ids: set[int] | list[int]) -> None:
    """Compute the facts of these cases again and add the difference to the summary tables."""
    cell_delta: dict[tuple, Counter] = {}
    bucket_delta: Counter = Counter()
    count_delta: Counter = Counter()
    for chunk in _chunks(sorted(case_ids)):
        facts_t, queries_t = KpiCaseFacts.__table__, KpiQueryFacts.__table__
        old = {r["case_id"]: dict(r) for r in session.execute(
            select(facts_t).where(facts_t.c.case_id.in_(chunk)).order_by(facts_t.c.case_id).with_for_update()
        ).mappings()}
        old_queries: dict[int, list[dict]] = {}
        for q in session.execute(select(queries_t).where(queries_t.c.case_id.in_(chunk))).mappings():
            old_queries.setdefault(q["case_id"], []).append(dict(q))
        new_rows, new_queries = [], []
        for inp in load_inputs(session, chunk):
            facts = case_facts(inp)
            queries = query_facts(inp, facts)
            new_rows.append(facts)
            new_queries += queries
            _add_contribution(cell_delta, bucket_delta, facts, queries, sign=1)
            count_delta.update(count_contribution(facts))
        for case_id, facts in old.items():
            _add_contribution(cell_delta, bucket_delta, facts, old_queries.get(case_id, []), sign=-1)
            count_delta.subtract(count_contribution(facts))
        session.execute(delete(KpiQueryFacts).where(KpiQueryFacts.case_id.in_(chunk)))
        _upsert(session, KpiCaseFacts.__table__, ("case_id",), new_rows, add=False)
        if new_queries:
            session.execute(KpiQueryFacts.__table__.insert(), new_queries)
    cells = [dict(zip(CELL_KEY, key)) | {c: d.get(c, 0) for c in CELL_COUNTERS}
             for key, d in sorted(cell_delta.items()) if any(d.values())]
    _upsert(session, KpiCell.__table__, CELL_KEY, cells, add=True)
    buckets = [dict(zip(BUCKET_KEY, key), n=n) for key, n in sorted(bucket_delta.items()) if n]
    _upsert(session, KpiBucket.__table__, BUCKET_KEY, buckets, add=True)
    counts = [dict(zip(COUNT_KEY, key), n=n) for key, n in sorted(count_delta.items()) if n]
    _upsert(session, CaseCount.__table__, COUNT_KEY, counts, add=True)


def _add_contribution(cells: dict, buckets: Counter, facts: dict, queries: list[dict], *, sign: int) -> None:
    part = cell_contribution(facts)
    if part is not None:
        key, counts = part
        target = cells.setdefault(key, Counter())
        for name, value in counts.items():
            target[name] += sign * value
    for key, n in bucket_contribution(facts, queries).items():
        buckets[key] += sign * n


def add_orders(session: Session, delta: Counter) -> None:
    """Add (iso_week, partner_id) -> count differences to kpi_orders."""
    rows = [{"iso_week": w, "partner_id": p, "n": n} for (w, p), n in sorted(delta.items()) if n]
    _upsert(session, KpiOrders.__table__, ("iso_week", "partner_id"), rows, add=True)


def rebuild(session: Session) -> None:
    """Recompute the whole store from the cases and assignments (after bulk inserts, and to verify)."""
    for model in (KpiQueryFacts, KpiCaseFacts, KpiCell, KpiBucket, CaseCount, KpiOrders):
        session.execute(delete(model))
    ids = session.scalars(select(Case.id).order_by(Case.id)).all()
    for chunk in _chunks(ids, 5000):
        inputs = load_inputs(session, chunk)
        facts = [case_facts(i) for i in inputs]
        queries = [q for i in inputs for q in query_facts(i)]
        session.execute(KpiCaseFacts.__table__.insert(), facts)
        if queries:
            session.execute(KpiQueryFacts.__table__.insert(), queries)
    summarise(session)


def fact_sums() -> dict:
    """The kpi_cells counters as SQL sums over kpi_case_facts rows (non-cancelled rows are the caller's WHERE)."""
    f = KpiCaseFacts
    cb = [getattr(f, f"cb_{s}") for s in STAGES]
    sums = {
        "cases": func.count(), "letters": flag(f.throughput_hours.is_not(None)), "within_48h": flag(f.within_48h),
        "no_letter": flag(f.throughput_hours.is_(None)), "paid": flag(f.paid),
        "paid_cents": func.sum(_if(f.paid, f.paid_cents)), "claimed_cents": func.sum(_if(f.paid, f.claimed_cents)),
        "cut": flag(f.paid & (f.paid_cents < f.claimed_cents)), "closed": flag(f.closed),
        "success": flag(f.closed & (f.paid_cents > 0)), "nps_n": flag(f.nps_score.is_not(None)),
        "nps_promoters": flag(f.nps_score >= 9), "nps_detractors": flag(f.nps_score <= 6),
        "callbacks": func.sum(sum(cb[1:], cb[0])), **{f"cb_{s}": func.sum(c) for s, c in zip(STAGES, cb)},
    }
    sums["queries_answered"] = func.sum(f.queries_answered)
    return sums


def summarise(session: Session) -> None:
    """Fill kpi_cells, kpi_buckets and kpi_orders from the facts rows and assignments (set-based)."""
    f = KpiCaseFacts
    columns = fact_sums()
    keys = [getattr(f, k) for k in CELL_KEY]
    cells = select(*keys, *(v.label(k) for k, v in columns.items())).where(f.cancelled.is_(False)).group_by(*keys)
    session.execute(KpiCell.__table__.insert().from_select([*CELL_KEY, *columns], cells))
    summarise_buckets(session)
    summarise_counts(session)
    a = Assignment
    orders = (select(a.iso_week, a.partner_id, func.count()).where(a.declined_at.is_(None))
              .group_by(a.iso_week, a.partner_id))
    session.execute(KpiOrders.__table__.insert().from_select(["iso_week", "partner_id", "n"], orders))


def summarise_buckets(session: Session) -> None:
    """Fill kpi_buckets from the facts rows: all cases, then per value of each dimension (set-based)."""
    f, q = KpiCaseFacts, KpiQueryFacts
    for metric, model, bucket in (("t", f, f.t_bucket), ("q", q, q.bucket)):
        for dim in ("", *BUCKET_DIMS):
            value = [cast(getattr(model, dim), String)] if dim else []
            part = (select(literal(metric), literal(dim), *(value or [literal("")]), model.week, bucket, func.count())
                    .where(model.cancelled.is_(False), bucket.is_not(None)).group_by(*value, model.week, bucket))
            session.execute(KpiBucket.__table__.insert().from_select([*BUCKET_KEY, "n"], part))


def summarise_counts(session: Session) -> None:
    """Fill case_counts from the facts rows: all cases, then per value of each dimension (set-based)."""
    f = KpiCaseFacts
    for dim in ("", *COUNT_DIMS):
        value = [cast(getattr(f, dim), String)] if dim else []
        part = (select(literal(dim), *(value or [literal("")]), f.status, func.count())
                .group_by(*value, f.status))
        session.execute(CaseCount.__table__.insert().from_select([*COUNT_KEY, "n"], part))


def _if(cond, value):
    return case((cond, value), else_=0)


def flag(cond):
    """The number of rows for which `cond` holds."""
    return func.sum(case((cond, 1), else_=0))


# --- the session hook -----------------------------------------------------------------------------------------


def _touched(session: Session, flush_context) -> None:
    """after_flush: remember the touched cases and the order-count differences of assignments."""
    cases: set[int] = session.info.setdefault(_CASES_KEY, set())
    orders: Counter = session.info.setdefault(_ORDERS_KEY, Counter())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Case):
            cases.add(obj.id)
        elif isinstance(obj, (SurveyAnswer, CaseCallback, InsurerQuery)) and obj.case_id is not None:
            cases.add(obj.case_id)
        elif isinstance(obj, Assignment):
            _order_delta(session, obj, orders)


def _order_delta(session: Session, a: Assignment, orders: Counter) -> None:
    def before(name):
        hist = attributes.get_history(a, name)
        return hist.deleted[0] if hist.deleted else getattr(a, name)

    if a in session.new:
        old = None
    else:
        old = None if before("declined_at") is not None else (before("iso_week"), before("partner_id"))
    new = None if a in session.deleted or a.declined_at is not None else (a.iso_week, a.partner_id)
    if old != new:
        if old is not None:
            orders[old] -= 1
        if new is not None:
            orders[new] += 1


def _apply(session: Session) -> None:
    """before_commit: bring the store up to date with what this transaction changed (runs before the commit's
    own flush, so flush first; refreshing reads through the ORM, which may flush again)."""
    session.flush()
    while session.info.get(_CASES_KEY) or session.info.get(_ORDERS_KEY):
        cases: set[int] = session.info.pop(_CASES_KEY, set())
        orders: Counter = session.info.pop(_ORDERS_KEY, Counter())
        if cases:
            refresh_cases(session, cases)
        if orders:
            add_orders(session, orders)


def _forget(session: Session, *args) -> None:
    session.info.pop(_CASES_KEY, None)
    session.info.pop(_ORDERS_KEY, None)


event.listen(Session, "after_flush", _touched)
event.listen(Session, "before_commit", _apply)
event.listen(Session, "after_rollback", _forget)


# --- proof ----------------------------------------------------------------------------------------------------


def snapshot(session: Session) -> dict[str, set[tuple]]:
    """Every non-zero row of the store, per table (for comparing with a rebuild)."""
    out = {}
    for model in (KpiCaseFacts, KpiQueryFacts, KpiCell, KpiBucket, CaseCount, KpiOrders):
        table = model.__table__
        counters = [c for c in table.columns if c.name in (*CELL_COUNTERS, "n")]
        rows = session.execute(select(table)).all()
        out[table.name] = {tuple(r) for r in rows if not counters or any(getattr(r, c.name) for c in counters)}
    return out


def verify(session: Session) -> list[str]:
    """The tables whose content differs from a full recomputation (empty: the store is right). Rolls back
    the recomputation: call it in a transaction of its own."""
    before = snapshot(session)
    nested = session.begin_nested()
    rebuild(session)
    after = snapshot(session)
    nested.rollback()
    return sorted(name for name in before if before[name] != after[name])
