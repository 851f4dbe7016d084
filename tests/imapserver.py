"""A real IMAP server for tests: Debian's Dovecot on 127.0.0.1, started from a config in a temporary directory.

Plain IMAP (also STARTTLS) and IMAPS on free ports with a self-signed certificate for `localhost`; users in a
passwd-file (all written at the start), maildirs in the same directory.
As root, Dovecot's own unprivileged users run the login and mail processes (Dovecot refuses root for them);
otherwise everything runs as the current user. Test mails are delivered with imaplib APPEND.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.mailserver import free_port, localhost_certificate

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USERS = 200  # mailboxes per server (one per test)


@dataclass(frozen=True)
class Mailbox:
    user: str
    password: str


class Dovecot:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="sp-dovecot-"))  # short path: unix sockets live below it
        self.dir.chmod(0o711)  # the unprivileged mail processes must reach their maildirs
        self.port, self.tls_port = free_port(), free_port()
        self.process: subprocess.Popen | None = None
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("dovecot")
            self.login_user, self.internal_user = "dovenull", "dovecot"
        else:
            mail_user = pwd.getpwuid(os.getuid())
            self.login_user = self.internal_user = mail_user.pw_name
        self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid
        self.users_file = self.dir / "users"
        self.cert, self.key = localhost_certificate(self.dir)

    def _config(self) -> str:
        non_root = "" if os.geteuid() == 0 else (
            "service imap-login {\n  chroot =\n}\nservice anvil {\n  chroot =\n}\n"
            "service auth {\n  user = $default_internal_user\n}\n"
        )
        d = self.dir
        return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
default_login_user = {self.login_user}
default_internal_user = {self.internal_user}
first_valid_uid = {self.uid}
last_valid_uid = {self.uid}
disable_plaintext_auth = no
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
auth_mechanisms = plain login
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_file}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
{non_root}"""

    def start(self) -> None:
        for sub in ("run", "state"):
            (self.dir / sub).mkdir(exist_ok=True)
        for sub in ("mail", "home"):
            (self.dir / sub).mkdir(exist_ok=True)
            os.chown(self.dir / sub, self.uid, self.gid)
        # all users up front: Dovecot notices a changed passwd-file by its mtime in whole seconds
        self._free = [Mailbox(user=f"u{uuid.uuid4().hex[:10]}", password=uuid.uuid4().hex) for _ in range(USERS)]
        self.users_file.write_text("".join(
            f"{b.user}:{{PLAIN}}{b.password}:{self.uid}:{self.gid}::{self.dir}/home/{b.user}::\n" for b in self._free))
        config = self.dir / "dovecot.conf"
        config.write_text(self._config())
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def add_mailbox(self) -> Mailbox:
        """A fresh user with an empty INBOX."""
        return self._free.pop()

    def connect(self, box: Mailbox) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(box.user, box.password)
        return conn

    def deliver(self, box: Mailbox, raw: bytes, folder: str = "INBOX") -> None:
        """Put one message into the folder (unseen), as a mail delivery would."""
        conn = self.connect(box)
        try:
            if folder != "INBOX":
                conn.create(folder)
            typ, data = conn.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def flags(self, box: Mailbox, folder: str = "INBOX") -> list[str]:
        """The flags of each message in the folder, in order."""
        conn = self.connect(box)
        try:
            conn.select(folder, readonly=True)
            typ, data = conn.fetch("1:*", "(FLAGS)")
            return [item.decode() for item in data if item] if typ == "OK" else []
        finally:
            conn.logout()
