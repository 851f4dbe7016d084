"""Health checks on SQLite and PostgreSQL: healthy, stale or missing worker, backlog figures, failed deliveries,
an old schema, an unreachable database; the same report from `python -m core health` and over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from core import heartbeat
from core.enums import OutboxStatus, Role
from core.errors import PermissionDenied
from core.health import (
    FAIL,
    OK,
    WARN,
    Thresholds,
    check_health,
    ops_overview,
    start_health_server,
)
from core.outbox import enqueue_mail
from core.permissions import SYSTEM, Actor
from core.settings import ROOT
from core.timeutil import now
from db.engine import make_engine, unit_of_work
from db.models import OutboxMessage, Webhook, WebhookDelivery
from tests.mailserver import free_port

LIMITS = Thresholds(worker_s=300, outbox_s=900)


def beat(engine, worker_id: str = "w1", *, ago: timedelta = timedelta(0), stopped: bool = False) -> None:
    at = now() - ago
    heartbeat.beat(engine, worker_id=worker_id, started_at=at - timedelta(hours=1), result="ok",
                   counts={"sent": 0}, at=at)
    if stopped:
        heartbeat.stopped(engine, worker_id=worker_id, at=at)


def queue(engine, count: int, *, created_ago: timedelta, due_ago: timedelta | None) -> None:
    """`count` mails created `created_ago`; due `due_ago` ago (None: waiting for a retry an hour from now)."""
    with unit_of_work(engine) as s:
        for i in range(count):
            enqueue_mail(s, idempotency_key=f"h:{created_ago}:{due_ago}:{i}", template_key="partner_rejected",
                         recipient=f"x{i}@example.org",
                         values={"ansprechpartner": "Frau X", "betrieb": "Betrieb", "grund": "Region voll"})
        s.flush()
        next_at = now() + timedelta(hours=1) if due_ago is None else now() - due_ago
        s.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"h:{created_ago}:{due_ago}:%"))
                  .values(created_at=now() - created_ago, next_attempt_at=next_at))


def statuses(report) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_a_migrated_database_with_a_fresh_heartbeat_is_healthy(engine):
    beat(engine, ago=timedelta(seconds=20))
    report = check_health(engine, thresholds=LIMITS)
    assert report.healthy and set(statuses(report).values()) == {OK}
    body = report.to_dict()
    assert body["status"] == "ok" and list(body["checks"]) == ["database", "migrations", "worker", "outbox",
                                                                "failed_deliveries"]
    assert body["checks"]["database"]["latency_ms"] >= 0
    assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]
    assert 19 <= body["checks"]["worker"]["heartbeat_age_s"] <= 60 and body["checks"]["worker"]["live_workers"] == 1


def test_a_stale_heartbeat_makes_it_unhealthy(engine):
    beat(engine, ago=timedelta(minutes=10))
    report = check_health(engine, thresholds=LIMITS)
    worker = report.to_dict()["checks"]["worker"]
    assert not report.healthy and worker["status"] == FAIL
    assert 600 <= worker["heartbeat_age_s"] < 700 and worker["live_workers"] == 0
    assert "älter als 300 s" in worker["detail"]


def test_no_heartbeat_at_all_or_only_a_stopped_worker_is_unhealthy(engine):
    assert statuses(check_health(engine, thresholds=LIMITS))["worker"] == FAIL
    beat(engine, ago=timedelta(seconds=5), stopped=True)
    report = check_health(engine, thresholds=LIMITS)
    assert statuses(report)["worker"] == FAIL and "kein Worker" in report.checks[2].detail


def test_the_freshest_of_several_workers_counts(engine):
    beat(engine, "old", ago=timedelta(hours=2))
    beat(engine, "new", ago=timedelta(seconds=3))
    worker = check_health(engine, thresholds=LIMITS).to_dict()["checks"]["worker"]
    assert worker["status"] == OK and worker["heartbeat_age_s"] < 60 and worker["live_workers"] == 1


def test_backlog_figures_count_waiting_and_due_mails_and_their_ages(engine):
    beat(engine)
    queue(engine, 2, created_ago=timedelta(hours=2), due_ago=None)  # waiting for a retry: not due
    queue(engine, 3, created_ago=timedelta(minutes=5), due_ago=timedelta(minutes=4))
    with unit_of_work(engine) as s:  # a sent mail is no backlog
        s.execute(update(OutboxMessage).where(OutboxMessage.id == 1).values(status=OutboxStatus.SENT))
    outbox = check_health(engine, thresholds=LIMITS).to_dict()["checks"]["outbox"]
    assert (outbox["pending"], outbox["due"]) == (4, 3)
    assert 7150 <= outbox["oldest_pending_age_s"] <= 7300  # the older ones, created two hours ago
    assert 235 <= outbox["oldest_due_age_s"] <= 300 and outbox["status"] == OK


def test_a_due_mail_waiting_longer_than_the_limit_makes_it_unhealthy(engine):
    beat(engine)
    queue(engine, 1, created_ago=timedelta(minutes=30), due_ago=timedelta(minutes=20))
    report = check_health(engine, thresholds=LIMITS)
    assert not report.healthy and statuses(report)["outbox"] == FAIL


def test_failed_deliveries_are_counted_as_a_warning_not_a_failure(engine):
    beat(engine)
    queue(engine, 2, created_ago=timedelta(0), due_ago=timedelta(0))
    with unit_of_work(engine) as s:
        s.execute(update(OutboxMessage).values(status=OutboxStatus.FAILED))
        hook = Webhook(url="http://127.0.0.1:9/x", secret="s", event_types=["case.created"])
        s.add(hook)
        s.flush()
        s.add(WebhookDelivery(webhook_id=hook.id, event="case.created", payload={}, status=OutboxStatus.FAILED))
    report = check_health(engine, thresholds=LIMITS)
    failed = report.to_dict()["checks"]["failed_deliveries"]
    assert report.healthy and failed["status"] == WARN and (failed["mails"], failed["webhooks"]) == (2, 1)


def test_a_database_behind_the_newest_migration_fails_and_skips_the_rest(engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'd478c1b91afd'"))
    report = check_health(engine, thresholds=LIMITS)
    assert statuses(report) == {"database": OK, "migrations": FAIL, "worker": FAIL, "outbox": FAIL,
                                "failed_deliveries": FAIL}
    assert report.to_dict()["checks"]["migrations"]["current"] == "d478c1b91afd"


def test_an_unreachable_database_fails_every_check():
    dead = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    report = check_health(dead, thresholds=LIMITS)
    dead.dispose()
    assert not report.healthy and set(statuses(report).values()) == {FAIL}
    assert "nicht erreichbar" in report.checks[0].detail


def test_the_http_endpoint_answers_200_when_healthy_and_503_when_not(engine):
    beat(engine)
    server = start_health_server(engine, thresholds=LIMITS, port=free_port())
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            healthy = (response.status, response.headers["Content-Type"], json.loads(response.read()))
        beat(engine, ago=timedelta(hours=1))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/health", timeout=10)
        unhealthy = (refused.value.code, json.loads(refused.value.read()))
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{url}/admin", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert healthy[0] == 200 and healthy[1].startswith("application/json") and healthy[2]["healthy"] is True
    assert unhealthy[0] == 503 and unhealthy[1]["checks"]["worker"]["status"] == FAIL
    assert missing.value.code == 404
    assert server.server_address[0] == "127.0.0.1"


def test_health_command_prints_json_and_exits_0_then_1(engine, database_url, tmp_path):
    env = {**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}, "DATABASE_URL": database_url,
           "DATA_DIR": str(tmp_path / "data"), "APP_MODE": "demo", "SECRETS_PATH": str(tmp_path / "none.toml"),
           "WORKER_STALE_SECONDS": "120"}

    def health():
        return subprocess.run([sys.executable, "-m", "core", "health"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    beat(engine, ago=timedelta(seconds=30))
    good = health()
    beat(engine, ago=timedelta(seconds=200))  # fresh for 300 s, stale for the configured 120 s
    bad = health()
    assert good.returncode == 0, good.stdout + good.stderr
    assert json.loads(good.stdout)["healthy"] is True
    assert bad.returncode == 1 and json.loads(bad.stdout)["checks"]["worker"]["threshold_s"] == 120


def test_ops_overview_is_for_admins_and_shows_workers_purge_and_size(engine):
    beat(engine, "live", ago=timedelta(seconds=10))
    beat(engine, "stale", ago=timedelta(minutes=30))
    beat(engine, "gone", ago=timedelta(seconds=10), stopped=True)
    overview = ops_overview(engine, actor=SYSTEM, thresholds=LIMITS)
    assert {h.worker_id: h.state for h in overview.heartbeats} == {"live": "live", "stale": "stale",
                                                                   "gone": "stopped"}
    assert overview.last_purge is None and overview.database_bytes > 0
    staff = Actor(user_id=1, username="s", display_name="S", role=Role.STAFF)
    with pytest.raises(PermissionDenied):
        ops_overview(engine, actor=staff)


def test_heartbeats_of_workers_gone_for_a_week_are_removed_by_the_next_beat(engine):
    beat(engine, "ancient", ago=timedelta(days=8))
    beat(engine, "current")
    overview = ops_overview(engine, actor=SYSTEM, thresholds=LIMITS)
    assert [h.worker_id for h in overview.heartbeats] == ["current"]
