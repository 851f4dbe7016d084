"""Connection handling against a PostgreSQL restart, on a private PostgreSQL 15 server in a temporary directory.

The shared test server on 127.0.0.1:5432 is never touched: this module starts its own server (initdb + pg_ctl
on a free port, trust authentication, run as the `postgres` OS user when the tests run as root), restarts it
with `pg_ctl restart -m fast` while the app holds pooled connections and while a write is in flight, and stops it
at the end. Checked: the pool is sized from DB_POOL_SIZE; the next unit of work after a restart succeeds (the
engine pings pooled connections); a write cut off by the restart is committed completely or not at all; and the
UI shows t("db.unavailable") instead of a traceback while the database is away, then works again.
"""

from __future__ import annotations

import base64
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from streamlit.testing.v1 import AppTest

from core import auth, kpi_store
from core.cases import NewCase, create_case
from core.enums import DamageType, Role
from core.i18n import t
from core.permissions import SYSTEM
from core.settings import ROOT, Settings
from core.ui.auth import SESSION_KEY
from db.engine import make_engine, read_only, unit_of_work
from db.migrate import upgrade_to_head
from db.models import Broker, Case, CaseEvent, Person
from tests.factories import make_broker, make_case, make_user

PG_VERSION = "15"
COOKIE_KEY = "restart-test-cookie-key-0123456789abcdef0123456789"
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"restart-test-encryption-key-0123").decode()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/{PG_VERSION}/bin/{name}")) or sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"{name} of PostgreSQL not found under /usr/lib/postgresql (Debian package postgresql)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrivatePostgres:
    """A throw-away PostgreSQL server: data directory, socket and log in `root`, listening on 127.0.0.1:port."""

    root: Path
    port: int

    @property
    def _as_user(self) -> list[str]:
        # initdb and postgres refuse to run as root: then run them as the postgres OS user, who owns `root`.
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*self._as_user, _pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-l",
                        str(self.root / "server.log"), "-o", options, "-w", "-t", "60", *args],
                       check=True, stdout=subprocess.DEVNULL, timeout=90)

    def init(self) -> None:
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
        subprocess.run([*self._as_user, _pg_bin("initdb"), "-D", str(self.root / "data"), "-A", "trust",
                        "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def restart(self) -> None:
        self._pg_ctl("-m", "fast", "restart")

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="sp_pg_"))
    server = PrivatePostgres(root, _free_port())
    server.init()
    server.start()
    try:
        admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "sp_restart"'))
        admin.dispose()
        engine = make_engine(server.url("sp_restart"))
        upgrade_to_head(engine)
        engine.dispose()
        yield server
    finally:
        try:
            server.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped by a failed test
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_engine(private_pg) -> Iterator:
    if not _running(private_pg):
        private_pg.start()
    engine = make_engine(private_pg.url("sp_restart"), pool_size=3)
    yield engine
    engine.dispose()


def _running(server: PrivatePostgres) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", server.port)) == 0


def _settings(server: PrivatePostgres, tmp_path, **extra: str) -> Settings:
    return Settings.load(env={"APP_MODE": "production", "DATABASE_URL": server.url("sp_restart"),
                              "DATA_DIR": str(tmp_path / "data"), "COOKIE_KEY": COOKIE_KEY,
                              "ENCRYPTION_KEY": ENCRYPTION_KEY, **extra},
                         secrets_path=tmp_path / "none.toml")


def test_pool_is_sized_from_settings(private_pg, tmp_path):
    from core.cli import _engine as cli_engine
    from core.ui import resources

    settings = _settings(private_pg, tmp_path, DB_POOL_SIZE="7")
    engine = cli_engine(settings)  # every CLI command opens its engine here
    try:
        assert engine.pool.size() == 7
        assert engine.pool._max_overflow == 7  # no public accessor
        assert engine.pool._pre_ping
    finally:
        engine.dispose()
    ui_engine = resources._engine(settings.database_url, settings.db_pool_size)  # what the app caches
    try:
        assert ui_engine.pool.size() == 7
    finally:
        ui_engine.dispose()
        st.cache_resource.clear()


def test_next_unit_of_work_after_restart_succeeds(private_pg, pg_engine):
    with unit_of_work(pg_engine) as s:
        s.add(Broker(name="Vor dem Neustart"))
    with read_only(pg_engine) as s:  # a second pooled connection, so more than one goes stale
        s.execute(select(1))
    assert pg_engine.pool.checkedin() >= 1

    private_pg.restart()

    with unit_of_work(pg_engine) as s:  # the stale pooled connection is pinged, replaced, and used
        s.add(Broker(name="Nach dem Neustart"))
    with read_only(pg_engine) as s:
        names = set(s.scalars(select(Broker.name)))
    assert {"Vor dem Neustart", "Nach dem Neustart"} <= names


def test_write_in_flight_during_restart_is_all_or_nothing(private_pg, pg_engine):
    events_per_case = _events_of(pg_engine, make_case(pg_engine, last_name="Referenz"))
    assert events_per_case >= 1
    with read_only(pg_engine) as s:
        cases_before = s.scalar(select(func.count()).select_from(Case))

    # 1) A transaction that has written (flushed) a whole case when the server goes down: nothing of it stays.
    with pytest.raises(DBAPIError), unit_of_work(pg_engine) as s:
        create_case(s, actor=SYSTEM, data=NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Abgebrochen",
            client_first_name="Erika", postal_code="10115", plate="B-XY 1", broker_id=None))
        s.flush()
        private_pg.restart()
    with read_only(pg_engine) as s:
        assert s.scalar(select(func.count()).select_from(Case)) == cases_before
        assert s.scalar(select(func.count()).select_from(Person).where(Person.last_name == "Abgebrochen")) == 0

    # 2) A writer creating cases one transaction each while the server restarts: every case that is in the
    # database is complete, every reported success is in it, and at most the one cut-off commit is unknown.
    outcome: dict[str, list[str]] = {"ok": [], "failed": []}
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 2000:
            name = f"Laufend{i:04d}"
            i += 1
            try:
                make_case(pg_engine, last_name=name)
            except DBAPIError:
                outcome["failed"].append(name)
                stop.wait(0.1)  # as a user would: try again a moment later
            else:
                outcome["ok"].append(name)

    thread = threading.Thread(target=writer)
    thread.start()
    while len(outcome["ok"]) < 3 and thread.is_alive():
        stop.wait(0.05)
    private_pg.restart()
    while thread.is_alive() and not _wrote_after(outcome, 3):
        stop.wait(0.05)
    stop.set()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert outcome["failed"], "the restart interrupted no write (it happened between two transactions)"
    assert _wrote_after(outcome, 3), "no write succeeded after the restart"

    with read_only(pg_engine) as s:
        stored = set(s.scalars(select(Person.last_name).join(Case, Case.client_id == Person.id)
                               .where(Person.last_name.like("Laufend%"))))
        for name in stored:
            case_id = s.scalar(select(Case.id).join(Person, Case.client_id == Person.id)
                               .where(Person.last_name == name))
            count = s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id))
            assert count == events_per_case, f"case of {name} is incomplete: {count} events"
    assert set(outcome["ok"]) <= stored
    assert len(stored - set(outcome["ok"])) <= 1  # a commit whose answer was lost may have gone through
    with unit_of_work(pg_engine) as s:
        assert kpi_store.verify(s) == []  # the KPI store written in the same transactions agrees


def _wrote_after(outcome: dict[str, list[str]], n: int) -> bool:
    """At least n successes after the first failure."""
    if not outcome["failed"]:
        return False
    first_failed = outcome["failed"][0]
    return sum(1 for name in outcome["ok"] if name > first_failed) >= n


def _events_of(engine, number: str) -> int:
    with read_only(engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == number))
        return s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id))


# --- the UI: a dropped connection during an action is one clear German message, and the next action works ---

def _action_script() -> None:
    import streamlit as st

    from core.ui.widgets import act, show_notice
    from db.models import Broker

    show_notice("restart_notice")
    if st.button("Anlegen"):
        act(lambda s: s.add(Broker(name=f"UI {st.session_state.setdefault('n', 0)}")), "Angelegt.",
            notice_key="restart_notice")


@pytest.fixture
def app_env(private_pg, tmp_path, monkeypatch):
    for name, value in {"APP_MODE": "production", "DATABASE_URL": private_pg.url("sp_restart"),
                        "DATA_DIR": str(tmp_path / "data"), "COOKIE_KEY": COOKIE_KEY,
                        "ENCRYPTION_KEY": ENCRYPTION_KEY}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    if not _running(private_pg):
        private_pg.start()
    st.cache_resource.clear()
    yield private_pg
    st.cache_resource.clear()  # disposes nothing, but the next test builds its own engine
    if not _running(private_pg):
        private_pg.start()


def _brokers_named_ui(server: PrivatePostgres) -> int:
    engine = make_engine(server.url("sp_restart"))
    try:
        with read_only(engine) as s:
            return s.scalar(select(func.count()).select_from(Broker).where(Broker.name.like("UI %")))
    finally:
        engine.dispose()


def test_action_while_database_is_down_shows_clear_message(app_env):
    server = app_env
    before = _brokers_named_ui(server)
    at = AppTest.from_function(_action_script, default_timeout=30)
    at.run()
    at.button[0].click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Angelegt."]

    server.stop()
    at.button[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [t("db.unavailable")]

    server.start()
    at.button[0].click().run()  # the pool's dead connections are replaced: the first click after works
    assert not at.exception
    assert not at.error
    assert [s.value for s in at.success] == ["Angelegt."]
    assert _brokers_named_ui(server) == before + 2  # the click during the outage wrote nothing


def test_action_after_restart_works_at_once(app_env):
    server = app_env
    at = AppTest.from_function(_action_script, default_timeout=30)
    at.run()
    at.button[0].click().run()
    assert [s.value for s in at.success] == ["Angelegt."]
    server.restart()  # the engine cached by the app now holds only dead connections
    at.button[0].click().run()
    assert not at.exception
    assert not at.error
    assert [s.value for s in at.success] == ["Angelegt."]


def test_logged_in_page_while_database_is_down(app_env, tmp_path):
    """The login gate reads the server session on every run: with the database away it says so and stops."""
    server = app_env
    engine = make_engine(server.url("sp_restart"))
    try:
        user_id = make_user(engine, f"restart_broker_{os.getpid()}", Role.BROKER, broker_id=make_broker(engine))
        with unit_of_work(engine) as s:
            info = auth.create_session(s, user_id=user_id, settings=_settings(server, tmp_path))
    finally:
        engine.dispose()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[SESSION_KEY] = info.session_id
    at.run()
    assert not at.exception
    assert any(b.label == t("app.logout") for b in at.sidebar.button)

    server.stop()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [t("db.unavailable")]

    server.start()
    at.run()  # still logged in: the session row is in the database, the id in session_state
    assert not at.exception
    assert not at.error
    assert any(b.label == t("app.logout") for b in at.sidebar.button)
