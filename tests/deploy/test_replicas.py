"""The production setup of deploy/: nginx (the shipped template, rendered for loopback ports, with TLS) in front of
two app replicas (`python -m core.ui.server`, production mode) on one fresh PostgreSQL database, driven by Chromium.

Checked: http redirects to BASE_URL and https carries HSTS; a browser sticks to one replica (route cookie); a login
made there and a case written beside the app are still there when that replica is stopped and nginx moves the
browser to the other one (server-side session + login cookie: no second login form); an upload over the limit
is refused by nginx with 413.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from core.enums import Role
from core.i18n import t
from core.settings import ROOT
from core.ui import server
from db.engine import make_engine
from tests.conftest import _pg_admin, pg_url
from tests.e2e.browser import login, settle, wait_for_login_cookie
from tests.e2e.conftest import _free_port, _wait_healthy
from tests.factories import PASSWORD, make_broker, make_case, make_user

pytestmark = pytest.mark.e2e

DEPLOY = ROOT / "deploy"
COOKIE_KEY = "replica-test-cookie-key-0123456789abcdef0123456789"
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"replica-test-encryption-key-0123").decode()
UPLOAD_MAX_MB = 2  # small, so the 413 check sends little


def _nginx() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if not found:
        pytest.fail("nginx not found; tests/run.sh installs it from Debian (nginx-light)")
    return found


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def pg_database(pg_template) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (replicas share one database; SQLite is for a single process)."""
    name = f"sp_deploy_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield pg_url(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Replica:
    def __init__(self, port: int, env: dict[str, str], log: Path) -> None:
        self.port = port
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            server.command("--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless",
                           "true", "--server.maxUploadSize", str(UPLOAD_MAX_MB),
                           "--browser.gatherUsageStats", "false"),
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _start_nginx(tmp: Path, ports: list[int], cert: Path, key: Path) -> tuple[subprocess.Popen, int, int, Path]:
    """nginx in the foreground with the rendered deploy config; its prefix, pid, logs and temp files in tmp."""
    http_port, https_port = _free_port(), _free_port()
    site, access = tmp / "schadenportal.conf", tmp / "access.log"
    subprocess.run(
        [sys.executable, str(DEPLOY / "render_nginx.py"), "--replicas", ",".join(map(str, ports)),
         "--server-name", "127.0.0.1", "--base-url", f"https://127.0.0.1:{https_port}",
         "--cert", str(cert), "--key", str(key), "--upload-max-mb", str(UPLOAD_MAX_MB),
         "--http-listen", f"127.0.0.1:{http_port}", "--https-listen", f"127.0.0.1:{https_port}",
         "--access-log", str(access), "-o", str(site)], check=True)
    temp = "\n".join(f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                         "scgi"))
    (tmp / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'} warn;\n"
        + "events { worker_connections 512; }\n"
        + f"http {{\n{temp}\n    include {site};\n}}\n")
    args = [_nginx(), "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")]
    subprocess.run([*args, "-t", "-q"], check=True)
    proc = subprocess.Popen(args)
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", https_port)) == 0:
                break
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("nginx did not start: " + (tmp / "error.log").read_text())
        time.sleep(0.2)
    return proc, http_port, https_port, access


def _upstreams(access: Path, path: str) -> list[int]:
    """The replica ports that answered the logged requests for `path`, in order."""
    found = []
    for line in access.read_text().splitlines():
        if f'"GET {path} ' in line:
            match = re.search(r"upstream=127\.0\.0\.1:(\d+)", line)
            if match:
                found.append(int(match.group(1)))
    return found


def _replica_of(page, base: str, access: Path, marker: str) -> int:
    """Which replica nginx sends this browser to: ask with the browser's cookies, read nginx's access log."""
    path = f"/_stcore/health?probe={marker}"
    page.request.get(base + path)
    ports = _upstreams(access, path)
    assert len(ports) == 1
    return ports[0]


def test_two_replicas_behind_nginx(pg_database, browser, tmp_path):
    engine = make_engine(pg_database)
    try:
        broker_id = make_broker(engine, "Büro Replika")
        make_user(engine, "replika_broker", Role.BROKER, broker_id=broker_id)
        number = make_case(engine, broker_id=broker_id, last_name="Replika")
    finally:
        engine.dispose()

    data = tmp_path / "shared-data"  # DATA_DIR shared by both replicas (NFS or a shared volume in production)
    cert, key = _self_signed(tmp_path)
    ports = [_free_port(), _free_port()]
    with ExitStack() as stack:
        nginx, http_port, https_port, access = _start_nginx(tmp_path, ports, cert, key)
        stack.callback(lambda: (nginx.terminate(), nginx.wait(timeout=20)))
        base = f"https://127.0.0.1:{https_port}"
        env = {**os.environ, "APP_MODE": "production", "DATABASE_URL": pg_database, "DATA_DIR": str(data),
               "COOKIE_KEY": COOKIE_KEY, "ENCRYPTION_KEY": ENCRYPTION_KEY, "BASE_URL": base,
               "UPLOAD_MAX_MB": str(UPLOAD_MAX_MB), "STREAMLIT_SERVER_COOKIE_SECRET": "replica-test-secret"}
        replicas = {port: Replica(port, env, tmp_path / f"replica-{port}.log") for port in ports}
        for replica in replicas.values():
            stack.callback(replica.stop)
        for replica in replicas.values():
            _wait_healthy(f"http://127.0.0.1:{replica.port}", replica.proc, timeout=90)

        # Plain HTTP only redirects to BASE_URL; HTTPS answers with HSTS.
        no_redirect = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            no_redirect.open(f"http://127.0.0.1:{http_port}/case?nr={number}", timeout=10)
        assert redirect.value.code == 301
        assert redirect.value.headers["Location"] == f"{base}/case?nr={number}"
        tls = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=10, context=tls) as resp:
            assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
            assert any(c.startswith("sp_route=") for c in resp.headers.get_all("Set-Cookie"))

        # An upload over the limit never reaches a replica (nginx answers on the announced length).
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=30, context=tls)
        conn.putrequest("PUT", "/_stcore/upload_file/s/f")
        conn.putheader("Content-Length", str((UPLOAD_MAX_MB + 2) * 1024 * 1024))
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()

        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE",
                                      ignore_https_errors=True)
        context.set_default_timeout(30_000)
        stack.callback(context.close)
        page = context.new_page()

        # Log in through nginx; the browser then sticks to one replica.
        login(page, base, "replika_broker", PASSWORD)
        expect(page.get_by_role("button", name=t("app.logout"))).to_be_visible(timeout=60_000)
        wait_for_login_cookie(page)
        first = _replica_of(page, base, access, "a")
        assert first in replicas
        assert {_replica_of(page, base, access, m) for m in "bcd"} == {first}  # sticky
        assert set(_upstreams(access, "/_stcore/stream")) <= {first}  # the websocket too (logged once closed)

        page.goto(f"{base}/case?nr={number}")
        settle(page)
        expect(page.get_by_text(number).first).to_be_visible()

        # Stop that replica: nginx moves the browser to the other one, which has never seen it.
        replicas[first].stop()
        page.goto(f"{base}/case?nr={number}")
        settle(page)
        second = _replica_of(page, base, access, "e")
        assert second != first and second in replicas
        expect(page.get_by_text(number).first).to_be_visible()
        expect(page.get_by_role("button", name=t("app.logout"))).to_be_visible()
        expect(page.get_by_label(t("login.username"))).to_have_count(0)  # no second login
        assert _upstreams(access, f"/case?nr={number}")[-1] == second


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
