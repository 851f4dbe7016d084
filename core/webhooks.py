"""Webhooks (§8, §10): per event type a URL and a secret; a JSON body signed with HMAC-SHA256; retried with
backoff; every delivery logged in `webhook_deliveries`.

`emit` only writes rows, in the caller's transaction; `deliver_due` (run by the worker) sends them. A delivery
goes pending -> sending (claimed, with a lease) -> sent | pending again (backoff) | failed, exactly like the
mail outbox (see core.worker). The claim counts as an attempt, and the attempt number is the claim's token:
a row is only renewed or finished while it is still `sending` with the attempt number this worker claimed,
so a worker whose lease ran out can never overwrite the outcome of the worker that took the row over.

Addresses: a webhook URL whose host resolves to a private, loopback, link-local, multicast, reserved or
unspecified address is refused unless WEBHOOKS_ALLOW_PRIVATE is set. The same rule is checked again right
before each call, and the call goes to the address that was checked (no second lookup: DNS rebinding).
Redirects are not followed. Secrets are stored encrypted (Fernet, ENCRYPTION_KEY) and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets as secrets_module
import socket
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core.audit import log_access
from core.crypto import decrypt_text, encrypt_text
from core.enums import OutboxStatus
from core.errors import NotFound, ValidationError
from core.i18n import t
from core.permissions import Action, Actor, require
from core.settings import Settings
from core.timeutil import now
from db.engine import unit_of_work
from db.models import Webhook, WebhookDelivery

log = logging.getLogger(__name__)

#: The events a webhook can subscribe to (labels: catalog keys `webhooks.event_<name with _>`).
EVENT_TYPES: tuple[str, ...] = (
    "case.created", "case.status_changed", "order.assigned", "document.uploaded", "invoice.submitted",
    "payment.recorded",
)
TEST_EVENT = "webhook.test"  # queued by `send_test` only; nobody subscribes to it
TIMEOUT = 5.0  # seconds, per connect and per read
LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
BACKOFF_CAP = timedelta(hours=6)
MIN_SECRET, MAX_SECRET_BYTES = 16, 64  # 64 bytes still fit the column once encrypted
USER_AGENT = "Schadenportal-Webhooks/1"


def event_label(event: str) -> str:
    """The German label of an event type (or of the test event)."""
    return t(f"webhooks.event_{event.replace('.', '_')}")


# --- addresses ---------------------------------------------------------------------------------------------


def is_forbidden_address(address: str) -> bool:
    """True for private, loopback, link-local, multicast, reserved and unspecified addresses (IPv4 and IPv6,
    IPv4-mapped IPv6 included)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global)


def _resolve(host: str, port: int) -> list[str]:
    """All addresses the host resolves to (raises OSError if it does not resolve)."""
    return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def _allowed_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The resolved addresses, or ValueError naming the first forbidden one (any forbidden one refuses all)."""
    addresses = _resolve(host, port)
    if not allow_private:
        for address in addresses:
            if is_forbidden_address(address):
                raise ValueError(f"blocked address {address}")
    return addresses


@dataclass(frozen=True)
class _Target:
    https: bool
    host: str
    port: int
    path: str  # path and query


def _parse(url: str) -> _Target:
    """Split a webhook URL; ValueError for anything that is not plain http(s)://host[:port]/path?query."""
    if not url or len(url) > 500 or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("bad url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
            or "@" in parts.netloc or parts.fragment:
        raise ValueError("bad url")
    port = parts.port or (443 if parts.scheme == "https" else 80)  # .port raises ValueError when invalid
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme == "https", parts.hostname, port, path)


def check_url(url: str, *, settings: Settings) -> str:
    """The URL if it may be registered, else ValidationError (scheme, credentials, resolution, address rule)."""
    url = url.strip()
    try:
        target = _parse(url)
    except ValueError:
        raise ValidationError(t("webhooks.bad_url"), field="url") from None
    try:
        _allowed_addresses(target.host, target.port, allow_private=settings.webhooks_allow_private)
    except OSError:
        raise ValidationError(t("webhooks.unresolvable"), field="url") from None
    except ValueError:
        raise ValidationError(t("webhooks.private_address"), field="url") from None
    return url


# --- registration (admins) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookRow:
    """A webhook as the admin page shows it (never the secret)."""

    id: int
    url: str
    event_types: tuple[str, ...]
    is_active: bool
    created_at: datetime


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery in the log."""

    id: int
    webhook_id: int
    url: str
    event: str
    status: OutboxStatus
    attempts: int
    response_code: int | None
    last_error: str
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None


def register_webhook(session: Session, *, actor: Actor, settings: Settings, url: str, secret: str,
                     event_types: list[str]) -> Webhook:
    """Register a webhook; an empty secret is generated. The returned object's `secret` holds the plain
    secret (show it once); the database keeps it encrypted."""
    require(actor, Action.MANAGE_WEBHOOKS)
    url = check_url(url, settings=settings)
    secret = secret.strip() or secrets_module.token_urlsafe(32)
    if len(secret) < MIN_SECRET:
        raise ValidationError(t("webhooks.secret_short", n=MIN_SECRET), field="secret")
    if len(secret.encode()) > MAX_SECRET_BYTES:
        raise ValidationError(t("webhooks.secret_long", n=MAX_SECRET_BYTES), field="secret")
    chosen = [e for e in EVENT_TYPES if e in set(event_types)]
    if not chosen or len(set(event_types)) != len(chosen):
        raise ValidationError(t("webhooks.no_events"), field="event_types")
    hook = Webhook(url=url, secret=encrypt_text(settings.encryption_key, secret), event_types=chosen)
    session.add(hook)
    session.flush()
    log_access(session, actor=actor, action="create", object_type="webhook", object_ref=str(hook.id),
               detail=",".join(chosen))
    session.expunge(hook)  # the caller gets the plain secret, the database keeps the encrypted one
    hook.secret = secret
    return hook


def _webhook_or_raise(session: Session, webhook_id: int) -> Webhook:
    hook = session.get(Webhook, webhook_id, with_for_update=True, populate_existing=True)
    if hook is None:
        raise NotFound(t("webhooks.not_found"))
    return hook


def deactivate_webhook(session: Session, *, actor: Actor, webhook_id: int) -> WebhookRow:
    """Stop a webhook: no new deliveries; its waiting ones end as failed."""
    require(actor, Action.MANAGE_WEBHOOKS)
    hook = _webhook_or_raise(session, webhook_id)
    if not hook.is_active:
        raise ValidationError(t("webhooks.already_inactive"))
    hook.is_active = False
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id, WebhookDelivery.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.FAILED, last_error="webhook deactivated")
    )
    log_access(session, actor=actor, action="deactivate", object_type="webhook", object_ref=str(hook.id))
    session.flush()
    return _webhook_row(hook)


def list_webhooks(session: Session, *, actor: Actor) -> list[WebhookRow]:
    """All webhooks, active ones first."""
    require(actor, Action.MANAGE_WEBHOOKS)
    hooks = session.scalars(select(Webhook).order_by(Webhook.is_active.desc(), Webhook.id))
    return [_webhook_row(h) for h in hooks]


def list_deliveries(session: Session, *, actor: Actor, webhook_id: int | None = None,
                    limit: int = 200) -> list[DeliveryRow]:
    """The newest deliveries (of one webhook, or of all)."""
    require(actor, Action.MANAGE_WEBHOOKS)
    query = (select(WebhookDelivery, Webhook.url).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
             .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit))
    if webhook_id is not None:
        query = query.where(WebhookDelivery.webhook_id == webhook_id)
    return [
        DeliveryRow(d.id, d.webhook_id, url, d.event, OutboxStatus(d.status), d.attempts, d.response_code,
                    d.last_error, d.created_at, d.next_attempt_at, d.delivered_at)
        for d, url in session.execute(query)
    ]


def send_test(session: Session, *, actor: Actor, webhook_id: int) -> int:
    """Queue a `webhook.test` delivery to one active webhook; returns the delivery id."""
    require(actor, Action.MANAGE_WEBHOOKS)
    hook = _webhook_or_raise(session, webhook_id)
    if not hook.is_active:
        raise ValidationError(t("webhooks.already_inactive"))
    delivery = WebhookDelivery(webhook_id=hook.id, event=TEST_EVENT,
                               payload=_payload(TEST_EVENT, case_number=None, status=None, data={}))
    session.add(delivery)
    session.flush()
    log_access(session, actor=actor, action="test", object_type="webhook", object_ref=str(hook.id))
    return delivery.id


def _webhook_row(h: Webhook) -> WebhookRow:
    return WebhookRow(h.id, h.url, tuple(h.event_types or ()), h.is_active, h.created_at)


# --- emitting (in the caller's transaction) ----------------------------------------------------------------


def _payload(event: str, *, case_number: str | None, status: str | None, data: dict) -> dict:
    payload = {"event": event, "case_number": case_number, "status": status,
               "at": now().isoformat(timespec="seconds").replace("+00:00", "Z"), "data": data}
    json.dumps(payload)  # not serialisable: fail in the caller's transaction, not in the worker
    return payload


def emit(session: Session, *, event: str, case, data: dict) -> int:
    """Queue one delivery per active webhook subscribed to `event` (rows only, nothing is sent here); returns
    how many. The payload carries the case number and status and `data` — put no personal data in `data`."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = [h for h in session.scalars(select(Webhook).where(Webhook.is_active.is_(True)))
             if event in (h.event_types or ())]
    if not hooks:
        return 0
    status = getattr(case, "status", None)
    payload = _payload(event, case_number=getattr(case, "number", None),
                       status=None if status is None else str(status), data=dict(data))
    session.add_all(WebhookDelivery(webhook_id=h.id, event=event, payload=payload) for h in hooks)
    session.flush()
    return len(hooks)


# --- delivering (the worker) --------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0  # the claim was no longer ours

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class _Job:
    id: int
    webhook_id: int
    event: str
    payload: dict
    attempts: int  # including this one: the claim's token


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: 1, 2, 4, … minutes, at most 6 hours (as for mail)."""
    return min(timedelta(minutes=2 ** min(max(attempts - 1, 0), 20)), BACKOFF_CAP)


def sign(secret: str, body: bytes) -> str:
    """The X-Signature header value: `sha256=` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(payload: dict) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _clock(at: datetime) -> datetime:
    return max(at, now())


def _claim(session: Session, *, worker_id: str, limit: int, at: datetime) -> list[_Job]:
    rows = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
               WebhookDelivery.next_attempt_at <= at)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    lease_until = _clock(at) + LEASE
    for row in rows:
        row.status, row.next_attempt_at, row.attempts = OutboxStatus.SENDING, lease_until, row.attempts + 1
    session.flush()
    log.debug("worker %s claimed %s webhook deliveries", worker_id, len(rows))
    return [_Job(r.id, r.webhook_id, r.event, dict(r.payload), r.attempts) for r in rows]


def _mine(job: _Job):
    return (WebhookDelivery.id == job.id, WebhookDelivery.status == OutboxStatus.SENDING,
            WebhookDelivery.attempts == job.attempts)


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address that was checked, not to a second DNS answer."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the checked address; the certificate is verified for the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, *, body: bytes, headers: dict[str, str], allow_private: bool, timeout: float) -> int:
    """POST once (no redirects); returns the status code. Raises ValueError for a refused address."""
    target = _parse(url)
    address = _allowed_addresses(target.host, target.port, allow_private=allow_private)[0]
    cls = _PinnedHTTPS if target.https else _PinnedHTTP
    conn = cls(target.host, target.port, address=address, timeout=timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(65536)  # the answer's content is not kept
        return response.status
    finally:
        conn.close()


def _describe(exc: BaseException, secret: str) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return (text.replace(secret, "***") if secret else text)[:1000]


def _finish(engine: Engine, job: _Job, *, at: datetime, max_attempts: int, code: int | None = None,
            error: str = "", permanent: bool = False) -> str:
    """Record the outcome if the row is still ours: "sent", "retrying", "failed" (or "skipped")."""
    values: dict = {"response_code": code}
    if not error:
        outcome = "sent"
        values |= {"status": OutboxStatus.SENT, "delivered_at": now(), "last_error": ""}
    elif permanent or job.attempts >= max_attempts:
        outcome = "failed"
        values |= {"status": OutboxStatus.FAILED, "last_error": error}
    else:
        outcome = "retrying"
        values |= {"status": OutboxStatus.PENDING, "last_error": error,
                   "next_attempt_at": _clock(at) + backoff(job.attempts)}
    with unit_of_work(engine) as session:
        done = session.execute(update(WebhookDelivery).where(*_mine(job)).values(**values)).rowcount
    return outcome if done else "skipped"


def _deliver_one(engine: Engine, job: _Job, *, settings: Settings, worker_id: str, at: datetime,
                 timeout: float, max_attempts: int) -> str:
    """Renew the lease, sign, POST outside any transaction, record the outcome."""
    with unit_of_work(engine) as session:
        renewed = session.execute(
            update(WebhookDelivery).where(*_mine(job)).values(next_attempt_at=_clock(at) + LEASE)
        ).rowcount
        hook = session.get(Webhook, job.webhook_id) if renewed else None
        url, stored, active = (hook.url, hook.secret, hook.is_active) if hook else ("", "", False)
    if not renewed:
        return "skipped"

    def finish(**kwargs) -> str:
        return _finish(engine, job, at=at, max_attempts=max_attempts, **kwargs)

    if not active:
        return finish(error="webhook deactivated", permanent=True)
    try:
        secret = decrypt_text(settings.encryption_key, stored)
    except Exception:  # noqa: BLE001 - a changed ENCRYPTION_KEY does not heal by retrying
        return finish(error="secret cannot be decrypted (ENCRYPTION_KEY changed?)", permanent=True)
    body = body_of(job.payload)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Event": job.event,
               "X-Delivery-Id": str(job.id), "X-Signature": sign(secret, body)}
    try:
        code = _post(url, body=body, headers=headers, allow_private=settings.webhooks_allow_private,
                     timeout=timeout)
    except ValueError as exc:  # a URL that no longer parses or an address the rule refuses
        return finish(error=_describe(exc, secret), permanent=True)
    except Exception as exc:  # noqa: BLE001 - timeouts, refused connections, TLS errors: tried again
        return finish(error=_describe(exc, secret))
    log.debug("worker %s: delivery %s answered %s", worker_id, job.id, code)
    if 200 <= code < 300:
        return finish(code=code)
    return finish(code=code, error=f"HTTP {code}")


def deliver_due(engine: Engine, *, settings: Settings, worker_id: str, at: datetime | None = None,
                limit: int = 50, timeout: float = TIMEOUT, max_attempts: int = MAX_ATTEMPTS) -> DeliveryReport:
    """Claim the due deliveries, then for each: sign, POST outside any transaction, record the outcome."""
    at = at or now()
    with unit_of_work(engine) as session:
        jobs = _claim(session, worker_id=worker_id, limit=limit, at=at)
    report = DeliveryReport(claimed=len(jobs))
    for job in jobs:
        outcome = _deliver_one(engine, job, settings=settings, worker_id=worker_id, at=at, timeout=timeout,
                               max_attempts=max_attempts)
        setattr(report, outcome, getattr(report, outcome) + 1)
        log.log(logging.INFO if outcome == "sent" else logging.WARNING, "webhook delivery %s: %s", job.id, outcome)
    return report
