"""Webhooks on SQLite and PostgreSQL against a real http.server on 127.0.0.1: signed once, retried with
backoff on 500 / timeout / refused connection, failed after 8 attempts, two workers never double-send,
private addresses refused when the setting says so (at registration and again at send time)."""

import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from core.enums import OutboxStatus, Role
from core.errors import PermissionDenied, ValidationError
from core.jobs import LEASE
from core.mailer import transport_for
from core.permissions import SYSTEM, Actor
from core.timeutil import now
from core.webhook_delivery import _claim, deliver_due
from core.webhooks import (
    deactivate_webhook,
    emit,
    list_deliveries,
    list_webhooks,
    register_webhook,
    send_test,
)
from core.worker import run_worker
from db.engine import make_engine, unit_of_work
from db.models import Case, Webhook, WebhookDelivery
from tests.factories import make_case
from tests.mailserver import free_port

SECRET = "s3cr3t-for-the-receiver-0123"


class WebhookServer:
    """A real HTTP server on 127.0.0.1 that records every POST and checks its signature with `secret`."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret, self.requests, self.codes, self.delay = secret, [], [], 0.0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                expected = "sha256=" + hmac.new(server.secret.encode(), body, hashlib.sha256).hexdigest()
                with server._lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                            "valid": hmac.compare_digest(expected, self.headers["X-Signature"])})
                    code = server.codes.pop(0) if server.codes else 200
                time.sleep(server.delay)
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def delivery_ids(self) -> list[str]:
        return [r["headers"]["X-Delivery-Id"] for r in self.requests]


@pytest.fixture
def server():
    srv = WebhookServer()
    srv.start()
    yield srv
    srv.stop()


# Tests use an event the product does not emit by itself here (creating a case emits `case.created`).
EVENT = "invoice.submitted"


def register(engine, settings, url, *, events=(EVENT,), secret=SECRET) -> int:
    with unit_of_work(engine) as s:
        return register_webhook(s, actor=SYSTEM, settings=settings, url=url, secret=secret,
                                event_types=list(events)).id


def emit_for(engine, number: str, event=EVENT, data=None) -> int:
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        return emit(s, event=event, case=case, data=data if data is not None else {"source": "test"})


def deliveries(engine) -> list[WebhookDelivery]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def deliver(engine, settings, *, at=None, worker="w1", **kwargs):
    return deliver_due(engine, settings=settings, worker_id=worker, at=at, **kwargs)


def test_a_delivery_arrives_once_signed_with_the_secret(engine, settings, server):
    register(engine, settings, server.url)
    number = make_case(engine)
    assert emit_for(engine, number, data={"amount_cents": 1200}) == 1
    assert deliver(engine, settings).sent == 1
    assert deliver(engine, settings, at=now() + timedelta(days=1)).claimed == 0
    [request] = server.requests
    [row] = deliveries(engine)
    assert request["valid"] and request["path"] == "/hook"
    headers = request["headers"]
    assert (headers["Content-Type"], headers["X-Event"], headers["X-Delivery-Id"]) == (
        "application/json", EVENT, str(row.id))
    body = json.loads(request["body"])
    assert set(body) == {"event", "case_number", "status", "at", "data"}
    assert (body["event"], body["case_number"], body["status"], body["data"]) == (
        EVENT, number, "received", {"amount_cents": 1200})
    assert body["at"].endswith("Z") and datetime.fromisoformat(body["at"]).tzinfo is not None
    assert (row.status, row.attempts, row.response_code, row.last_error) == (OutboxStatus.SENT, 1, 200, "")
    assert row.delivered_at is not None


def test_emit_only_writes_rows_for_active_subscribed_webhooks(engine, settings, server):
    register(engine, settings, server.url)
    register(engine, settings, server.url + "?b=1", events=(EVENT, "payment.recorded"))
    register(engine, settings, server.url + "?c=1", events=("payment.recorded",))
    with unit_of_work(engine) as s:
        deactivate_webhook(s, actor=SYSTEM, webhook_id=register(engine, settings, server.url + "?d=1"))
    number = make_case(engine)
    started = time.monotonic()
    assert emit_for(engine, number) == 2
    assert time.monotonic() - started < 2
    assert server.requests == []
    assert [(r.event, r.status, r.attempts) for r in deliveries(engine)] == [(EVENT, OutboxStatus.PENDING, 0)] * 2


def test_emit_writes_nothing_when_the_callers_transaction_rolls_back(engine, settings, server):
    register(engine, settings, server.url)
    number = make_case(engine)
    with pytest.raises(RuntimeError), unit_of_work(engine) as s:
        emit(s, event="case.created", case=s.scalar(select(Case).where(Case.number == number)), data={})
        raise RuntimeError("the user action failed")
    assert deliveries(engine) == []


def test_a_500_is_retried_after_the_backoff_and_logged_then_delivered(engine, settings, server):
    register(engine, settings, server.url)
    emit_for(engine, make_case(engine))
    server.codes = [500]
    at = now()
    assert deliver(engine, settings, at=at).retrying == 1
    [row] = deliveries(engine)
    assert (row.status, row.attempts, row.response_code, row.last_error) == (OutboxStatus.PENDING, 1, 500, "HTTP 500")
    assert at + timedelta(minutes=1) <= row.next_attempt_at <= now() + timedelta(minutes=1)
    assert deliver(engine, settings, at=at + timedelta(seconds=30)).claimed == 0
    assert deliver(engine, settings, at=at + timedelta(minutes=2)).sent == 1
    [row] = deliveries(engine)
    assert (row.status, row.attempts, row.response_code) == (OutboxStatus.SENT, 2, 200)
    assert len(server.requests) == 2 and all(r["valid"] for r in server.requests)
    assert len(set(server.delivery_ids)) == 1


def test_a_receiver_slower_than_the_timeout_is_retried(engine, settings, server):
    register(engine, settings, server.url)
    emit_for(engine, make_case(engine))
    server.delay = 2.0
    started = time.monotonic()
    assert deliver(engine, settings, timeout=0.5).retrying == 1
    assert time.monotonic() - started < 1.9
    [row] = deliveries(engine)
    assert row.status == OutboxStatus.PENDING and row.response_code is None
    assert "timed out" in row.last_error


def test_a_refused_connection_is_retried_and_fails_after_eight_attempts(engine, settings):
    register(engine, settings, f"http://127.0.0.1:{free_port()}/hook")
    emit_for(engine, make_case(engine))
    at = now()
    reports = [deliver(engine, settings, at=at + timedelta(hours=7 * i)) for i in range(9)]
    assert [r.retrying for r in reports[:7]] == [1] * 7 and reports[7].failed == 1 and reports[8].claimed == 0
    [row] = deliveries(engine)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 8)
    assert "ConnectionRefusedError" in row.last_error and SECRET not in row.last_error


def test_two_workers_deliver_twenty_calls_exactly_once(engine, database_url, settings, server):
    register(engine, settings, server.url)
    number = make_case(engine)
    for i in range(20):
        emit_for(engine, number, data={"i": i})
    second, start = make_engine(database_url), threading.Barrier(2)  # as if a second process
    server.delay = 0.01

    def work(eng, name):
        start.wait()
        sent = 0
        while (report := deliver(eng, settings, worker=name, limit=3)).claimed:
            sent += report.sent
        return sent

    with ThreadPoolExecutor(2) as pool:
        sent = list(pool.map(work, [engine, second], ["w1", "w2"]))
    second.dispose()
    assert sum(sent) == 20 and all(sent)
    assert len(server.requests) == len(set(server.delivery_ids)) == 20
    assert sorted(json.loads(r["body"])["data"]["i"] for r in server.requests) == list(range(20))
    assert {row.status for row in deliveries(engine)} == {OutboxStatus.SENT}


def test_a_delivery_left_sending_by_a_dead_worker_is_sent_after_its_lease(engine, settings, server):
    register(engine, settings, server.url)
    emit_for(engine, make_case(engine))
    with unit_of_work(engine) as s:
        _claim(s, worker_id="dead", limit=10, at=now())
    assert deliver(engine, settings, worker="w2").claimed == 0
    assert deliver(engine, settings, worker="w2", at=now() + LEASE + timedelta(minutes=1)).sent == 1
    [row] = deliveries(engine)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2) and len(server.requests) == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.0.0.1/", "http://169.254.169.254/",
                                 "http://[::1]/", "http://localhost/"])
def test_private_addresses_are_refused_unless_the_setting_allows_them(engine, settings, url):
    with pytest.raises(ValidationError, match="internen Netz"):
        register(engine, replace(settings, webhooks_allow_private=False), url)
    assert register(engine, replace(settings, webhooks_allow_private=True), url)


def test_the_address_is_checked_again_when_sending(engine, settings, server):
    register(engine, replace(settings, webhooks_allow_private=True), server.url)
    emit_for(engine, make_case(engine))
    assert deliver(engine, replace(settings, webhooks_allow_private=False)).failed == 1
    [row] = deliveries(engine)
    assert row.status == OutboxStatus.FAILED and "blocked address 127.0.0.1" in row.last_error
    assert server.requests == []


def test_a_redirect_is_not_followed(engine, settings, server):
    register(engine, settings, server.url)
    emit_for(engine, make_case(engine))
    server.codes = [302]
    assert deliver(engine, settings).retrying == 1
    assert len(server.requests) == 1 and deliveries(engine)[0].last_error == "HTTP 302"


def test_the_worker_round_delivers_webhooks(engine, settings, server):
    register(engine, settings, server.url)
    emit_for(engine, make_case(engine))
    run_worker(engine, settings, once=True, transport=transport_for(settings))
    assert len(server.requests) == 1 and deliveries(engine)[0].status == OutboxStatus.SENT


def test_the_secret_is_stored_encrypted_and_a_generated_one_is_returned_once(engine, settings):
    with unit_of_work(engine) as s:
        hook = register_webhook(s, actor=SYSTEM, settings=settings, url="http://127.0.0.1:9/x", secret="",
                                event_types=["case.created"])
    with unit_of_work(engine) as s:
        stored = s.get(Webhook, hook.id).secret
    assert len(hook.secret) >= 32 and hook.secret not in stored


def test_a_short_secret_and_no_event_are_refused(engine, settings):
    with pytest.raises(ValidationError, match="16 Zeichen"):
        register(engine, settings, "http://127.0.0.1:9/x", secret="kurz")
    with pytest.raises(ValidationError, match="Ereignis"):
        register(engine, settings, "http://127.0.0.1:9/x", events=())


def test_deactivating_ends_waiting_deliveries_and_stops_new_ones(engine, settings, server):
    hook_id = register(engine, settings, server.url)
    number = make_case(engine)
    emit_for(engine, number)
    with unit_of_work(engine) as s:
        deactivate_webhook(s, actor=SYSTEM, webhook_id=hook_id)
    assert emit_for(engine, number) == 0
    assert deliver(engine, settings).claimed == 0 and server.requests == []
    assert [(r.status, r.last_error) for r in deliveries(engine)] == [(OutboxStatus.FAILED, "webhook deactivated")]


def test_send_test_queues_a_signed_test_call_listed_in_the_log(engine, settings, server):
    hook_id = register(engine, settings, server.url)
    other = register(engine, settings, server.url + "?other=1")
    with unit_of_work(engine) as s:
        send_test(s, actor=SYSTEM, webhook_id=hook_id)
    deliver(engine, settings)
    with unit_of_work(engine) as s:
        [row] = list_deliveries(s, actor=SYSTEM, webhook_id=hook_id)
        assert list_deliveries(s, actor=SYSTEM, webhook_id=other) == []
        first, _ = list_webhooks(s, actor=SYSTEM)
    assert (row.event, row.status, row.response_code, row.url) == ("webhook.test", OutboxStatus.SENT, 200, server.url)
    assert server.requests[0]["valid"] and json.loads(server.requests[0]["body"])["case_number"] is None
    assert (first.id, first.event_types, first.is_active) == (hook_id, (EVENT,), True)


def test_webhook_functions_are_refused_to_staff(engine, settings):
    staff = Actor(user_id=None, username="staff", display_name="Staff", role=Role.STAFF)
    with unit_of_work(engine) as s:
        for call in (
            lambda: register_webhook(s, actor=staff, settings=settings, url="http://127.0.0.1/", secret="",
                                     event_types=["case.created"]),
            lambda: list_webhooks(s, actor=staff), lambda: list_deliveries(s, actor=staff),
            lambda: deactivate_webhook(s, actor=staff, webhook_id=1), lambda: send_test(s, actor=staff, webhook_id=1),
        ):
            with pytest.raises(PermissionDenied):
                call()
