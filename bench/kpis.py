"""Benchmark of issue 6's speed targets: `seed-demo` at N cases, then the KPI page's data (core.kpi_series.dashboard:
the §5 figures of 52 weeks, the previous period, and every chart table) computed without any result cache.

    python bench/kpis.py --cases 1000000 [--url postgresql+psycopg://…/db] [--db /tmp/bench.db] [--reuse]

Prints one line per measurement: the median of 5 runs in a warm process (SQL statements compiled, no result
cached), and the extra memory of one run (tracemalloc peak). The README quotes its numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.kpi_series import dashboard
from core.kpis import KpiFilter
from core.permissions import SYSTEM
from db.engine import make_engine, read_only
from db.migrate import upgrade_to_head
from db.seed import seed_demo

TODAY = date(2026, 11, 20)


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
    }
    for label, flt in filters.items():
        times = []
        for _ in range(6):  # the first run compiles the SQL statements; it is not counted
            with read_only(engine) as session:
                started = time.perf_counter()
                dashboard(session, actor=SYSTEM, flt=flt)
                times.append(time.perf_counter() - started)
        with read_only(engine) as session:
            tracemalloc.start()
            board = dashboard(session, actor=SYSTEM, flt=flt)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        print(f"{label}: {statistics.median(times[1:]) * 1000:.0f} ms (median of 5), {peak / 2**20:.1f} MB extra, "
              f"{board.current['cases']} cases")
    engine.dispose()


if __name__ == "__main__":
    main()
