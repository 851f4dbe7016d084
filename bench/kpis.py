"""Benchmark of issue 6's speed targets: `seed-demo` at N cases, then the KPI page's data (core.kpi_series.dashboard:
the §5 figures of 52 weeks, the previous period, and every chart table) computed without any result cache, and
the same 52-week figures computed two other ways on the same data, side by side:

- ours: core.kpis.compute_kpis + core.kpi_series.weekly (the KPI store), the same figures as the other two;
- naive: pandas.read_sql of the needed columns of cases, survey_answers, case_callbacks and insurer_queries,
  aggregated in pandas;
- DuckDB: the same columns loaded into an in-memory DuckDB (read with pandas.read_sql, then CREATE TABLE from
  the DataFrames; DuckDB's sqlite/postgres extensions download at run time, which this machine cannot), then
  the figures as DuckDB SQL. Load and query are timed apart.

Run (DuckDB is a benchmark-only dependency, see bench/requirements.txt):

    pip install -r bench/requirements.txt
    python bench/kpis.py --cases 1000000 [--db /tmp/bench.db] [--reuse]             # SQLite file
    createdb -h 127.0.0.1 -U postgres sp_bench
    python bench/kpis.py --cases 1000000 --url postgresql+psycopg://postgres@127.0.0.1:5432/sp_bench [--reuse]

Without --reuse `seed-demo` fills a new SQLite file (an old one is deleted) or the PostgreSQL database of
--url, which must be empty (createdb); --reuse measures an already seeded one.

Times: ours is the median of 5 runs in a warm process (SQL statements compiled, no result cached), with this
process's CPU time beside it (on SQLite that is all the work, so it shows what a quiet machine would take when
other processes share the cores; on PostgreSQL the server's work is not in it); the
comparison table is the median of 3 runs each. Memory: "py peak" is the tracemalloc peak of one extra run (Python
objects and numpy arrays, not native memory); "RSS peak" is the resident set's highest rise over its start,
sampled every 2 ms (includes native memory: DuckDB, the database drivers), after malloc_trim. The comparison
checks that the naive and DuckDB figures equal ours before it prints any ratio. The README quotes the numbers.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import pickle
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Self

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd
from sqlalchemy import bindparam, text

from core.kpi_series import dashboard, weekly
from core.kpi_store import LETTER_DUE, STAGES
from core.kpis import KPI_KEYS, KpiFilter, compute_kpis
from core.permissions import SYSTEM
from core.timeutil import berlin_midnight_utc
from db.base import UTCDateTime
from db.engine import make_engine, read_only
from db.migrate import upgrade_to_head
from db.seed import seed_demo

TODAY = date(2026, 11, 20)
AT = datetime(2026, 11, 20, 12, tzinfo=UTC)  # "now" for every approach, so pending letters agree
BERLIN = "Europe/Berlin"
MB = 2**20

# --- measuring ---------------------------------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _trim() -> None:
    """Give freed heap back to the OS, so that the next RSS rise is the next run's own."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


class RssPeak:
    """The highest rise of the resident set over its value at __enter__, sampled every 2 ms in a thread."""

    def __enter__(self) -> Self:
        _trim()
        self.start = self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())
        self.extra = self.peak - self.start


def measure(fn: Callable[[], object], runs: int = 3) -> tuple[float, int, int, object]:
    """(median seconds, tracemalloc peak bytes, highest RSS rise bytes, result) of fn."""
    times, rss = [], []
    result = None
    for _ in range(runs):
        with RssPeak() as mem:
            started = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - started)
        rss.append(mem.extra)
        del result
    _trim()
    tracemalloc.start()
    result = fn()
    py_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), py_peak, max(rss), result


# --- the figures compared: §5 figures of the period and the weekly throughput series ------------------------------


def ours(engine, flt: KpiFilter) -> dict:
    with read_only(engine) as session:
        current = compute_kpis(session, actor=SYSTEM, flt=flt, at=AT)
        weeks = weekly(session, actor=SYSTEM, flt=flt, at=AT)
    return {"current": current, "weeks": {
        w.week: (w.figures["cases"], w.figures["throughput_hours_median"], w.figures["throughput_hours_p90"])
        for w in weeks if w.figures["cases"]}}


def read_frames(engine, flt: KpiFilter) -> dict[str, pd.DataFrame]:
    """The columns the figures need, as DataFrames (cases of the period; the other tables whole)."""
    lo, hi = berlin_midnight_utc(flt.date_from), berlin_midnight_utc(flt.date_to)
    cases_sql = text(
        "SELECT id, status, received_at, claim_letter_sent_at, paid_at, amount_paid_cents, amount_claimed_cents "
        "FROM cases WHERE received_at >= :lo AND received_at < :hi"
    ).bindparams(bindparam("lo", lo, type_=UTCDateTime()), bindparam("hi", hi, type_=UTCDateTime()))
    utc = {"utc": True, "format": "ISO8601"}
    with engine.connect() as conn:
        return {
            "cases": pd.read_sql(cases_sql, conn, parse_dates=dict.fromkeys(
                ("received_at", "claim_letter_sent_at", "paid_at"), utc)),
            "surveys": pd.read_sql(text("SELECT case_id, score FROM survey_answers"), conn),
            "callbacks": pd.read_sql(text("SELECT case_id, status_at_call FROM case_callbacks"), conn),
            "queries": pd.read_sql(
                text("SELECT case_id, received_at, answered_at FROM insurer_queries WHERE answered_at IS NOT NULL"),
                conn, parse_dates=dict.fromkeys(("received_at", "answered_at"), utc)),
        }


def _ratio(a, b):
    return float(a) / float(b) if b else None


def _num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def naive(engine, flt: KpiFilter) -> dict:
    """read_sql, then pandas."""
    frames = read_frames(engine, flt)
    c = frames["cases"]
    c = c[c["status"] != "cancelled"]
    delay = c["claim_letter_sent_at"] - c["received_at"]
    letter = c["claim_letter_sent_at"].notna()
    hours = delay[letter] / pd.Timedelta(hours=1)
    pending = int((~letter & (c["received_at"] > AT - LETTER_DUE)).sum())
    paid = c[c["paid_at"].notna()]
    paid_cents, claimed_cents = paid["amount_paid_cents"].fillna(0), paid["amount_claimed_cents"].fillna(0)
    closed = c[c["status"] == "closed"]
    in_scope = c["id"]
    scores = frames["surveys"].loc[frames["surveys"]["case_id"].isin(in_scope), "score"]
    cb = frames["callbacks"]
    callbacks = int((cb["case_id"].isin(in_scope) & cb["status_at_call"].isin(STAGES)).sum())
    q = frames["queries"]
    q = q[q["case_id"].isin(in_scope)]
    n = len(c)
    current = {
        "cases": n,
        "throughput_hours_median": _num(hours.median()),
        "throughput_hours_p90": _num(hours.quantile(0.9)),
        "within_48h_share": _ratio((delay <= LETTER_DUE).sum(), n - pending),
        "cut_rate": (1 - paid_cents.sum() / claimed_cents.sum()) if len(paid) and claimed_cents.sum() else None,
        "cut_case_share": _ratio((paid_cents < claimed_cents).sum(), len(paid)),
        "success_rate": _ratio((closed["amount_paid_cents"].fillna(0) > 0).sum(), len(closed)),
        "nps": _ratio(100 * ((scores >= 9).sum() - (scores <= 6).sum()), len(scores)),
        "nps_responses": len(scores),
        "callback_rate": _ratio(callbacks, n),
        "query_response_hours_median": _num(((q["answered_at"] - q["received_at"]) / pd.Timedelta(hours=1)).median()),
    }
    local = c["received_at"].dt.tz_convert(BERLIN).dt.tz_localize(None).dt.normalize()
    week = (local - pd.to_timedelta(local.dt.day_of_week, unit="D")).dt.date
    counts = week.groupby(week).size()
    by_week = hours.groupby(week[letter]).agg(["median", lambda s: s.quantile(0.9)])
    return {"current": current, "weeks": {
        w: (int(counts[w]), *((_num(by_week.loc[w].iloc[0]), _num(by_week.loc[w].iloc[1]))
                              if w in by_week.index else (None, None))) for w in counts.index}}


DUCK_SQL = f"""
WITH c AS (
    SELECT id, status, received_at, paid_at IS NOT NULL AS paid,
           coalesce(amount_paid_cents, 0) AS paid_cents, coalesce(amount_claimed_cents, 0) AS claimed_cents,
           claim_letter_sent_at IS NOT NULL AS letter,
           epoch_us(claim_letter_sent_at) - epoch_us(received_at) AS delay_us,
           (epoch_us(claim_letter_sent_at) - epoch_us(received_at)) / 3600e6 AS hours,
           date_trunc('week', timezone('{BERLIN}', received_at))::DATE AS week
    FROM cases WHERE status <> 'cancelled'
)
"""


def duck_load(frames: dict[str, pd.DataFrame]):
    import duckdb

    con = duckdb.connect()
    for name, frame in frames.items():
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    return con


def duck_query(con) -> dict:
    """The figures as DuckDB SQL over the loaded tables."""
    row = con.execute(DUCK_SQL + """
        SELECT count(*), median(hours), quantile_cont(hours, 0.9),
               count(*) FILTER (delay_us <= 172800e6),
               count(*) FILTER (NOT letter AND received_at > $pending_from),
               count(*) FILTER (paid), sum(paid_cents) FILTER (paid), sum(claimed_cents) FILTER (paid),
               count(*) FILTER (paid AND paid_cents < claimed_cents),
               count(*) FILTER (status = 'closed'), count(*) FILTER (status = 'closed' AND paid_cents > 0),
               (SELECT count(*) FROM callbacks b JOIN c ON b.case_id = c.id WHERE list_contains($stages, b.status_at_call)),
               (SELECT [count(*), count(*) FILTER (s.score >= 9), count(*) FILTER (s.score <= 6)]
                  FROM surveys s JOIN c ON s.case_id = c.id),
               (SELECT median((epoch_us(q.answered_at) - epoch_us(q.received_at)) / 3600e6)
                  FROM queries q JOIN c ON q.case_id = c.id)
        FROM c""", {"pending_from": AT - LETTER_DUE, "stages": list(STAGES)}).fetchone()
    n, med, p90, within, pending, paid, paid_cents, claimed, cut, closed, success, callbacks, nps, q_med = row
    current = {
        "cases": n, "throughput_hours_median": med, "throughput_hours_p90": p90,
        "within_48h_share": _ratio(within, n - pending),
        "cut_rate": (1 - paid_cents / claimed) if paid and claimed else None, "cut_case_share": _ratio(cut, paid),
        "success_rate": _ratio(success, closed), "nps": _ratio(100 * (nps[1] - nps[2]), nps[0]),
        "nps_responses": nps[0], "callback_rate": _ratio(callbacks, n), "query_response_hours_median": q_med,
    }
    weeks = {w: (n, m, p) for w, n, m, p in con.execute(
        DUCK_SQL + "SELECT week, count(*), median(hours), quantile_cont(hours, 0.9) FROM c GROUP BY week").fetchall()}
    return {"current": current, "weeks": weeks}


def differences(mine: dict, other: dict) -> tuple[list[str], float]:
    """(what differs, the largest relative difference of the values that agree to 1e-12)."""
    bad, worst = [], 0.0

    def check(label: str, a, b) -> None:
        nonlocal worst
        if a is None or b is None:
            if a is not b:
                bad.append(f"{label}: {a} vs {b}")
            return
        diff = abs(float(a) - float(b)) / max(abs(float(a)), 1e-300)
        if diff > 1e-12:
            bad.append(f"{label}: {a} vs {b}")
        worst = max(worst, diff)

    for key in KPI_KEYS:
        check(key, mine["current"][key], other["current"][key])
    for week in sorted(set(mine["weeks"]) | set(other["weeks"])):
        for name, a, b in zip(("cases", "median", "p90"), mine["weeks"].get(week, (0, None, None)),
                              other["weeks"].get(week, (0, None, None))):
            check(f"week {week} {name}", a, b)
    return bad, worst


# --- the run -----------------------------------------------------------------------------------------------------


def compare(engine, flt: KpiFilter, dashboard_s: float) -> None:
    """The side-by-side table of the unfiltered 52 weeks."""
    try:
        import duckdb
    except ImportError:
        sys.exit("DuckDB is missing: pip install -r bench/requirements.txt")
    ours(engine, flt)  # compile the statements
    rows = [("ours (compute_kpis + weekly)", *measure(lambda: ours(engine, flt)))]
    mine = rows[0][-1]
    rows.append(("naive (read_sql + pandas)", *measure(lambda: naive(engine, flt))))
    rows.append(("DuckDB load (read_sql + CREATE TABLE)",
                 *measure(lambda: duck_load(read_frames(engine, flt)).close())))
    con = duck_load(read_frames(engine, flt))
    rows.append(("DuckDB query (tables loaded)", *measure(lambda: duck_query(con))))
    duck_result = rows[-1][-1]
    con.close()
    load, query = rows[2], rows[3]
    rows.append(("DuckDB load + query", load[1] + query[1], load[2] + query[2], load[3] + query[3], None))
    for label, result in (("naive", rows[1][-1]), ("DuckDB", duck_result)):
        bad, worst = differences(mine, result)
        if bad:
            sys.exit(f"{label} figures differ from ours, no fair comparison:\n  " + "\n  ".join(bad[:20]))
        print(f"{label} figures = ours: {len(KPI_KEYS)} figures and {len(mine['weeks'])} weeks × (cases, median, "
              f"p90); largest relative difference {worst:.1e} ({'identical' if worst == 0 else 'float rounding'})")
    print(f"\nduckdb {duckdb.__version__}, pandas {pd.__version__}, {mine['current']['cases']} cases in scope; "
          f"ours with the full KPI page (dashboard): {dashboard_s * 1000:.0f} ms")
    base_t, base_py, base_rss = rows[0][1], rows[0][2], rows[0][3]
    print(f"{'approach':<38} {'time':>9} {'py peak':>10} {'RSS peak':>10} {'time/ours':>10} {'py/ours':>8} "
          f"{'RSS/ours':>9}")
    for label, seconds, py_peak, rss, _ in rows:
        rss_ratio = f"{rss / base_rss:>8.0f}x" if base_rss >= MB else f"{'-':>9}"
        print(f"{label:<38} {seconds * 1000:>6.0f} ms {py_peak / MB:>7.1f} MB {rss / MB:>7.1f} MB "
              f"{seconds / base_t:>9.1f}x {py_peak / base_py:>7.1f}x {rss_ratio}")
    if base_rss < MB:
        print(f"(ours raises the RSS by {base_rss / MB:.2f} MB, below the 1 MB the sampling can tell: no RSS ratio)")
    print("(DuckDB load + query: times and memory added up; the loaded tables stay resident during the queries)")


def cache_hit(engine, flt: KpiFilter) -> None:
    """st.cache_data pickles a result when it stores it and unpickles it on every hit."""
    with read_only(engine) as session:
        board = dashboard(session, actor=SYSTEM, flt=flt, at=AT)
    dumps, loads = [], []
    for _ in range(5):
        started = time.perf_counter()
        data = pickle.dumps(board)
        dumps.append(time.perf_counter() - started)
        started = time.perf_counter()
        pickle.loads(data)
        loads.append(time.perf_counter() - started)
    print(f"cache hit (dashboard unpickled): {statistics.median(loads) * 1000:.2f} ms; stored once "
          f"(pickled): {statistics.median(dumps) * 1000:.2f} ms; {len(data) / 1024:.0f} KiB (median of 5)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--url", help="database URL (default: a SQLite file, see --db)")
    parser.add_argument("--db", default="/tmp/sp_bench.db")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{args.db}"
    if not args.reuse:
        if not args.url:
            for suffix in ("", "-wal", "-shm"):
                Path(args.db + suffix).unlink(missing_ok=True)
        engine = make_engine(url)
        upgrade_to_head(engine)
        started = time.perf_counter()
        report = seed_demo(engine, cases=args.cases, seed=1, today=TODAY)
        print(f"seed-demo --cases {args.cases}: {time.perf_counter() - started:.1f} s ({report.events} events)")
    engine = make_engine(url)
    end = TODAY - timedelta(days=TODAY.weekday())  # the last 52 whole weeks
    filters = {
        "52 weeks, no filter": KpiFilter(end - timedelta(weeks=52), end),
        "52 weeks + odd days": KpiFilter(end - timedelta(weeks=52, days=3), end + timedelta(days=2)),
        "52 weeks, damage type glass": KpiFilter(end - timedelta(weeks=52), end, damage_type="glass"),
        "52 weeks, insurer 1": KpiFilter(end - timedelta(weeks=52), end, insurer_id=1),
        "52 weeks, glass + region 8 (two filters: facts rows)": KpiFilter(end - timedelta(weeks=52), end,
                                                                         damage_type="glass", region="8"),
        "52 weeks, insurer 1 + workshop": KpiFilter(end - timedelta(weeks=52), end, insurer_id=1,
                                                    partner_kind="workshop"),
        "52 weeks, accident + appraiser (only appraisers take accidents)": KpiFilter(
            end - timedelta(weeks=52), end, damage_type="accident", partner_kind="appraiser"),
        "52 weeks, glass + clerk 3 (a third of the cases, facts rows)": KpiFilter(end - timedelta(weeks=52), end,
                                                                                  damage_type="glass", clerk_id=3),
        "52 weeks, glass + region 8 + insurer 2": KpiFilter(end - timedelta(weeks=52), end, damage_type="glass",
                                                            region="8", insurer_id=2),
    }
    print(f"load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    dashboard_s = {}
    for label, flt in filters.items():
        times, cpu = [], []
        for _ in range(6):  # the first run compiles the SQL statements; it is not counted
            with read_only(engine) as session:
                started, cpu_started = time.perf_counter(), time.process_time()
                dashboard(session, actor=SYSTEM, flt=flt, at=AT)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
        with read_only(engine) as session:
            tracemalloc.start()
            board = dashboard(session, actor=SYSTEM, flt=flt, at=AT)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        dashboard_s[label] = statistics.median(times[1:])
        print(f"{label}: {dashboard_s[label] * 1000:.0f} ms (median of 5; this process's CPU "
              f"{statistics.median(cpu[1:]) * 1000:.0f} ms), {peak / MB:.1f} MB extra, {board.current['cases']} cases")
    cache_hit(engine, filters["52 weeks, no filter"])
    compare(engine, filters["52 weeks, no filter"], dashboard_s["52 weeks, no filter"])
    engine.dispose()


if __name__ == "__main__":
    main()
