"""The worker's daily refresh of the KPI tables' planner statistics (core.planner_stats), on SQLite and
PostgreSQL: once per Berlin day whichever worker comes first, and the statistics are really there afterwards."""

from datetime import UTC, datetime

from sqlalchemy import select, text

from core import planner_stats
from db.engine import unit_of_work
from db.models import Setting
from tests.factories import make_case

MORNING = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
LATE_EVENING = datetime(2026, 12, 4, 22, 30, tzinfo=UTC)  # 23:30 in Berlin: still the same day
AFTER_MIDNIGHT = datetime(2026, 12, 4, 23, 5, tzinfo=UTC)  # 00:05 on the 5th in Berlin


def statistics_of(engine, table: str) -> bool:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return conn.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}).scalar() > 0
        return conn.execute(text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = :t"),
                            {"t": table}).scalar()


def test_the_first_round_of_a_day_analyzes_the_kpi_tables(engine):
    make_case(engine)
    assert not statistics_of(engine, "kpi_case_facts")
    assert planner_stats.refresh_if_due(engine, at=MORNING)
    assert statistics_of(engine, "kpi_case_facts")


def test_later_rounds_of_the_same_berlin_day_do_nothing(engine):
    assert planner_stats.refresh_if_due(engine, at=MORNING)
    assert not planner_stats.refresh_if_due(engine, at=LATE_EVENING)


def test_the_next_berlin_day_refreshes_again_and_keeps_one_marker_row(engine):
    planner_stats.refresh_if_due(engine, at=MORNING)
    assert planner_stats.refresh_if_due(engine, at=AFTER_MIDNIGHT)
    assert planner_stats.last_refresh_day(engine) == "2026-12-05"
    with unit_of_work(engine) as s:
        assert len(s.scalars(select(Setting.key).where(Setting.key.startswith("maintenance."))).all()) == 1
