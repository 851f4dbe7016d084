"""The API as its own process: `python -m core api`, and `python -m core serve` starting it beside the app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.settings import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "DATABASE_URL", "API_", "HEALTH_"))}
    return {**base, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "DATA_DIR": str(tmp_path / "data"),
            "APP_MODE": "demo", "SECRETS_PATH": str(tmp_path / "none.toml"), "PYTHONUNBUFFERED": "1"}


def openapi_title(port: int, timeout: float = 90) -> str:
    """The title of the OpenAPI document on the port, waiting for the server to come up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()["info"]["title"]
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def stop(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return err


def test_the_api_command_migrates_and_serves_the_openapi_document(tmp_path):
    port = free_port()
    api = start(tmp_path, "api", "--port", str(port))
    try:
        assert openapi_title(port) == "Schadenportal API"
        assert httpx.get(f"http://127.0.0.1:{port}/v1/cases").status_code == 401
    finally:
        stop(api)


def test_the_api_command_on_a_taken_port_says_so_and_exits_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = subprocess.run([sys.executable, "-m", "core", "api", "--port", str(taken.getsockname()[1])],
                                cwd=ROOT, env=env_for(tmp_path), capture_output=True, text=True, timeout=120,
                                check=False)
    assert result.returncode == 1
    assert "address already in use" in result.stderr.lower()


@pytest.mark.parametrize("with_api", [True, False], ids=["api", "no-api"])
def test_serve_starts_the_api_beside_the_app_unless_told_not_to(tmp_path, with_api):
    app_port, api_port = free_port(), free_port()
    serve = start(tmp_path, "serve", "--port", str(app_port), "--health-port", "0", "--api-port", str(api_port),
                  "--demo-cases", "0", "--no-worker", *([] if with_api else ["--no-api"]))
    try:
        if with_api:
            assert openapi_title(api_port) == "Schadenportal API"
        else:
            wait_for_app(app_port)
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{api_port}/openapi.json", timeout=5)
    finally:
        stop(serve)


def wait_for_app(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the app did not come up"
        time.sleep(0.2)
