"""Poll the insurer mailbox over IMAP (imaplib) and hand each new message to core.inbound_mail.

Which messages are new: those without this app's keyword `$Schadenportal` (when the folder allows keywords,
PERMANENTFLAGS `\\*`), else those without `\\Seen`. A message is fetched with BODY.PEEK (the flags stay as they
are), processed in its own transaction, and only after that commit flagged `$Schadenportal` and `\\Seen`. The
database is the truth: the message's unique key makes a second processing a no-op ("duplicate"), so a crash
between commit and flag, a restart, or two workers fetching the same message at once file it once; the flag only
saves work. Messages stay in the folder (nothing is moved or deleted). A message whose processing fails is
logged and left unflagged: it is tried again in the next round. A message larger than `max_message_bytes` is not
downloaded: its header alone is processed and the mail held for staff (reason "too large").
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

from sqlalchemy import Engine

from core.inbound_mail import Outcome, process_message
from core.settings import ImapSettings, Settings
from db.engine import unit_of_work

log = logging.getLogger(__name__)

KEYWORD = "$Schadenportal"
TIMEOUT_SECONDS = 30
MAX_PER_POLL = 200  # the rest follows in the next round
MESSAGE_SIZE_FACTOR = 3  # a message may be up to 3 × UPLOAD_MAX_MB (several attachments, base64)
_COUNTER = {Outcome.FILED: "filed", Outcome.UNASSIGNED: "unassigned", Outcome.DUPLICATE: "duplicates"}


@dataclass
class FetchReport:
    fetched: int = 0
    filed: int = 0
    unassigned: int = 0
    duplicates: int = 0
    failed: int = 0


def connect(imap: ImapSettings) -> imaplib.IMAP4:
    """A logged-in IMAP connection (TLS as configured, the certificate checked)."""
    context = ssl.create_default_context()
    if imap.security == "ssl":
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(imap.host, imap.port, ssl_context=context, timeout=TIMEOUT_SECONDS)
    else:
        conn = imaplib.IMAP4(imap.host, imap.port, timeout=TIMEOUT_SECONDS)
        if imap.security == "starttls":
            conn.starttls(ssl_context=context)
    try:
        conn.login(imap.user, imap.password)
    except Exception:
        conn.shutdown()
        raise
    return conn


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _keywords_allowed(conn: imaplib.IMAP4) -> bool:
    _typ, data = conn.response("PERMANENTFLAGS")
    return any(item and b"\\*" in item for item in data or [])


def _new_uids(conn: imaplib.IMAP4, use_keyword: bool) -> list[bytes]:
    typ, data = conn.uid("SEARCH", None, f"UNKEYWORD {KEYWORD}" if use_keyword else "UNSEEN")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"SEARCH failed: {typ}")
    return (data[0] or b"").split()[:MAX_PER_POLL]


def _size(conn: imaplib.IMAP4, uid: bytes) -> int:
    typ, data = conn.uid("FETCH", uid, "(RFC822.SIZE)")
    found = re.search(rb"RFC822\.SIZE (\d+)", data[0] or b"") if typ == "OK" and data and data[0] else None
    return int(found.group(1)) if found else 0


def _fetch(conn: imaplib.IMAP4, uid: bytes, section: str) -> bytes | None:
    typ, data = conn.uid("FETCH", uid, f"(BODY.PEEK[{section}])")
    if typ != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and f"BODY[{section}]".encode() in item[0]:
            return item[1]
    return None  # gone in the meantime (expunged by someone else)


def max_message_bytes(settings: Settings) -> int:
    """Larger messages are not downloaded: only their header, and they are held (base64 adds a third)."""
    return settings.upload_max_mb * 1024 * 1024 * MESSAGE_SIZE_FACTOR


def _mark_done(conn: imaplib.IMAP4, uid: bytes, use_keyword: bool) -> None:
    flags = f"({KEYWORD} \\Seen)" if use_keyword else "(\\Seen)"
    conn.uid("STORE", uid, "+FLAGS.SILENT", flags)


def fetch_mail(engine: Engine, *, settings: Settings) -> FetchReport:
    """One poll: file or hold every new message of the configured folder; what happened, counted."""
    imap = settings.imap
    report = FetchReport()
    conn = connect(imap)
    try:
        typ, data = conn.select(_quoted(imap.folder))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"cannot open folder {imap.folder!r}: {data!r}")
        use_keyword = _keywords_allowed(conn)
        for uid in _new_uids(conn, use_keyword):
            size = _size(conn, uid)
            oversized = size if size > max_message_bytes(settings) else 0
            raw = _fetch(conn, uid, "HEADER" if oversized else "")
            if raw is None:
                continue
            report.fetched += 1
            try:
                with unit_of_work(engine) as session:
                    outcome = process_message(session, settings=settings, raw=raw, oversized_bytes=oversized)
            except Exception:  # one bad message must not stop the others; retried next round
                report.failed += 1
                log.exception("inbound mail uid %s could not be processed; next try in the next round",
                              uid.decode())
                continue
            field = _COUNTER[outcome]
            setattr(report, field, getattr(report, field) + 1)
            _mark_done(conn, uid, use_keyword)
        conn.close()
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    log.info("inbound mail: %s", report)
    return report
