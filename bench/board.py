"""Benchmark of issue 6's board targets on an already seeded database: the case board (pages/staff_board.py) and
a partner's order list (pages/partner_orders.py), any page — query ≤ 10 ms, page rerun ≤ 150 ms, at most ~1 MB of
table sent to the browser.

Run against a database seeded by bench/kpis.py (this script only reads; it never seeds or writes):

    python bench/kpis.py --cases 1000000 --db /tmp/bench.db                     # seed once
    python bench/board.py --db /tmp/bench.db
    python bench/board.py --url postgresql+psycopg://postgres@127.0.0.1:5432/sp_bench

What it measures:

1. Queries: core.board.list_board / status_counts as the demo login `staff`, and list_orders /
   order_status_counts as the partner business with the most orders (its demo login if it has one). Each call
   runs in its own read transaction, as the page does; the time is the median of --runs warm runs (the first
   run compiles the statements and is not counted) and includes the connection checkout and BEGIN.
   "deep page" is the page after walking --deep pages in from the first one through the cursor.
2. Page reruns: the Streamlit script of each page under streamlit.testing's AppTest against the same database
   (DATABASE_URL, APP_MODE=demo as tests/app/conftest.py sets them; the actor is put into session state the
   way app.py does, so no login session row is written). "first run in the process" creates the engine and
   imports what the page needs; "first run of a new session" is a new AppTest session of a running process
   (the browser opening the page); "rerun" is the median of --reruns script
   reruns of the same session; "next page" the median of reruns after clicking "Weiter".
3. Table bytes: the size of the Arrow IPC data in the st.dataframe element the page sent (what the browser
   receives for the table), for the page as shipped (50 rows) and with the page size forced to the largest one
   core.board allows (MAX_PAGE_SIZE rows).

The machine's load average is printed at the start and the end: the figures are medians on a shared machine.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from core import board
from core.auth import actor_for
from core.board import BoardFilter, Cursor
from core.enums import CaseStatus, DamageType, Role
from core.permissions import Actor
from db.engine import make_engine, read_only
from db.migrate import alembic_config
from db.models import Case, Partner, Person, User

QUERY_MS, RERUN_MS, TABLE_BYTES = 10.0, 150.0, 2**20
STAFF_LOGIN = "staff"


@dataclass
class Row:
    what: str
    figure: float  # ms or bytes
    target: float
    unit: str  # "ms" or "B"
    note: str = ""

    @property
    def met(self) -> bool:
        return self.figure <= self.target


# --- measuring -------------------------------------------------------------------------------------------------


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """(median ms of `runs` warm runs, the last result); one extra first run is not counted."""
    result = fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def query(engine, call: Callable) -> Callable[[], object]:
    """`call(session)` in its own read transaction, as a page runs it."""

    def run():
        with read_only(engine) as s:
            return call(s)

    return run


def walk(engine, lister: Callable, actor: Actor, filters: BoardFilter, pages: int) -> tuple[Cursor | None, int]:
    """The cursor after `pages` pages (or the last one there is) and how many pages that were."""
    after = None
    for walked in range(pages):
        with read_only(engine) as s:
            page = lister(s, actor=actor, filters=filters, after=after)
        if page.next_cursor is None:
            return after, walked
        after = page.next_cursor
    return after, pages


# --- the data the scenarios use ---------------------------------------------------------------------------------


@dataclass
class Sample:
    staff: Actor
    partner: Actor
    partner_orders: int
    insurer_id: int
    number: str
    last_name: str
    plate: str
    week_start: date


def sample(engine) -> Sample:
    """The actors and realistic search terms (taken from a case in the middle of the table)."""
    with read_only(engine) as s:
        staff = s.scalar(select(User).where(User.username == STAFF_LOGIN))
        if staff is None:
            sys.exit(f"no login {STAFF_LOGIN!r}: seed the database with bench/kpis.py first")
        partner_id, orders = s.execute(
            select(Case.partner_id, func.count()).where(Case.partner_id.is_not(None))
            .group_by(Case.partner_id).order_by(func.count().desc()).limit(1)
        ).one()
        login = s.scalar(select(User).where(User.role == Role.PARTNER, User.partner_id == partner_id).limit(1))
        partner = actor_for(login) if login else Actor(
            user_id=None, username="bench", display_name=s.get(Partner, partner_id).name, role=Role.PARTNER,
            partner_id=partner_id)
        insurer_id = s.scalar(select(Case.insurer_id).group_by(Case.insurer_id).order_by(func.count().desc())
                              .limit(1))
        middle = s.scalar(select(func.max(Case.id))) // 2
        case = s.scalar(select(Case).where(Case.id >= middle, Case.plate != "").order_by(Case.id).limit(1))
        last_name = s.scalar(select(Person.last_name).where(Person.id == case.client_id))
        newest = s.scalar(select(func.max(Case.received_at)))
    week_end = newest.date() - timedelta(days=newest.weekday())
    return Sample(actor_for(staff), partner, orders, insurer_id, case.number, last_name, case.plate,
                  week_end - timedelta(weeks=1))


# --- 1. queries -------------------------------------------------------------------------------------------------


def name_prefixes(smp: Sample) -> list[str]:
    """Name searches from broad to narrow: the sample client's initial (~5-10 % of all cases), its first four
    letters, "möll" (~1 % in the demo data) and the whole name."""
    name = smp.last_name.lower()
    return list(dict.fromkeys([name[:1], name[:4], "möll", name]))


def board_queries(engine, smp: Sample, runs: int, deep: int) -> list[Row]:
    staff = smp.staff
    rows: list[Row] = []

    def add(what: str, filters: BoardFilter, after: Cursor | None = None, note: str = "") -> board.BoardPage:
        ms, page = timed(query(engine, lambda s: board.list_board(s, actor=staff, filters=filters, after=after)),
                         runs)
        rows.append(Row(f"board: {what}", ms, QUERY_MS, "ms", note or f"{len(page.rows)} rows"))
        return page

    first = add("first page", BoardFilter())
    add("page 2", BoardFilter(), first.next_cursor)
    cursor, walked = walk(engine, board.list_board, staff, BoardFilter(), deep)
    add(f"page {walked + 1} (cursor walked {walked} pages)", BoardFilter(), cursor)
    for status in CaseStatus:
        add(f"status {status}", BoardFilter(statuses=(status,)))
    add("statuses received + review", BoardFilter(statuses=(CaseStatus.RECEIVED, CaseStatus.REVIEW)))
    add("deadline overdue", BoardFilter(deadline="overdue"))
    add(f"search case number {smp.number}", BoardFilter(text=smp.number))
    add(f"search case number prefix {smp.number[:-2]}", BoardFilter(text=smp.number[:-2]))
    for name in name_prefixes(smp):
        add(f"search last name prefix {name}", BoardFilter(text=name))
    add(f"search plate {smp.plate}", BoardFilter(text=smp.plate))
    add(f"search plate prefix {smp.plate.split()[0]}", BoardFilter(text=smp.plate.split()[0]))
    insurer = BoardFilter(insurer_id=smp.insurer_id)
    add(f"insurer {smp.insurer_id} (largest), page 2", insurer,
        add(f"insurer {smp.insurer_id} (largest)", insurer).next_cursor)
    week = BoardFilter(received_from=smp.week_start, received_to=smp.week_start + timedelta(weeks=1))
    add(f"week from {smp.week_start} (KPI click-through)", week)
    add("combined: review + insurer + glass", BoardFilter(
        statuses=(CaseStatus.REVIEW,), insurer_id=smp.insurer_id, damage_type=DamageType.GLASS))
    add("combined: week + insurer + region 1", BoardFilter(
        received_from=week.received_from, received_to=week.received_to, insurer_id=smp.insurer_id, region="1"))
    add("combined: received + name search", BoardFilter(statuses=(CaseStatus.RECEIVED,),
                                                        text=smp.last_name[:4].lower()))

    def counts(what: str, filters: BoardFilter) -> None:
        ms, result = timed(query(engine, lambda s: board.status_counts(s, actor=staff, filters=filters)), runs)
        rows.append(Row(f"board: status_counts {what}", ms, QUERY_MS, "ms", counted(result, "cases")))

    counts("no filter", BoardFilter())
    counts(f"insurer {smp.insurer_id}", BoardFilter(insurer_id=smp.insurer_id))
    counts("week", week)
    for name in name_prefixes(smp):
        counts(f"name search {name}", BoardFilter(text=name))
    return rows


def order_queries(engine, smp: Sample, runs: int, deep: int) -> list[Row]:
    partner = smp.partner
    rows: list[Row] = []

    def add(what: str, filters: BoardFilter, after: Cursor | None = None) -> board.BoardPage:
        ms, page = timed(query(engine, lambda s: board.list_orders(s, actor=partner, filters=filters, after=after)),
                         runs)
        rows.append(Row(f"orders: {what}", ms, QUERY_MS, "ms", f"{len(page.rows)} rows"))
        return page

    first = add("first page", BoardFilter())
    add("page 2", BoardFilter(), first.next_cursor)
    cursor, walked = walk(engine, board.list_orders, partner, BoardFilter(), deep)
    add(f"page {walked + 1} (cursor walked {walked} pages)", BoardFilter(), cursor)
    for status in CaseStatus:
        add(f"status {status}", BoardFilter(statuses=(status,)))
    add("open statuses", BoardFilter(statuses=tuple(
        s for s in CaseStatus if s not in (CaseStatus.CLOSED, CaseStatus.CANCELLED))))
    for name in name_prefixes(smp):
        add(f"search last name prefix {name}", BoardFilter(text=name))
    add(f"search plate prefix {smp.plate.split()[0]}", BoardFilter(text=smp.plate.split()[0]))
    searches = [(f"name search {name}", BoardFilter(text=name)) for name in name_prefixes(smp)]
    for what, filters in (("no filter", BoardFilter()), *searches):
        ms, result = timed(query(engine, lambda s, f=filters: board.order_status_counts(s, actor=partner, filters=f)),
                           runs)
        rows.append(Row(f"orders: order_status_counts {what}", ms, QUERY_MS, "ms", counted(result, "orders")))
    return rows


# --- 2./3. page reruns and table bytes (AppTest) ----------------------------------------------------------------


@contextmanager
def app_env(url: str):
    """The environment the app reads (as tests/app/conftest.py sets it), restored afterwards.

    The app migrates its database when it creates the engine and, in demo mode, looks whether it is empty;
    on SQLite both take the write lock (BEGIN IMMEDIATE), which a shared benchmark database may not give, and
    a migration would change it. The benchmark skips both and says so when the database is not at the newest
    revision (the board needs none of the newer ones).
    """
    from core.ui import resources

    engine = make_engine(url)
    with engine.execution_options(sp_read_only=True).connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current != head:
        print(f"note: the database is at revision {current}, the code at {head}; not migrated (read-only)")
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "DATA_DIR", "APP_MODE")}
    cwd = os.getcwd()
    migrate, demo = resources.upgrade_to_head, resources.ensure_demo_data
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(DATABASE_URL=url, DATA_DIR=data_dir, APP_MODE="demo")
        os.chdir(ROOT)
        resources.upgrade_to_head = lambda engine: None
        resources.ensure_demo_data = lambda engine, **kw: None
        try:
            yield
        finally:
            resources.upgrade_to_head, resources.ensure_demo_data = migrate, demo
            os.chdir(cwd)
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@contextmanager
def page_size(size: int):
    """The page size the pages get from core.board (they use list_board's / list_orders' default)."""
    saved = [(fn, dict(fn.__kwdefaults__)) for fn in (board.list_board, board.list_orders)]
    for fn, _ in saved:
        fn.__kwdefaults__["page_size"] = size
    try:
        yield
    finally:
        for fn, defaults in saved:
            fn.__kwdefaults__.update(defaults)


def table_bytes(at) -> tuple[int, int]:
    """(bytes of Arrow IPC data in the page's table element, rows)."""
    proto = at.dataframe[0].proto
    data = proto.arrow_data.data or proto.lazy_data.initial_chunk.data
    return len(data), len(at.dataframe[0].value)


def page_rows(page: str, paging_key: str, actor: Actor, reruns: int) -> list[Row]:
    import streamlit as st
    from streamlit.components.v2.component_manager import BidiComponentManager
    from streamlit.testing.v1 import AppTest

    from core.ui.navigation import ACTOR_KEY

    name = Path(page).stem
    st.cache_resource.clear()
    st.cache_data.clear()

    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)

    def new_session() -> tuple[AppTest, float]:
        at = AppTest.from_file(str(ROOT / page), default_timeout=600)
        # AppTest scans every installed package for components on a session's first run (≈ 0.2–0.4 s here); the
        # server does that once at start-up, so the sessions share one scan
        at._bidi_component_manager = components
        at.session_state[ACTOR_KEY] = actor
        started = time.perf_counter()
        at.run()
        elapsed = (time.perf_counter() - started) * 1000
        if at.exception:
            sys.exit(f"{page} failed: {at.exception}")
        return at, elapsed

    at, cold = new_session()
    rows = [Row(f"{name}: first run in the process", cold, math.inf, "ms",
                "no target: engine created, page's imports")]
    firsts = [new_session() for _ in range(3)]
    at = firsts[-1][0]
    rows.append(Row(f"{name}: first run of a new session", statistics.median(t for _, t in firsts), RERUN_MS, "ms",
                    "median of 3 sessions"))
    size, shown = table_bytes(at)
    rows.append(Row(f"{name}: table sent, as shipped", size, TABLE_BYTES, "B", f"{shown} rows, Arrow IPC"))
    times = []
    for _ in range(reruns):
        started = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - started) * 1000)
    rows.append(Row(f"{name}: rerun", statistics.median(times), RERUN_MS, "ms", f"median of {reruns}"))
    times = []
    for _ in range(reruns):
        at.button(key=f"{paging_key}_next").click()
        started = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - started) * 1000)
    rows.append(Row(f"{name}: next page (click Weiter)", statistics.median(times), RERUN_MS, "ms",
                    f"median of pages 2–{reruns + 1}"))
    with page_size(board.MAX_PAGE_SIZE):
        at, _ = new_session()
        size, shown = table_bytes(at)
    rows.append(Row(f"{name}: table sent, {board.MAX_PAGE_SIZE}-row page", size, TABLE_BYTES, "B",
                    f"{shown} rows, Arrow IPC"))
    return rows


# --- the run ----------------------------------------------------------------------------------------------------


def show(rows: list[Row]) -> None:
    width = max(len(r.what) for r in rows)
    print(f"{'what':<{width}} {'figure':>11} {'target':>9}  met  note")
    for r in rows:
        if r.unit == "ms":
            fig, tgt = f"{r.figure:>8.1f} ms", f"{r.target:>6.0f} ms" if r.target < math.inf else "–"
        else:
            fig, tgt = f"{r.figure / 1024:>8.1f} KB", f"{r.target / 2**20:>6.0f} MB"
        print(f"{r.what:<{width}} {fig:>11} {tgt:>9}  {'yes' if r.met else 'NO ':<3}  {r.note}")
    missed = [r.what for r in rows if not r.met]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} within target" + (": missed " + "; ".join(missed) if missed
                                                                          else ""))


def counted(counts: board.StatusCounts, what: str) -> str:
    """The counted total; "+" when a search's status counts stopped at core.board_search.COUNT_CAP."""
    total, more = counts.total()
    return f"{total:,}{'+' if more else ''} {what}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", help="database URL (default: the SQLite file of --db)")
    parser.add_argument("--db", default="/tmp/sp_bench.db")
    parser.add_argument("--runs", type=int, default=7, help="warm runs per query (median)")
    parser.add_argument("--reruns", type=int, default=5, help="page reruns (median)")
    parser.add_argument("--deep", type=int, default=200, help="pages to walk in for the deep page")
    parser.add_argument("--skip-pages", action="store_true", help="queries only, no AppTest")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{args.db}"
    if not args.url and not Path(args.db).exists():
        sys.exit(f"{args.db} does not exist: seed it with bench/kpis.py first")
    print(f"load average at start: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    engine = make_engine(url)
    with read_only(engine) as s:
        cases = s.scalar(select(func.count()).select_from(Case))
    smp = sample(engine)
    print(f"{engine.dialect.name}, {cases:,} cases; staff = {smp.staff.username}; partner = "
          f"{smp.partner.display_name} ({smp.partner.username}, {smp.partner_orders:,} orders)\n")
    rows = board_queries(engine, smp, args.runs, args.deep) + order_queries(engine, smp, args.runs, args.deep)
    engine.dispose()
    if not args.skip_pages:
        with app_env(url):
            rows += page_rows("pages/staff_board.py", "board", smp.staff, args.reruns)
            rows += page_rows("pages/partner_orders.py", "orders", smp.partner, args.reruns)
    show(rows)
    print(f"load average at end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
