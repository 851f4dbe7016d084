"""Workers as real processes: several at once on PostgreSQL send every mail exactly once (counted at a real SMTP
server); on SQLite one worker at a time (a second one exits 1 naming the first), also for `serve`'s thread; and
every worker writes its heartbeat."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from core import cli
from core.enums import OutboxStatus
from core.outbox import enqueue_mail
from core.settings import ROOT, Settings
from core.worker import run_worker
from core.worker_lock import WorkerAlreadyRunning, acquire_worker_lock, lock_path
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head
from db.models import OutboxMessage, WorkerHeartbeat
from tests.mailserver import SmtpServer, free_port

DEADLINE = 120


class SlowSmtpServer(SmtpServer):
    """The test SMTP server taking 40 ms per mail, so that the workers' batches overlap in time."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.04)
        return await super().handle_DATA(server, session, envelope)


def queue_mails(engine, count: int) -> None:
    with unit_of_work(engine) as s:
        for i in range(count):
            enqueue_mail(s, idempotency_key=f"workers:{i}", template_key="partner_rejected",
                         recipient=f"empfaenger{i}@example.org",
                         values={"ansprechpartner": f"Frau {i}", "betrieb": f"Betrieb {i}", "grund": "Region voll"})


def env_for(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "DATABASE_URL", "HEALTH_PORT"))}
    return {**base, "DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data"), "APP_MODE": "demo",
            "SECRETS_PATH": str(tmp_path / "none.toml"), "PYTHONUNBUFFERED": "1", **extra}


def start_worker(url: str, tmp_path: Path, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core", "worker", *args], cwd=ROOT,
                            env=env_for(url, tmp_path, **extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def run_once(url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "worker", "--once"], cwd=ROOT, env=env_for(url, tmp_path),
                          capture_output=True, text=True, timeout=DEADLINE, check=False)


def wait_for(condition, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def heartbeats(engine) -> list[WorkerHeartbeat]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.id)))


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    return url


def test_three_worker_processes_on_postgresql_send_every_mail_exactly_once(engine, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers at once are a PostgreSQL setup; SQLite allows one (tests below)")
    count = 120
    queue_mails(engine, count)
    smtp = SlowSmtpServer()
    smtp.start()
    extra = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SECURITY": "none",
             "SMTP_SENDER": "Schadenportal <noreply@schadenportal.example>"}
    workers = [start_worker(database_url, tmp_path, "--interval", "0.2", **extra) for _ in range(3)]
    try:
        wait_for(lambda: len(smtp.received) >= count, f"{count} mails at the SMTP server")
        time.sleep(1.5)  # a double send would arrive now
    finally:
        results = [stop(w) for w in workers]
        smtp.stop()
    assert [code for code, _ in results] == [0, 0, 0], [err[-2000:] for _, err in results]
    recipients = [r for rcpts, _ in smtp.received for r in rcpts]
    assert len(recipients) == count and len(set(recipients)) == count
    assert len(set(smtp.message_ids)) == count
    with unit_of_work(engine) as s:
        rows = list(s.scalars(select(OutboxMessage)))
    assert {r.status for r in rows} == {OutboxStatus.SENT} and all(r.attempts == 1 for r in rows)
    assert len({r.claimed_by for r in rows}) >= 2  # the work really was shared
    beats = heartbeats(engine)
    assert len(beats) == 3 and all(b.stopped_at is not None for b in beats)
    assert sum(b.last_counts.get("sent", 0) for b in beats) <= count


def test_a_second_worker_on_sqlite_exits_1_naming_the_running_one(sqlite_url, tmp_path):
    first = start_worker(sqlite_url, tmp_path, "--interval", "0.2")
    engine = make_engine(sqlite_url)
    try:
        wait_for(lambda: any(b.rounds >= 1 for b in heartbeats(engine)), "the first worker's first round")
        second = run_once(sqlite_url, tmp_path)
    finally:
        code, _ = stop(first)
        engine.dispose()
    assert second.returncode == 1
    assert f"Es läuft bereits ein Worker (PID {first.pid} auf " in second.stderr
    assert "seit " in second.stderr and "PostgreSQL" in second.stderr
    assert code == 0


def test_the_lock_goes_with_the_worker_even_after_kill_9(sqlite_url, tmp_path):
    first = start_worker(sqlite_url, tmp_path, "--interval", "0.2")
    engine = make_engine(sqlite_url)
    try:
        wait_for(lambda: any(b.rounds >= 1 for b in heartbeats(engine)), "the first worker's first round")
    finally:
        first.kill()
        first.communicate(timeout=30)
    after = run_once(sqlite_url, tmp_path)
    beats = heartbeats(engine)
    engine.dispose()
    assert after.returncode == 0, after.stderr
    assert len(beats) == 2 and beats[0].stopped_at is None and beats[1].stopped_at is not None


def test_serve_starts_no_worker_thread_while_a_separate_worker_runs(sqlite_url, tmp_path, caplog):
    settings = Settings.load(env={"DATABASE_URL": sqlite_url, "DATA_DIR": str(tmp_path / "data")},
                             secrets_path=tmp_path / "none.toml")
    separate = start_worker(sqlite_url, tmp_path, "--interval", "0.2")
    engine = make_engine(sqlite_url)
    try:
        wait_for(lambda: any(b.rounds >= 1 for b in heartbeats(engine)), "the separate worker's first round")
        with caplog.at_level(logging.WARNING, logger="core.worker"):
            thread = cli._start_worker(settings, threading.Event())
    finally:
        stop(separate)
        engine.dispose()
    assert thread is None
    assert any(f"Kein eigener Worker gestartet: Es läuft bereits ein Worker (PID {separate.pid}" in r.getMessage()
               for r in caplog.records)


def test_while_serve_runs_its_worker_a_separate_worker_exits_1(sqlite_url, tmp_path):
    settings = Settings.load(env={"DATABASE_URL": sqlite_url, "DATA_DIR": str(tmp_path / "data")},
                             secrets_path=tmp_path / "none.toml")
    halt = threading.Event()
    thread = cli._start_worker(settings, halt)
    try:
        separate = run_once(sqlite_url, tmp_path)
    finally:
        halt.set()
        thread.join(timeout=30)
    assert separate.returncode == 1 and f"(PID {os.getpid()} auf " in separate.stderr
    assert run_once(sqlite_url, tmp_path).returncode == 0  # the thread gave the lock back when it ended


def test_serve_with_a_separate_worker_logs_why_and_answers_on_the_health_port(sqlite_url, tmp_path):
    separate = start_worker(sqlite_url, tmp_path, "--interval", "0.5")
    engine = make_engine(sqlite_url)
    try:  # the separate worker holds the lock before serve starts (else serve may win the race under load)
        wait_for(lambda: any(b.rounds >= 1 for b in heartbeats(engine)), "the separate worker's first round")
    except AssertionError:
        stop(separate)
        raise
    finally:
        engine.dispose()
    health_port, app_port = free_port(), free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "core", "serve", "--port", str(app_port), "--health-port", str(health_port),
         "--demo-cases", "0", "--no-api"], cwd=ROOT, env=env_for(sqlite_url, tmp_path), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    answer: dict = {}

    def health() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/health", timeout=5) as response:
                answer.update(code=response.status, body=json.loads(response.read()))
                return True
        except OSError:
            return False

    try:
        wait_for(health, "the health endpoint of serve")
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        _, serve_err = serve.communicate(timeout=60)
        stop(separate)
    assert answer["code"] == 200 and answer["body"]["healthy"] is True
    assert answer["body"]["checks"]["worker"]["live_workers"] == 1  # the separate one; serve started none
    assert f"Kein eigener Worker gestartet: Es läuft bereits ein Worker (PID {separate.pid}" in serve_err


def test_run_worker_writes_its_heartbeat_every_round_and_marks_the_end(engine, settings):
    queue_mails(engine, 2)
    run_worker(engine, settings, once=True, worker_id="host:1:test")
    [beat] = heartbeats(engine)
    assert (beat.worker_id, beat.pid, beat.rounds, beat.last_result) == ("host:1:test", os.getpid(), 1, "ok")
    assert beat.last_counts["sent"] == 2 and beat.last_counts["claimed"] == 2
    assert beat.host and beat.started_at <= beat.last_beat_at <= beat.stopped_at


def test_on_postgresql_no_lock_is_needed_and_on_sqlite_the_lock_sits_next_to_the_database(tmp_path):
    assert lock_path("postgresql+psycopg://u@127.0.0.1/db") is None
    assert lock_path("sqlite:///:memory:") is None
    assert lock_path(f"sqlite:///{tmp_path / 'x.db'}") == tmp_path / "x.db.worker.lock"
    assert acquire_worker_lock("postgresql+psycopg://u@127.0.0.1/db").path is None


def test_the_lock_is_refused_within_one_process_too_and_free_again_after_release(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    held = acquire_worker_lock(url)
    with pytest.raises(WorkerAlreadyRunning, match=f"PID {os.getpid()} auf "):
        acquire_worker_lock(url)
    held.release()
    acquire_worker_lock(url).release()
