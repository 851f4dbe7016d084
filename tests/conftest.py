"""Shared fixtures: a migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL comes from PG_ADMIN_URL (default: the local server on 127.0.0.1:5432). In CI a missing server
fails the run (it is not skipped); locally, set SP_SKIP_PG=1 to run SQLite only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from core.settings import Settings
from db.engine import make_engine
from db.migrate import upgrade_to_head

PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
_PG_TEMPLATE = f"sp_tpl_{os.getpid()}"


def _pg_admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")


def pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database used as the template for each test's own database."""
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE}"'))
        conn.execute(text(f'CREATE DATABASE "{_PG_TEMPLATE}"'))
    engine = make_engine(pg_url(_PG_TEMPLATE))
    upgrade_to_head(engine)
    engine.dispose()
    yield _PG_TEMPLATE
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{_PG_TEMPLATE}" WITH (FORCE)'))
    admin.dispose()


def _backends() -> list[str]:
    return ["sqlite"] if os.environ.get("SP_SKIP_PG") == "1" and not os.environ.get("CI") else ["sqlite", "postgresql"]


@contextmanager
def fresh_database(request, backend: str, folder: Path, prefix: str = "sp_test") -> Iterator[str]:
    """The URL of a new migrated database: a SQLite file in `folder`, or a PostgreSQL copy of the migrated
    template (dropped afterwards)."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'test.db'}"
        engine = make_engine(url)
        upgrade_to_head(engine)
        engine.dispose()
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=_backends())
def database_url(request, tmp_path) -> Iterator[str]:
    """The URL of a fresh, migrated database (SQLite file or PostgreSQL database)."""
    with fresh_database(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    """An engine on a fresh, migrated database; disposed after the test."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    """Demo-mode settings pointing at the test database and a temporary data directory."""
    return Settings.load(
        env={"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"), "LOCKOUT_ATTEMPTS": "5"},
        secrets_path=tmp_path / "none.toml",
    )


# --- the browser (one Chromium per test process, shared by tests/e2e, tests/deploy and tests/security) ------------

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail(f"Chromium not found at {executable}; tests/run.sh installs it from Debian")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()
