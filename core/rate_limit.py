"""Fixed-window rate limits counted in the database, so they hold across several processes.

One row per bucket (e.g. `api_key:17`): an atomic INSERT … ON CONFLICT DO UPDATE … RETURNING moves the row to
the current window (count 1) or adds one to it, on SQLite and PostgreSQL alike. The caller commits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case
from sqlalchemy.orm import Session

from db.models import RateCounter

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int  # seconds until the next window starts (0 when allowed)


def window_start(at: datetime, *, window: timedelta = WINDOW) -> datetime:
    """The start of the fixed window that contains `at` (windows are aligned to the epoch)."""
    seconds = int(window.total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def hit(session: Session, *, bucket: str, limit: int, at: datetime, window: timedelta = WINDOW) -> RateDecision:
    """Count one request in the bucket's current window; refused once more than `limit` were counted."""
    start = window_start(at, window=window)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(RateCounter).values(bucket=bucket, window_start=start, count=1)
    stored = RateCounter.__table__.c
    newer = stored.window_start < stmt.excluded.window_start  # a process whose clock lags never moves it back
    stmt = stmt.on_conflict_do_update(
        index_elements=[RateCounter.bucket],
        set_={
            "count": case((newer, 1), else_=stored.count + 1),
            "window_start": case((newer, stmt.excluded.window_start), else_=stored.window_start),
        },
    ).returning(RateCounter.count, RateCounter.window_start)
    count, counted_start = session.execute(stmt).one()
    if count <= limit:
        return RateDecision(True, limit, limit - count, 0)
    ends = counted_start + window
    return RateDecision(False, limit, 0, max(1, math.ceil((ends - at).total_seconds())))
