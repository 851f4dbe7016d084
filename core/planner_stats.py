"""Planner statistics of the KPI tables, refreshed once a Berlin day by the worker.

The KPI page's filtered queries have several indexes to choose from (core.kpis: the bucket index for one bucket's
values, an index led by each filter dimension for two or more filters); the database picks the right one only with
current statistics. PostgreSQL's autovacuum keeps them, but it may be switched off, and SQLite has none until
ANALYZE runs. ANALYZE of these tables takes about 3 s at 1,000,000 cases.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.timeutil import now, to_berlin
from db.engine import unit_of_work
from db.models import Setting

TABLES = ("kpi_case_facts", "kpi_query_facts", "kpi_buckets", "kpi_cells")
_KEY = "maintenance.planner_statistics."  # + the Berlin day of the last refresh (one row)


def analyze(engine: Engine) -> None:
    """ANALYZE the KPI tables now."""
    with engine.connect() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"ANALYZE {table}")
        conn.commit()


def refresh_if_due(engine: Engine, *, at: datetime | None = None) -> bool:
    """ANALYZE the KPI tables unless that was done this Berlin day (by any worker); True if it ran now."""
    key = _KEY + to_berlin(at or now()).date().isoformat()
    with unit_of_work(engine) as session:
        insert = (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert
        claimed = session.scalar(insert(Setting).values(key=key, value={}, updated_at=now())
                                 .on_conflict_do_nothing().returning(Setting.key))
        if claimed is None:  # done today, or another worker claimed the day a moment ago
            return False
        session.execute(delete(Setting).where(Setting.key.startswith(_KEY), Setting.key != key))
    analyze(engine)
    return True


def last_refresh_day(engine: Engine) -> str | None:
    """The Berlin day (ISO) of the last refresh, if any."""
    with unit_of_work(engine) as session:
        key = session.scalar(select(Setting.key).where(Setting.key.startswith(_KEY)).order_by(Setting.key.desc()))
    return None if key is None else key.removeprefix(_KEY)
