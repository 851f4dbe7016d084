"""Health checks (ops): one implementation for `python -m core health`, the HTTP endpoint and the Betrieb page.

Checks: the database answers (and how fast), its schema is at the newest migration, a worker beat recently
(WORKER_STALE_SECONDS, default 300), no due mail waits longer than OUTBOX_MAX_AGE_SECONDS (default 900), and
how many mails and webhook deliveries failed for good (a warning, not a failure: an admin resends them).
Healthy means no check failed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from core.enums import OutboxStatus
from core.i18n import t
from core.jobs import describe_error
from core.permissions import Action, Actor, require
from core.retention import CHANGE_CATEGORIES
from core.timeutil import now
from db.engine import read_only
from db.migrate import alembic_config
from db.models import OutboxMessage, PurgeRun, WebhookDelivery, WorkerHeartbeat

log = logging.getLogger(__name__)
OK, WARN, FAIL = "ok", "warn", "fail"
HEALTH_PATHS = ("/health", "/healthz", "/")


@dataclass(frozen=True)
class Thresholds:
    """When a check fails: a heartbeat older than `worker_s`, a due mail waiting longer than `outbox_s`."""

    worker_s: int = 300
    outbox_s: int = 900

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Thresholds:
        env = os.environ if env is None else env

        def seconds(name: str, default: int) -> int:
            raw = env.get(name, "").strip()
            return int(raw) if raw.isdigit() and int(raw) > 0 else default

        return cls(worker_s=seconds("WORKER_STALE_SECONDS", cls.worker_s),
                   outbox_s=seconds("OUTBOX_MAX_AGE_SECONDS", cls.outbox_s))


@dataclass(frozen=True)
class Check:
    name: str  # database, migrations, worker, outbox, failed_deliveries
    status: str  # ok, warn, fail
    detail: str  # one German sentence for people
    data: dict = field(default_factory=dict)  # the figures, for machines


@dataclass(frozen=True)
class HealthReport:
    checked_at: datetime
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(c.status != FAIL for c in self.checks)

    def to_dict(self) -> dict:
        return {
            "healthy": self.healthy, "status": OK if self.healthy else FAIL,
            "checked_at": self.checked_at.isoformat(timespec="seconds"),
            "checks": {c.name: {"status": c.status, "detail": c.detail, **c.data} for c in self.checks},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def _age(at: datetime, then: datetime | None) -> int | None:
    return None if then is None else max(0, round((at - then).total_seconds()))


def _migrations(session: Session) -> Check:
    current = MigrationContext.configure(session.connection()).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    data = {"current": current, "head": head}
    if current == head:
        return Check("migrations", OK, t("ops.migrations_ok", revision=head), data)
    return Check("migrations", FAIL, t("ops.migrations_fail", current=current or "–", head=head), data)


def _worker(session: Session, *, at: datetime, limit: int) -> Check:
    beats = session.scalars(select(WorkerHeartbeat.last_beat_at).where(WorkerHeartbeat.stopped_at.is_(None))).all()
    ages = sorted(_age(at, b) for b in beats)
    data = {"heartbeat_age_s": ages[0] if ages else None, "threshold_s": limit,
            "live_workers": sum(1 for a in ages if a <= limit)}
    if not ages:
        return Check("worker", FAIL, t("ops.worker_none"), data)
    if ages[0] > limit:
        return Check("worker", FAIL, t("ops.worker_stale", age=ages[0], limit=limit), data)
    return Check("worker", OK, t("ops.worker_ok", age=ages[0], limit=limit, live=data["live_workers"]), data)


def _outbox(session: Session, *, at: datetime, limit: int) -> Check:
    waiting = OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING))
    pending, oldest = session.execute(select(func.count(), func.min(OutboxMessage.created_at)).where(waiting)).one()
    due, oldest_due = session.execute(
        select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(waiting,
                                                                             OutboxMessage.next_attempt_at <= at)
    ).one()
    data = {"pending": pending, "due": due, "oldest_pending_age_s": _age(at, oldest),
            "oldest_due_age_s": _age(at, oldest_due), "threshold_s": limit}
    status = FAIL if (data["oldest_due_age_s"] or 0) > limit else OK
    detail = t("ops.outbox_detail", pending=pending, due=due, due_age=data["oldest_due_age_s"] or 0, limit=limit)
    return Check("outbox", status, detail, data)


def _failed(session: Session) -> Check:
    mails = session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.FAILED))
    hooks = session.scalar(select(func.count()).where(WebhookDelivery.status == OutboxStatus.FAILED))
    data = {"mails": mails, "webhooks": hooks}
    return Check("failed_deliveries", WARN if mails or hooks else OK, t("ops.failed_detail", mails=mails,
                                                                          webhooks=hooks), data)


def check_health(engine: Engine, *, thresholds: Thresholds | None = None, at: datetime | None = None) -> HealthReport:
    """Run every check in one read transaction; an unreachable database fails all of them."""
    thresholds, at = thresholds or Thresholds(), at or now()
    start = time.perf_counter()
    try:
        with read_only(engine) as session:
            session.execute(text("SELECT 1"))
            latency = round((time.perf_counter() - start) * 1000, 1)
            checks = [Check("database", OK, t("ops.database_ok", ms=latency), {"latency_ms": latency}),
                      _migrations(session)]
            if checks[1].status == OK:  # the tables below may not exist yet
                checks += [_worker(session, at=at, limit=thresholds.worker_s),
                           _outbox(session, at=at, limit=thresholds.outbox_s), _failed(session)]
            else:
                checks += [Check(n, FAIL, t("ops.skipped")) for n in ("worker", "outbox", "failed_deliveries")]
    except Exception as exc:  # noqa: BLE001 - whatever keeps the database from answering is the finding
        error = describe_error(exc)
        checks = [Check("database", FAIL, t("ops.database_fail", error=error), {"error": error}),
                  *(Check(n, FAIL, t("ops.skipped")) for n in ("migrations", "worker", "outbox", "failed_deliveries"))]
    return HealthReport(at, tuple(checks))


# --- the Betrieb page ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeartbeatRow:
    worker_id: str
    host: str
    pid: int
    started_at: datetime
    last_beat_at: datetime
    age_s: int
    state: str  # live, stale, stopped
    rounds: int
    last_result: str
    last_counts: dict


@dataclass(frozen=True)
class LastPurge:
    started_at: datetime
    finished_at: datetime | None
    changed: int


@dataclass(frozen=True)
class OpsOverview:
    health: HealthReport
    thresholds: Thresholds
    heartbeats: tuple[HeartbeatRow, ...]
    last_purge: LastPurge | None
    backend: str
    database_bytes: int | None


def _heartbeats(session: Session, *, at: datetime, limit: int) -> tuple[HeartbeatRow, ...]:
    rows = session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_beat_at.desc()).limit(50)).all()
    return tuple(
        HeartbeatRow(r.worker_id, r.host, r.pid, r.started_at, r.last_beat_at, _age(at, r.last_beat_at),
                     "stopped" if r.stopped_at else "stale" if _age(at, r.last_beat_at) > limit else "live",
                     r.rounds, r.last_result, dict(r.last_counts or {}))
        for r in rows
    )


def _last_purge(session: Session) -> LastPurge | None:
    run = session.scalars(select(PurgeRun).order_by(PurgeRun.started_at.desc(), PurgeRun.id.desc()).limit(1)).first()
    if run is None:
        return None
    return LastPurge(run.started_at, run.finished_at, sum((run.counts or {}).get(k, 0) for k in CHANGE_CATEGORIES))


def database_bytes(session: Session) -> int | None:
    """The database's size on disk: the SQLite file with its WAL, or PostgreSQL's pg_database_size."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return session.scalar(text("SELECT pg_database_size(current_database())"))
    name = bind.url.database
    if not name or name == ":memory:":
        return None
    return sum(p.stat().st_size for p in (Path(name), Path(name + "-wal")) if p.exists())


def ops_overview(engine: Engine, *, actor: Actor, thresholds: Thresholds | None = None,
                 at: datetime | None = None) -> OpsOverview:
    """Everything the Betrieb page shows: the health checks, the workers, the last purge, the database size."""
    require(actor, Action.VIEW_OPS)
    thresholds, at = thresholds or Thresholds(), at or now()
    report = check_health(engine, thresholds=thresholds, at=at)
    heartbeats, purge, size = (), None, None
    if all(c.status != FAIL for c in report.checks[:2]):  # the database answers and is migrated
        with read_only(engine) as session:
            heartbeats = _heartbeats(session, at=at, limit=thresholds.worker_s)
            purge, size = _last_purge(session), database_bytes(session)
    return OpsOverview(report, thresholds, heartbeats, purge, engine.dialect.name, size)


# --- the HTTP endpoint --------------------------------------------------------------------------------------


def health_server(engine: Engine, *, thresholds: Thresholds | None = None, host: str = "127.0.0.1",
                  port: int = 8502) -> ThreadingHTTPServer:
    """An HTTP server answering GET /health (also /healthz and /) with the report as JSON: 200 when healthy,
    503 when not. Not started: call `serve_forever()` (see `start_health_server`)."""
    thresholds = thresholds or Thresholds()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] not in HEALTH_PATHS:
                self.send_error(404)
                return
            report = check_health(engine, thresholds=thresholds)
            body = report.to_json().encode()
            self.send_response(200 if report.healthy else 503)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:
            log.debug("health %s", format % args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def start_health_server(engine: Engine, *, thresholds: Thresholds | None = None, host: str = "127.0.0.1",
                        port: int = 8502) -> ThreadingHTTPServer:
    """`health_server` running in a daemon thread; `shutdown()` stops it."""
    server = health_server(engine, thresholds=thresholds, host=host, port=port)
    threading.Thread(target=server.serve_forever, name="schadenportal-health", daemon=True).start()
    return server
