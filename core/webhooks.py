"""Webhooks (§8, §10): per event type a URL and a secret; a JSON body signed with HMAC-SHA256; retried with
backoff; every delivery logged in `webhook_deliveries`.

This module checks addresses, registers and lists webhooks and their deliveries (admins), and `emit`s events:
it only writes delivery rows, in the caller's transaction. Sending them is core.webhook_delivery's job (run by
the worker, with the claim/lease protocol of core.jobs).

Addresses: a webhook URL whose host resolves to a private, loopback, link-local, multicast, reserved or
unspecified address is refused unless WEBHOOKS_ALLOW_PRIVATE is set. The same rule is checked again right
before each call, and the call goes to the address that was checked (no second lookup: DNS rebinding).
Redirects are not followed. Secrets are stored encrypted (Fernet, ENCRYPTION_KEY) and never logged.
"""

from __future__ import annotations

import ipaddress
import json
import secrets as secrets_module
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.audit import log_access
from core.crypto import encrypt_text
from core.enums import OutboxStatus
from core.errors import NotFound, ValidationError
from core.i18n import t
from core.permissions import Action, Actor, require
from core.settings import Settings
from core.timeutil import now
from db.models import Webhook, WebhookDelivery

#: The events a webhook can subscribe to (labels: catalog keys `webhooks.event_<name with _>`).
EVENT_TYPES: tuple[str, ...] = (
    "case.created", "case.status_changed", "order.assigned", "document.uploaded", "invoice.submitted",
    "payment.recorded",
)
TEST_EVENT = "webhook.test"  # queued by `send_test` only; nobody subscribes to it
MIN_SECRET, MAX_SECRET_BYTES = 16, 64  # 64 bytes still fit the column once encrypted


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


def allowed_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The resolved addresses, or ValueError naming the first forbidden one (any forbidden one refuses all)."""
    addresses = _resolve(host, port)
    if not allow_private:
        for address in addresses:
            if is_forbidden_address(address):
                raise ValueError(f"blocked address {address}")
    return addresses


@dataclass(frozen=True)
class Target:
    https: bool
    host: str
    port: int
    path: str  # path and query


def parse_url(url: str) -> Target:
    """Split a webhook URL; ValueError for anything that is not plain http(s)://host[:port]/path?query."""
    if not url or len(url) > 500 or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("bad url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
            or "@" in parts.netloc or parts.fragment:
        raise ValueError("bad url")
    port = parts.port or (443 if parts.scheme == "https" else 80)  # .port raises ValueError when invalid
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme == "https", parts.hostname, port, path)


def check_url(url: str, *, settings: Settings) -> str:
    """The URL if it may be registered, else ValidationError (scheme, credentials, resolution, address rule)."""
    url = url.strip()
    try:
        target = parse_url(url)
    except ValueError:
        raise ValidationError(t("webhooks.bad_url"), field="url") from None
    try:
        allowed_addresses(target.host, target.port, allow_private=settings.webhooks_allow_private)
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
