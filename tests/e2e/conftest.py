"""Browser tests: `streamlit run app.py` on a free port over a seeded SQLite file, driven by Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from core.settings import ROOT
from core.ui import server
from db.engine import make_engine
from db.migrate import upgrade_to_head
from db.seed import seed_demo

PASSWORD = "demo1234"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_data(tmp_path_factory) -> tuple[Path, str]:
    """(DATA_DIR, DATABASE_URL) of the app under test: fresh demo data. Tests may add rows through core."""
    data = tmp_path_factory.mktemp("e2e-data")
    url = f"sqlite:///{data / 'e2e.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    seed_demo(engine, cases=40, seed=7, password=PASSWORD, today=date.today())
    engine.dispose()
    return data, url


@pytest.fixture(scope="session")
def app_url(app_data) -> Iterator[str]:
    """A running app over the demo data of `app_data`; stopped at the end of the session."""
    with running_app(*app_data) as base:
        yield base


@contextmanager
def running_app(data: Path, url: str) -> Iterator[str]:
    """The app as `python -m core serve` runs it (core.ui.server, no worker) on a free port; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(data), "APP_MODE": "demo",
           "DEMO_PASSWORD": PASSWORD, "LOCKOUT_ATTEMPTS": "5"}
    log = (data / f"streamlit-{port}.log").open("w")
    proc = subprocess.Popen(
        server.command("--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                       "--browser.gatherUsageStats", "false"),
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited early")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy")


