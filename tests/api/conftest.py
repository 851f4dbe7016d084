"""The REST API on a real uvicorn server on a free loopback port, over SQLite and PostgreSQL.

`ApiWorld` holds two brokers (A with a case, B with a case), an admin, keys for all three and a clock the
app reads (tests move it instead of sleeping)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from api.app import create_app
from core.api_keys import create_api_key
from core.enums import PartnerKind, Role
from core.permissions import SYSTEM
from core.settings import Settings
from core.timeutil import now
from db.engine import make_engine, unit_of_work
from tests.conftest import _backends, fresh_database
from tests.factories import make_broker, make_case, make_partner, make_user


@dataclass
class Clock:
    """The API's clock: real time unless a test pins it."""

    pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self.pinned or now()


@dataclass
class ApiWorld:
    engine: Engine
    settings: Settings
    url: str
    clock: Clock
    users: dict[str, int]
    keys: dict[str, str]  # broker_a, broker_b, admin
    case_a: str  # broker A's case
    case_b: str  # broker B's case
    broker_a: int
    broker_b: int
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, who: str | None = None, *, header: str = "bearer") -> httpx.Client:
        """An HTTP client with the key of `who` (None: no key) as Bearer token or X-API-Key header."""
        headers = {}
        if who is not None:
            key = self.keys.get(who, who)
            headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client

    def new_broker(self, username: str) -> tuple[int, str]:
        """A further broker login of agency A with a key of its own: (user id, key), for tests that change it."""
        user_id = make_user(self.engine, username, Role.BROKER, broker_id=self.broker_a)
        self.users[username] = user_id
        return user_id, self.new_key(username)

    def new_key(self, username: str, name: str = "Test") -> str:
        with unit_of_work(self.engine) as s:
            plaintext, _ = create_api_key(s, actor=SYSTEM, name=name, owner_id=self.users[username])
        return plaintext


def api_settings(database_url: str, tmp_path, **env: str) -> Settings:
    return Settings.load(env={"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"), **env},
                         secrets_path=tmp_path / "none.toml")


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(app) -> RunningServer:
    """uvicorn in a thread on a socket already bound to a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return RunningServer(f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread)


def build_world(database_url: str, tmp_path, **env: str) -> Iterator[ApiWorld]:
    settings = api_settings(database_url, tmp_path, **env)
    engine = make_engine(database_url)
    partner = make_partner(engine, "Autoglas Nord", PartnerKind.GLASS)
    broker_a, broker_b = make_broker(engine, "Büro A"), make_broker(engine, "Büro B")
    users = {
        "broker_a": make_user(engine, "api_broker_a", Role.BROKER, broker_id=broker_a),
        "broker_b": make_user(engine, "api_broker_b", Role.BROKER, broker_id=broker_b),
        "admin": make_user(engine, "api_admin", Role.ADMIN),
        "staff": make_user(engine, "api_staff", Role.STAFF),
        "partner": make_user(engine, "api_partner", Role.PARTNER, partner_id=partner),
    }
    case_a = make_case(engine, partner_id=partner, broker_id=broker_a, last_name="Eigen")
    case_b = make_case(engine, partner_id=partner, broker_id=broker_b, last_name="Fremd")
    clock = Clock()
    running = start_server(create_app(settings, engine=engine, clock=clock))
    world = ApiWorld(engine, settings, running.url, clock, users, {}, case_a, case_b, broker_a, broker_b)
    world.keys = {who: world.new_key(who) for who in ("broker_a", "broker_b", "admin")}
    try:
        yield world
    finally:
        for client in world.clients:
            client.close()
        running.stop()
        engine.dispose()


@pytest.fixture(scope="module", params=_backends())
def module_database_url(request, tmp_path_factory) -> Iterator[str]:
    """A fresh migrated database shared by one test module (building one costs seconds; tests that change keys
    or logins make their own)."""
    with fresh_database(request, request.param, tmp_path_factory.mktemp("api"), prefix="sp_api") as url:
        yield url


@pytest.fixture(scope="module")
def world(module_database_url, tmp_path_factory) -> Iterator[ApiWorld]:
    yield from build_world(module_database_url, tmp_path_factory.mktemp("api_data"))


@pytest.fixture(autouse=True)
def _real_time(request) -> Iterator[None]:
    """Each test starts with the API on real time (a test may pin the clock)."""
    yield
    if "world" in request.fixturenames:
        request.getfixturevalue("world").clock.pinned = None
