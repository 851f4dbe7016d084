"""The system under load: a private PostgreSQL server, two replicas behind the shipped nginx template, a worker
sending over a real SMTP server on loopback; or one app process on SQLite. Plus the seeded users of the load.

Reuses the deploy test's nginx/replica helpers and the restart test's private PostgreSQL (never the shared server
on 127.0.0.1:5432: the PostgreSQL fault restarts the private one).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
from sqlalchemy import create_engine, select, text

from core.auth import start_totp_enrolment
from core.enums import PartnerKind, Role
from core.permissions import SYSTEM
from core.settings import ROOT, Settings
from core.ui import server
from core.users import create_user
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head
from db.models import Insurer, Partner, User
from tests.deploy.test_replicas import (
    COOKIE_KEY,
    ENCRYPTION_KEY,
    UPLOAD_MAX_MB,
    Replica,
    _self_signed,
    _start_nginx,
)
from tests.e2e.conftest import _free_port, _wait_healthy
from tests.integration.test_pg_restart import PrivatePostgres
from tests.mailserver import SmtpServer

PASSWORD = "Last-Test-2026!"
INSURER = "HUK-COBURG"


@dataclass
class Login:
    username: str
    role: Role
    totp_secret: str = ""  # back-office roles: enrolled before the run, the browser types the current code

    def code(self) -> str:
        return pyotp.TOTP(self.totp_secret).now()


@dataclass
class Stack:
    """What the load runs against; `close()` stops everything that was started."""

    base: str
    database_url: str
    data_dir: Path
    replicas: dict[int, Replica] = field(default_factory=dict)
    pg: PrivatePostgres | None = None
    smtp: SmtpServer | None = None
    exit: ExitStack = field(default_factory=ExitStack)

    def engine(self):
        return make_engine(self.database_url, pool_size=2)

    def kill_replica(self) -> int:
        """kill -9 the first replica still running; its port."""
        for port, replica in self.replicas.items():
            if replica.proc.poll() is None:
                os.kill(replica.proc.pid, signal.SIGKILL)
                replica.proc.wait()
                return port
        raise RuntimeError("no replica left to kill")

    def close(self) -> None:
        self.exit.close()


def settings_for(url: str, data: Path) -> Settings:
    return Settings.load(env={"APP_MODE": "production", "DATABASE_URL": url, "DATA_DIR": str(data),
                              "COOKIE_KEY": COOKIE_KEY, "ENCRYPTION_KEY": ENCRYPTION_KEY},
                         secrets_path=data / "none.toml")


def seed(url: str, data: Path, *, clerks: int, partners: int, managers: int) -> list[Login]:
    """Migrate, then create the load's users (TOTP enrolled for back-office roles) and glass partners serving 10xxx."""
    engine = make_engine(url)
    settings = settings_for(url, data)
    logins: list[Login] = []
    try:
        upgrade_to_head(engine)
        with unit_of_work(engine) as s:
            if s.scalar(select(Insurer).where(Insurer.name == INSURER)) is None:
                s.add(Insurer(name=INSURER))
            for i in range(partners):
                p = Partner(name=f"Lastglas {i + 1:02d}", kind=PartnerKind.GLASS, regions="10", weekly_capacity=100_000,
                            email=f"lastglas{i + 1}@partner.example", street="Hauptstraße 1", postal_code="10115",
                            city="Berlin")
                s.add(p)
                s.flush()
                create_user(s, actor=SYSTEM, username=f"lastglas{i + 1}", display_name=p.name, email="",
                            role=Role.PARTNER, password=PASSWORD, partner_id=p.id)
                logins.append(Login(f"lastglas{i + 1}", Role.PARTNER))
            for role, n, prefix in ((Role.STAFF, clerks, "lastclerk"), (Role.MANAGER, managers, "lastmanager")):
                for i in range(n):
                    user = create_user(s, actor=SYSTEM, username=f"{prefix}{i + 1}", display_name=f"{prefix} {i + 1}",
                                       email="", role=role, password=PASSWORD)
                    secret, _ = start_totp_enrolment(s, user_id=user.id, settings=settings)
                    s.get_one(User, user.id).totp_enabled = True
                    logins.append(Login(user.username, role, secret))
    finally:
        engine.dispose()
    return logins


def _app_env(url: str, data: Path, base: str, smtp: SmtpServer | None) -> dict[str, str]:
    env = {**os.environ, "APP_MODE": "production", "DATABASE_URL": url, "DATA_DIR": str(data),
           "COOKIE_KEY": COOKIE_KEY, "ENCRYPTION_KEY": ENCRYPTION_KEY, "BASE_URL": base, "DB_POOL_SIZE": "5",
           "UPLOAD_MAX_MB": str(UPLOAD_MAX_MB), "STREAMLIT_SERVER_COOKIE_SECRET": "load-test-secret"}
    if smtp is not None:
        env |= {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SECURITY": "none",
                "SMTP_SENDER": "schadenportal@load.example"}
    return env


def start_replicated(*, clerks: int, partners: int, managers: int) -> tuple[Stack, list[Login]]:
    """Private PostgreSQL + nginx + two replicas + worker + SMTP; seeded."""
    tmp = Path(tempfile.mkdtemp(prefix="sp_load_"))
    stack_exit = ExitStack()
    stack_exit.callback(shutil.rmtree, tmp, ignore_errors=True)
    try:
        pg_root = Path(tempfile.mkdtemp(prefix="sp_load_pg_"))  # its own top-level directory: owned by postgres
        stack_exit.callback(shutil.rmtree, pg_root, ignore_errors=True)
        pg = PrivatePostgres(pg_root, _free_port())
        pg.init()
        pg.start()
        stack_exit.callback(_quiet, pg.stop)
        admin = create_engine(pg.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "sp_load"'))
        admin.dispose()
        url, data = pg.url("sp_load"), tmp / "shared-data"
        data.mkdir()
        logins = seed(url, data, clerks=clerks, partners=partners, managers=managers)

        smtp = SmtpServer()
        smtp.start()
        stack_exit.callback(smtp.stop)
        cert, key = _self_signed(tmp)
        ports = [_free_port(), _free_port()]
        nginx, _, https_port, _ = _start_nginx(tmp, ports, cert, key)
        stack_exit.callback(lambda: (nginx.terminate(), nginx.wait(timeout=20)))
        base = f"https://127.0.0.1:{https_port}"
        env = _app_env(url, data, base, smtp)
        stack = Stack(base, url, data, pg=pg, smtp=smtp, exit=stack_exit)
        for port in ports:
            stack.replicas[port] = Replica(port, env, tmp / f"replica-{port}.log")
            stack_exit.callback(stack.replicas[port].stop)
        worker_log = (tmp / "worker.log").open("w")
        worker = subprocess.Popen([os.sys.executable, "-m", "core", "worker", "--interval", "2"], cwd=ROOT,
                                  env=env, stdout=worker_log, stderr=subprocess.STDOUT)
        stack_exit.callback(lambda: (worker.terminate(), worker.wait(timeout=30), worker_log.close()))
        for replica in stack.replicas.values():
            _wait_healthy(f"http://127.0.0.1:{replica.port}", replica.proc, timeout=120)
        return stack, logins
    except BaseException:
        stack_exit.close()
        raise


def start_sqlite(*, clerks: int) -> tuple[Stack, list[Login]]:
    """One app process (`core.ui.server`, no separate worker) on a fresh SQLite file; clerks only."""
    tmp = Path(tempfile.mkdtemp(prefix="sp_load_sqlite_"))
    stack_exit = ExitStack()
    stack_exit.callback(shutil.rmtree, tmp, ignore_errors=True)
    try:
        url = f"sqlite:///{tmp / 'load.db'}"
        logins = seed(url, tmp, clerks=clerks, partners=2, managers=0)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = _app_env(url, tmp, base, None)
        log = (tmp / "app.log").open("w")
        proc = subprocess.Popen(
            server.command("--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                           "--browser.gatherUsageStats", "false"),
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        stack_exit.callback(lambda: (proc.terminate(), proc.wait(timeout=30), log.close()))
        _wait_healthy(base, proc, timeout=120)
        return Stack(base, url, tmp, exit=stack_exit), [lg for lg in logins if lg.role == Role.STAFF]
    except BaseException:
        stack_exit.close()
        raise


def _quiet(step) -> None:
    try:
        step()
    except subprocess.CalledProcessError:
        pass
