"""Pure parsing and matching of inbound insurer mail (no database): what a message says and which case it names.

- `parse_mail` reads a raw message with the stdlib `email` package (policy.default: RFC 2047 subjects and
  RFC 2231 file names decoded), takes the text from text/plain or, failing that, from stripped HTML, and
  collects the attachments (any part with a file name, or a non-text part).
- `message_key`: SHA-256 of the Message-ID, or of the raw bytes when there is none; it makes a message be
  processed once.
- `case_numbers` finds case numbers (SP-YYYY-NNNNNN, any case); `claim_tokens` the words that could be an
  insurer's claim number (letters, digits, `-` `/` `.`, with at least one digit), looked up in the database.
- `is_insurer_query`: the message reads like a query (Rückfrage) — a small word list, see QUERY_PATTERNS.
- `sender_matches`: the sender is one of the case's known addresses, or from its insurer's mail domain
  (not for public freemail domains, where a domain says nothing about who writes).
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

CASE_NUMBER = re.compile(r"(?<![A-Za-z0-9])SP-\d{4}-\d{6}(?![0-9])", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-/.]{3,48}[A-Za-z0-9]")
MAX_TOKENS = 500  # claim-number candidates looked up per message
MAX_ATTACHMENTS = 20  # more parts than this are noted as refused, not stored
EXCERPT_CHARS = 4000

#: Phrases that make a message an insurer query (compared case-insensitively, whitespace folded).
QUERY_PATTERNS = (
    re.compile(r"\brückfrage"),
    re.compile(r"\bfehlende[nr]? unterlagen"),
    re.compile(r"\bunterlagen fehlen"),
    re.compile(r"\bbitte reichen sie\b.{0,120}?\bnach\b"),
    re.compile(r"\bnachzureichen\b|\bnachreichen\b"),
    re.compile(r"\bbenötigen (wir )?(noch )?(folgende|weitere)"),
)
#: Mail domains shared by the public: a sender from one of them is matched by full address only.
FREEMAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "gmx.de", "gmx.net", "web.de", "t-online.de", "outlook.com", "outlook.de",
    "hotmail.com", "hotmail.de", "yahoo.com", "yahoo.de", "icloud.com", "aol.com", "freenet.de", "posteo.de",
    "mailbox.org",
})


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    key: str
    message_id: str
    sender: str  # lower-case address, "" if none
    sender_name: str
    subject: str
    sent_at: datetime | None
    text: str
    attachments: tuple[MailAttachment, ...] = field(default=())
    refused_parts: int = 0  # attachments beyond MAX_ATTACHMENTS


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML body (no scripts, styles or tags)."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def message_key(message_id: str, raw: bytes) -> str:
    """SHA-256 of the Message-ID, or of the raw message when it has none."""
    if message_id:
        return hashlib.sha256(b"mid:" + message_id.encode("utf-8", "replace")).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


def _clean(value: str, limit: int) -> str:
    """One line, no control characters, at most `limit` characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())[:limit]


def _header(msg: EmailMessage, name: str) -> str:
    try:
        return str(msg.get(name, "") or "")
    except (ValueError, TypeError, IndexError):  # a broken header is treated as missing
        return ""


def _sent_at(msg: EmailMessage) -> datetime | None:
    try:
        value = parsedate_to_datetime(_header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _part_text(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset: decode leniently
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def parse_mail(raw: bytes) -> ParsedMail:
    """The parts of a raw message this app uses."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    message_id = _clean(_header(msg, "Message-ID"), 255)
    [(name, address)] = getaddresses([_header(msg, "From")])[:1] or [("", "")]
    plain: list[str] = []
    html: list[str] = []
    attachments: list[MailAttachment] = []
    refused = 0
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() == "multipart":  # also a broken one without parts
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        ctype = part.get_content_type()
        if filename or disposition == "attachment" or not ctype.startswith("text/"):
            if len(attachments) >= MAX_ATTACHMENTS:
                refused += 1
                continue
            data = part.get_payload(decode=True) or b""
            attachments.append(MailAttachment(filename=filename or "", data=data))  # checked like any upload
        elif ctype == "text/plain":
            plain.append(_part_text(part))
        elif ctype == "text/html":
            html.append(html_to_text(_part_text(part)))
    text = "\n".join(plain) if plain else "\n".join(html)
    return ParsedMail(
        key=message_key(message_id, raw), message_id=message_id,
        sender=address.strip().lower() if "@" in address else "", sender_name=_clean(name, 200),
        subject=_clean(_header(msg, "Subject"), 300), sent_at=_sent_at(msg), text=text,
        attachments=tuple(attachments), refused_parts=refused,
    )


def excerpt(text: str) -> str:
    """The start of the body text, for staff to read (blank lines folded)."""
    lines = [line.rstrip() for line in text.replace("\r", "").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()[:EXCERPT_CHARS]


def case_numbers(*texts: str) -> set[str]:
    """The case numbers named in the texts, upper-cased."""
    return {m.group(0).upper() for text in texts for m in CASE_NUMBER.finditer(text)}


def claim_tokens(*texts: str) -> set[str]:
    """Words that could be an insurer claim number (with a digit), upper-cased, at most MAX_TOKENS."""
    found: set[str] = set()
    for text in texts:
        for m in _TOKEN.finditer(text):
            token = m.group(0).upper()
            if any(c.isdigit() for c in token):
                found.add(token)
                if len(found) >= MAX_TOKENS:
                    return found
    return found


def is_insurer_query(subject: str, text: str) -> bool:
    """True if the message reads like a query (Rückfrage) by the QUERY_PATTERNS word list."""
    folded = " ".join(f"{subject}\n{text}".casefold().split())
    return any(p.search(folded) for p in QUERY_PATTERNS)


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().lower() if "@" in address else ""


def sender_matches(sender: str, *, known: set[str], insurer_address: str) -> bool:
    """True if `sender` is one of the `known` addresses or from the insurer's own (non-freemail) domain."""
    sender = sender.strip().lower()
    if not sender:
        return False
    if sender in {k.strip().lower() for k in known if k}:
        return True
    domain = domain_of(insurer_address)
    return bool(domain) and domain not in FREEMAIL_DOMAINS and domain_of(sender) == domain
