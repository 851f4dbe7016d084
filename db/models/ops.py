"""Operations: one heartbeat row per running worker (core.worker writes it every round, core.health reads it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow


class WorkerHeartbeat(Base):
    """A worker's last sign of life: who (id, host, pid), since when, its last round's result and counts."""

    __tablename__ = "worker_heartbeats"

    id: Mapped[int] = mapped_column(primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(100), unique=True)  # core.worker.default_worker_id()
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    stopped_at: Mapped[datetime | None]  # set when the worker ended cleanly
    rounds: Mapped[int] = mapped_column(default=0)
    last_result: Mapped[str] = mapped_column(String(20), default="")  # ok | error
    last_duration_ms: Mapped[int] = mapped_column(default=0)
    last_counts: Mapped[dict] = mapped_column(JSON, default=dict)  # claimed, sent, retrying, failed, skipped
    last_error: Mapped[str] = mapped_column(Text, default="")  # type and message, never a secret
