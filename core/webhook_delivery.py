"""Delivering webhooks (§8, §10): the worker's side of core.webhooks. `deliver_due` claims the due rows of
`webhook_deliveries` with the claim/lease protocol of core.jobs (the attempt number is the claim's token; the
table has no owner column), signs each body with the webhook's secret and POSTs it outside any transaction.

The address rule of core.webhooks is checked again right before each call, and the call goes to the address
that was checked (no second lookup: DNS rebinding). Redirects are not followed. A 2xx is done; any other answer,
a timeout or a refused connection is retried with backoff; a refused address, a URL that no longer parses, a
secret that cannot be decrypted or a deactivated webhook fail the row at once. The secret is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import socket
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core import jobs
from core.crypto import decrypt_text
from core.settings import Settings
from core.timeutil import now
from core.webhooks import allowed_addresses, parse_url
from db.engine import unit_of_work
from db.models import Webhook, WebhookDelivery

log = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds, per connect and per read
USER_AGENT = "Schadenportal-Webhooks/1"
DELIVERIES = jobs.JobTable(WebhookDelivery, name="webhook delivery", done_at="delivered_at")


@dataclass(frozen=True)
class _Job:
    claim: jobs.Claim
    webhook_id: int
    event: str
    payload: dict


def sign(secret: str, body: bytes) -> str:
    """The X-Signature header value: `sha256=` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(payload: dict) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def _claim(session: Session, *, worker_id: str, limit: int, at: datetime) -> list[_Job]:
    """Take up to `limit` due deliveries (pending and due, or `sending` with an expired lease) for this worker."""
    return [_Job(jobs.claim_of(r, worker_id), r.webhook_id, r.event, dict(r.payload))
            for r in jobs.claim_due(session, DELIVERIES, worker_id=worker_id, limit=limit, at=at)]


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
    target = parse_url(url)
    address = allowed_addresses(target.host, target.port, allow_private=allow_private)[0]
    cls = _PinnedHTTPS if target.https else _PinnedHTTP
    conn = cls(target.host, target.port, address=address, timeout=timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(65536)  # the answer's content is not kept
        return response.status
    finally:
        conn.close()


def _deliver_one(engine: Engine, job: _Job, *, settings: Settings, worker_id: str, at: datetime,
                 timeout: float, max_attempts: int) -> str:
    """Renew the lease, sign, POST outside any transaction, record the outcome."""
    with unit_of_work(engine) as session:
        renewed = jobs.renew_lease(session, DELIVERIES, job.claim, at=at)
        hook = session.get(Webhook, job.webhook_id) if renewed else None
        url, stored, active = (hook.url, hook.secret, hook.is_active) if hook else ("", "", False)
    if not renewed:
        return "skipped"

    def done(code: int | None = None, error: str = "", permanent: bool = False) -> str:
        return jobs.finish(engine, DELIVERIES, job.claim, at=at, max_attempts=max_attempts, error=error,
                           permanent=permanent, values={"response_code": code})

    if not active:
        return done(error="webhook deactivated", permanent=True)
    try:
        secret = decrypt_text(settings.encryption_key, stored)
    except Exception:  # noqa: BLE001 - a changed ENCRYPTION_KEY does not heal by retrying
        return done(error="secret cannot be decrypted (ENCRYPTION_KEY changed?)", permanent=True)
    body = body_of(job.payload)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Event": job.event,
               "X-Delivery-Id": str(job.claim.id), "X-Signature": sign(secret, body)}
    try:
        code = _post(url, body=body, headers=headers, allow_private=settings.webhooks_allow_private,
                     timeout=timeout)
    except ValueError as exc:  # a URL that no longer parses or an address the rule refuses
        return done(error=jobs.describe_error(exc, secret), permanent=True)
    except Exception as exc:  # noqa: BLE001 - timeouts, refused connections, TLS errors: tried again
        return done(error=jobs.describe_error(exc, secret))
    log.debug("worker %s: delivery %s answered %s", worker_id, job.claim.id, code)
    if 200 <= code < 300:
        return done(code=code)
    return done(code=code, error=f"HTTP {code}")


def deliver_due(engine: Engine, *, settings: Settings, worker_id: str, at: datetime | None = None,
                limit: int = 50, timeout: float = TIMEOUT, max_attempts: int = jobs.MAX_ATTEMPTS) -> jobs.JobReport:
    """Claim the due deliveries, then for each: sign, POST outside any transaction, record the outcome."""
    at = at or now()
    return jobs.run_batch(
        engine, DELIVERIES, claim=lambda session: _claim(session, worker_id=worker_id, limit=limit, at=at),
        work=lambda job: _deliver_one(engine, job, settings=settings, worker_id=worker_id, at=at, timeout=timeout,
                                      max_attempts=max_attempts))
