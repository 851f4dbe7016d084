"""The retention purge's run log (§10): one row per purge that changed, or could have changed, data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, utcnow


class PurgeRun(Base):
    """One purge run (dry runs are not logged): who, when, for which reference day, what it erased or deleted."""

    __tablename__ = "purge_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]  # None: the run did not finish (its committed batches stay done)
    day: Mapped[str] = mapped_column(String(10), index=True)  # Berlin date the periods were computed for
    # Set by the worker's daily run only: unique, so two workers cannot both run the same day.
    worker_day: Mapped[str | None] = mapped_column(String(10), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(200))
    counts: Mapped[dict] = mapped_column(JSON, default=dict)  # category -> number (core.retention.CATEGORIES)
