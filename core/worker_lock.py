"""One worker at a time on SQLite (§8): an exclusive OS lock (flock) on a file next to the database file.

SQLite serialises every write, so a second worker would only wait for the first one's locks; the lock file says
who holds it. The kernel drops the lock when its process ends, however it ends (no stale lease to clean up).
PostgreSQL needs no lock: several workers share the work through `FOR UPDATE SKIP LOCKED` (core.jobs).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from core.errors import SchadenportalError
from core.i18n import t
from core.timeutil import format_dt, now


class WorkerAlreadyRunning(SchadenportalError):
    """Another worker holds the lock of this SQLite database."""


def lock_path(database_url: str | URL) -> Path | None:
    """The lock file of a SQLite database file (`<file>.worker.lock`); None for PostgreSQL or `:memory:`."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve().with_name(Path(url.database).name + ".worker.lock")


@dataclass
class WorkerLock:
    """A held lock (or none needed: `path` None); `release()` gives it back (also when the process ends)."""

    path: Path | None
    fd: int | None = None

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _holder(fd: int) -> str:
    """The text naming the holder, from what it wrote into the lock file."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = format_dt(datetime.fromisoformat(info["since"]))
        return t("ops.worker_running", pid=info["pid"], host=info.get("host", "?"), since=since)
    except (OSError, ValueError, KeyError, TypeError):
        return t("ops.worker_running", pid="?", host="?", since="?")


def acquire_worker_lock(database_url: str | URL) -> WorkerLock:
    """Take the worker lock of a SQLite database (nothing to take on PostgreSQL); raises WorkerAlreadyRunning
    with the holder's PID and start time when another worker has it."""
    path = lock_path(database_url)
    if path is None:
        return WorkerLock(None)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise WorkerAlreadyRunning(holder) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": now().isoformat()}
    os.pwrite(fd, json.dumps(info).encode(), 0)
    return WorkerLock(path, fd)
