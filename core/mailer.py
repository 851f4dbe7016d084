"""Mail building (pure) and the two ways out: SMTP through yagmail, or `.eml` files (§8).

`build_message` turns an outbox row's data into an `EmailMessage`: UTF-8 text body, attachments, and a
`Message-ID` derived from the row, so a resend (after a crash between sending and marking) carries the same
id and the receiver can drop the duplicate. No line break can reach a header: subjects are collapsed to one
line, addresses with line breaks or control characters are refused.

Why not `yagmail.SMTP.send(...)`: yagmail 0.16 builds its own MIME tree from `contents` — it adds an HTML
alternative, accepts attachments only as file paths or handles, and treats any body line that names an
existing file as an attachment (a body reading `/etc/passwd` would attach that file). So the worker builds the
message itself and yagmail sends it: `yag.login()` opens the connection (SSL, STARTTLS, login from the
settings) and the prepared message goes over `yag.smtp`. yagmail's own retry loop (`_attempt_send`, which
sleeps and swallows the error) is bypassed on purpose: retries and backoff are the outbox's job.
"""

from __future__ import annotations

import hashlib
import os
import re
import ssl
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from pathlib import Path
from typing import Protocol

import yagmail

from core.attachments import RenderedFile
from core.settings import Settings, SmtpSettings
from core.timeutil import now

SMTP_TIMEOUT_SECONDS = 30
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


class MailError(ValueError):
    """A message that cannot be built as asked (bad address, header injection attempt)."""


def one_line(text: str) -> str:
    """Header text on one line: every run of whitespace (CR, LF, tabs, …) becomes one space."""
    return _CONTROL.sub(" ", " ".join(text.split())).strip()


def checked_address(value: str, *, field: str) -> str:
    """A single bare e-mail address; anything that could add a header or a second recipient is refused."""
    if _CONTROL.search(value):
        raise MailError(f"{field}: line breaks or control characters in the address")
    found = getaddresses([value])
    address = found[0][1] if len(found) == 1 else ""
    if address.count("@") != 1 or any(c in address for c in " ,;<>"):
        raise MailError(f"{field}: not a single e-mail address")
    local, _, domain = address.partition("@")
    if not local.isascii():
        raise MailError(f"{field}: non-ASCII before the @ is not supported")
    try:
        domain = domain.encode("idna").decode("ascii")  # müller.de -> xn--mller-kva.de
    except UnicodeError as exc:
        raise MailError(f"{field}: invalid domain") from exc
    return f"{local}@{domain}"


def sender_domain(sender: str) -> str:
    """The domain of the sender address (for Message-IDs); `localhost` if there is none."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return _FILENAME_UNSAFE.sub("", domain) or "localhost"


def message_id_for(*, outbox_id: int, idempotency_key: str, sender: str) -> str:
    """The stable Message-ID of an outbox row: the same row always gives the same id."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
    return f"<outbox-{outbox_id}-{digest}@{sender_domain(sender)}>"


def build_message(
    *, sender: str, recipient: str, subject: str, body: str, attachments: list[RenderedFile], message_id: str,
) -> EmailMessage:
    """The mail as an EmailMessage: UTF-8 text (quoted-printable, so 7-bit clean), one recipient, attachments."""
    if _CONTROL.search(message_id) or not re.fullmatch(r"<[^<>\s]+@[^<>\s]+>", message_id):
        raise MailError("message_id: not a Message-ID")
    msg = EmailMessage()
    from_address = checked_address(sender, field="sender")
    display_name = one_line(parseaddr(sender)[0])  # "Schadenportal <noreply@example.de>" keeps its name
    msg["From"] = formataddr((display_name, from_address)) if display_name else from_address
    msg["To"] = checked_address(recipient, field="recipient")
    msg["Subject"] = one_line(subject)
    msg["Date"] = format_datetime(now())
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    msg.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    for item in attachments:
        maintype, _, subtype = item.mime.partition("/")
        name = one_line(os.path.basename(item.filename.replace("\\", "/"))) or "Anhang"
        msg.add_attachment(item.data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=name)
    return msg


class Transport(Protocol):
    """Delivers one built message; raises on failure (the outbox retries)."""

    def send(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    """Sends through the configured SMTP server with yagmail (one connection per message)."""

    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp

    def _client(self) -> yagmail.SMTP:
        smtp = self.smtp
        verified = ssl.create_default_context()  # smtplib's own default would not check the certificate
        extra = {"context": verified} if smtp.security == "ssl" else {}
        client = yagmail.SMTP(
            user=smtp.user or parseaddr(smtp.sender)[1],
            password=smtp.password,  # never None: yagmail would ask the keyring or prompt on the terminal
            host=smtp.host, port=smtp.port, smtp_ssl=smtp.security == "ssl",
            smtp_starttls={"context": verified} if smtp.security == "starttls" else False,
            smtp_skip_login=not smtp.user, soft_email_validation=False, timeout=SMTP_TIMEOUT_SECONDS, **extra,
        )
        client.user = smtp.user  # yagmail appends "@gmail.com" to a login name without "@" (e.g. "apikey")
        return client

    def send(self, message: EmailMessage) -> None:
        """Connect (and log in), hand the prepared message to yagmail's SMTP connection, disconnect."""
        client = self._client()
        try:
            client.login()
            envelope_from = parseaddr(message["From"])[1]
            client.smtp.send_message(message, from_addr=envelope_from, to_addrs=[parseaddr(message["To"])[1]])
        finally:
            client.close()


class EmlTransport:
    """Writes each message as `<message-id>.eml` into a directory (no SMTP configured: the embedded default).

    The file appears complete or not at all (temporary file, fsync, rename); a resend of the same outbox row
    overwrites its own file, because the name comes from the stable Message-ID.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, message: EmailMessage) -> Path:
        name = _FILENAME_UNSAFE.sub("_", str(message["Message-ID"]).strip().strip("<>")) or "message"
        return self.directory / f"{name}.eml"

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(message)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def mail_dir(settings: Settings) -> Path:
    """Where `.eml` files go when no SMTP server is configured."""
    return settings.data_dir / "mail"


def transport_for(settings: Settings) -> Transport:
    """SMTP (yagmail) if SMTP_HOST is set, else `.eml` files under DATA_DIR/mail."""
    return SmtpTransport(settings.smtp) if settings.smtp.configured else EmlTransport(mail_dir(settings))
