"""The board's period, region and Betriebsart filters on SQLite and PostgreSQL, and the KPI click-through: the
board filter behind a KPI bar or point lists exactly the cases the figure counts."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from core import board, cases, kpi_series
from core.board import BoardFilter, Cursor
from core.enums import CaseStatus, DamageType, PartnerKind, Role
from core.errors import PermissionDenied
from core.kpi_views import (
    Narrowing,
    board_filter,
    iso_week_narrowing,
    log_kpi_export,
    week_narrowing,
)
from core.kpis import KpiFilter
from core.permissions import Actor
from db.engine import read_only, unit_of_work
from db.models import AccessLog, Case
from db.seed import seed_demo

STAFF = Actor(user_id=None, username="clerk", display_name="Clara Clerk", role=Role.STAFF)
MANAGER = Actor(user_id=None, username="boss", display_name="Bea Boss", role=Role.MANAGER)
TODAY = date(2026, 11, 20)


def add_case(engine, *, received_at: datetime, **data) -> str:
    fields = {"damage_type": DamageType.GLASS, "insurer_name": "HUK-COBURG", "client_last_name": "Muster",
                  "postal_code": "10115", "received_at": received_at}
    with unit_of_work(engine) as s:
        return cases.create_case(s, actor=STAFF, data=cases.NewCase(**(fields | data))).number


def shown(engine, filters: BoardFilter) -> list[str]:
    with read_only(engine) as s:
        return [r.number for r in board.list_board(s, actor=STAFF, filters=filters).rows]


def counted(engine, filters: BoardFilter) -> int:
    """Cases on the board for the filters, counted over the statuses the filter shows."""
    with read_only(engine) as s:
        counts = board.status_counts(s, actor=STAFF, filters=filters)
    return sum(n for status, n in counts.items() if not filters.statuses or status in filters.statuses)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_period_counts_berlin_days_with_the_end_exclusive(engine):
    # 2 Nov 2026 starts in Berlin at 1 Nov 23:00 UTC (CET)
    before = add_case(engine, received_at=utc(2026, 11, 1, 22, 59))
    first = add_case(engine, received_at=utc(2026, 11, 1, 23, 0))
    last = add_case(engine, received_at=utc(2026, 11, 8, 22, 59))
    after = add_case(engine, received_at=utc(2026, 11, 8, 23, 0))
    week = BoardFilter(received_from=date(2026, 11, 2), received_to=date(2026, 11, 9))
    assert shown(engine, week) == [last, first]
    assert shown(engine, BoardFilter(received_from=date(2026, 11, 9))) == [after]
    assert shown(engine, BoardFilter(received_to=date(2026, 11, 2))) == [before]


def test_period_narrows_the_status_counts(engine):
    add_case(engine, received_at=utc(2026, 10, 5, 10))
    add_case(engine, received_at=utc(2026, 11, 5, 10))
    counts_of = BoardFilter(received_from=date(2026, 11, 1), received_to=date(2026, 12, 1))
    with read_only(engine) as s:
        assert board.status_counts(s, actor=STAFF, filters=counts_of)[CaseStatus.RECEIVED] == 1


def test_keyset_paging_stays_inside_the_period(engine):
    inside = [add_case(engine, received_at=utc(2026, 11, 3, 8) + timedelta(hours=i)) for i in range(7)]
    add_case(engine, received_at=utc(2026, 11, 10, 8))
    add_case(engine, received_at=utc(2026, 10, 20, 8))
    filters = BoardFilter(received_from=date(2026, 11, 2), received_to=date(2026, 11, 9))
    numbers, after = [], None
    while True:
        with read_only(engine) as s:
            page = board.list_board(s, actor=STAFF, filters=filters, after=after, page_size=3)
        numbers += [r.number for r in page.rows]
        if page.next_cursor is None:
            break
        after = Cursor.from_token(page.next_cursor.to_token())
    assert numbers == inside[::-1]


def test_region_is_the_first_digit_of_the_postal_code(engine):
    berlin = add_case(engine, received_at=utc(2026, 11, 3, 8), postal_code="10115")
    munich = add_case(engine, received_at=utc(2026, 11, 3, 9), postal_code="80331")
    assert shown(engine, BoardFilter(region="1")) == [berlin]
    assert shown(engine, BoardFilter(region="8")) == [munich]
    assert shown(engine, BoardFilter(region="0")) == []


def test_partner_kind_filter(engine):
    glass = add_case(engine, received_at=utc(2026, 11, 3, 8))
    accident = add_case(engine, received_at=utc(2026, 11, 3, 9), damage_type=DamageType.ACCIDENT)
    with read_only(engine) as s:
        kinds = dict(s.execute(select(Case.number, Case.partner_kind)).all())
    assert shown(engine, BoardFilter(partner_kind=kinds[glass])) == [glass]
    assert shown(engine, BoardFilter(partner_kind=kinds[accident])) == [accident]


def test_export_log_names_the_new_filters(engine):
    add_case(engine, received_at=utc(2026, 11, 3, 8))
    filters = BoardFilter(received_from=date(2026, 11, 2), received_to=date(2026, 11, 9), region="1",
                          partner_kind=PartnerKind.GLASS)
    with unit_of_work(engine) as s:
        rows, _ = board.export_board(s, actor=MANAGER, filters=filters)
    with read_only(engine) as s:
        detail = s.scalar(select(AccessLog.detail).where(AccessLog.object_type == "board"))
    assert len(rows) == 1
    assert detail == "from=2026-11-02; to=2026-11-09; region=1; partner_kind=glass; rows=1"


# --- the KPI click-through ---------------------------------------------------------------------------------


@pytest.fixture
def demo(engine):
    seed_demo(engine, cases=400, seed=5, today=TODAY)
    return engine


AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PERIOD = KpiFilter(date(2026, 8, 5), date(2026, 11, 19))


def test_each_week_point_opens_exactly_the_cases_of_that_week(demo):
    with read_only(demo) as s:
        weeks = kpi_series.weekly(s, actor=MANAGER, flt=PERIOD, at=AT)
    assert sum(w.figures["cases"] for w in weeks) > 0
    for w in weeks:
        assert counted(demo, board_filter(PERIOD, week_narrowing(w.week))) == w.figures["cases"], w.week


def test_each_insurer_bar_opens_exactly_its_cases(demo):
    with read_only(demo) as s:
        insurers = kpi_series.by_insurer(s, actor=MANAGER, flt=PERIOD)
    for row in insurers:
        assert counted(demo, board_filter(PERIOD, Narrowing(insurer_id=row.insurer_id))) == row.cases, row.insurer


@pytest.mark.parametrize("dims", [
    {"region": "1"}, {"partner_kind": "appraiser"}, {"damage_type": "accident"},
    {"region": "8", "partner_kind": "glass"},
])
def test_the_whole_filtered_period_opens_exactly_its_cases(demo, dims):
    flt = KpiFilter(PERIOD.date_from, PERIOD.date_to, **dims)
    with read_only(demo) as s:
        figures = kpi_series.dashboard(s, actor=MANAGER, flt=flt, at=AT).current
    assert figures["cases"] > 0
    assert counted(demo, board_filter(flt)) == figures["cases"]


def test_cancelled_cases_stay_off_the_click_through(demo):
    with read_only(demo) as s:
        cancelled = s.scalar(select(Case.number).where(Case.status == CaseStatus.CANCELLED,
                                                       Case.received_at >= utc(2026, 8, 6)).limit(1))
    assert cancelled is not None
    filters = board_filter(PERIOD)
    assert CaseStatus.CANCELLED not in filters.statuses
    with read_only(demo) as s:
        numbers = {r.number for r in board.list_board(s, actor=STAFF, filters=filters, page_size=500).rows}
    assert cancelled not in numbers


def test_fairness_point_opens_the_cases_of_that_week_kind_and_region():
    filters = board_filter(PERIOD, iso_week_narrowing("2026-W45", partner_kind="glass", region="1"))
    assert (filters.received_from, filters.received_to) == (date(2026, 11, 2), date(2026, 11, 9))
    assert (filters.partner_kind, filters.region) == (PartnerKind.GLASS, "1")


def test_a_week_at_the_edge_is_clipped_to_the_period():
    filters = board_filter(PERIOD, week_narrowing(date(2026, 8, 3)))
    assert (filters.received_from, filters.received_to) == (date(2026, 8, 5), date(2026, 8, 10))


# --- export log ---------------------------------------------------------------------------------------------


def test_kpi_table_export_is_logged_without_content(engine):
    flt = KpiFilter(date(2026, 11, 2), date(2026, 11, 9), insurer_id=3, region="1")
    with unit_of_work(engine) as s:
        log_kpi_export(s, actor=MANAGER, flt=flt, table="kuerzung-versicherungen", rows=12, file_format="xlsx")
    with read_only(engine) as s:
        entry = s.scalars(select(AccessLog)).one()
    assert (entry.action, entry.object_type, entry.object_ref, entry.username) == (
        "export", "kpi", "kuerzung-versicherungen", "boss")
    assert entry.detail == "from=2026-11-02; to=2026-11-09; format=xlsx; rows=12; insurer_id=3; region=1"


@pytest.mark.parametrize("role", [Role.STAFF, Role.PARTNER, Role.BROKER])
def test_kpi_export_is_refused_without_kpi_access(engine, role):
    actor = Actor(user_id=None, username="x", display_name="x", role=role)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
        log_kpi_export(s, actor=actor, flt=PERIOD, table="fairness", rows=1, file_format="csv")


# --- query plans ------------------------------------------------------------------------------------------


def plans(engine, filters: BoardFilter) -> list[str]:
    """SQLite's plan lines of the SELECTs one board page runs."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with read_only(engine) as s:
            board.list_board(s, actor=STAFF, filters=filters)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        return [row[-1] for sql, params in statements if sql.lstrip().upper().startswith("SELECT")
                for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]


@pytest.mark.parametrize("narrowing", [Narrowing(), Narrowing(insurer_id=1), Narrowing(partner_kind="glass",
                                                                                     region="1")],
                         ids=["period", "insurer", "kind_region"])
def test_click_through_pages_read_the_period_from_an_index(engine, narrowing):
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    add_case(engine, received_at=utc(2026, 9, 1, 8))
    steps = plans(engine, board_filter(PERIOD, narrowing))
    searches = [line for line in steps if line.startswith("SEARCH cases") and "PRIMARY KEY" not in line]
    assert not [line for line in steps if line.startswith("SCAN cases")], steps
    # each status arm reads an (…, received_at) index over the period only, in page order
    assert searches and all("INDEX ix_cases_" in line and "received_at>? AND received_at<?" in line
                            for line in searches), steps
