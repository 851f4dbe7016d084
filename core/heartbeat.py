"""Worker heartbeats (ops): each worker writes its row every round, in one short transaction of its own."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update

from core.timeutil import now
from db.engine import unit_of_work
from db.models import WorkerHeartbeat

KEEP = timedelta(days=7)  # rows of workers gone longer than this are removed by the next beat


def beat(engine: Engine, *, worker_id: str, started_at: datetime, result: str, counts: Mapping[str, int],
         duration_ms: float = 0, error: str = "", at: datetime | None = None, count_round: bool = True) -> None:
    """Record that this worker is alive and how its last round went (creates its row on the first beat)."""
    at = at or now()
    with unit_of_work(engine) as session:
        row = session.scalar(select(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))
        if row is None:
            row = WorkerHeartbeat(worker_id=worker_id, host=socket.gethostname()[:255], pid=os.getpid(),
                                  started_at=started_at, rounds=0)
            session.add(row)
        row.last_beat_at, row.stopped_at, row.last_result = at, None, result
        row.last_duration_ms, row.last_counts, row.last_error = round(duration_ms), dict(counts), error[:1000]
        row.rounds = (row.rounds or 0) + (1 if count_round else 0)
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.last_beat_at < at - KEEP))


def stopped(engine: Engine, *, worker_id: str, at: datetime | None = None) -> None:
    """Mark this worker's row as cleanly ended (it no longer counts as a live worker)."""
    with unit_of_work(engine) as session:
        session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id)
                        .values(stopped_at=at or now()))
