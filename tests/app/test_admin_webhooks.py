"""The webhooks page: an admin adds a webhook (a generated secret is shown once), sends a test call that a real
HTTP server receives, sees it in the log, and deactivates the webhook. (Refusal for other roles: test_pages.)"""

import pytest

from core.enums import OutboxStatus, Role
from core.i18n import label, t
from core.webhook_delivery import deliver_due
from core.webhooks import event_label
from tests.app.conftest import table_text, texts
from tests.integration.test_webhooks import WebhookServer


@pytest.fixture
def server():
    srv = WebhookServer(secret="placeholder")
    srv.start()
    yield srv
    srv.stop()


def add(at, url: str, secret: str = "", events=("case.created", "payment.recorded")) -> None:
    next(w for w in at.text_input if w.label == t("webhooks.url")).input(url)
    next(w for w in at.text_input if w.label == t("webhooks.secret")).input(secret)
    next(w for w in at.multiselect if w.label == t("webhooks.events")).set_value(list(events))
    press(at, t("webhooks.add"))


def press(at, text: str) -> None:
    next(b for b in at.button if b.label == text).click()
    at.run()


def test_admin_adds_a_webhook_and_sees_the_generated_secret_once(world, server):
    at = world.app(Role.ADMIN, page="pages/admin_webhooks.py")
    assert t("webhooks.none") in texts(at)
    add(at, server.url)
    assert not at.exception
    assert t("webhooks.created") in texts(at) and t("webhooks.secret_once") in texts(at)
    [secret] = [c.value for c in at.code]
    assert len(secret) >= 32
    shown = table_text(at)
    assert server.url in shown and event_label("payment.recorded") in shown and t("webhooks.active") in shown
    at.run()
    assert [c.value for c in at.code] == []  # shown once


def test_a_bad_url_shows_the_german_error(world):
    at = world.app(Role.ADMIN, page="pages/admin_webhooks.py")
    add(at, "ftp://example.org/hook")
    assert t("webhooks.bad_url") in texts(at)
    assert t("webhooks.none") in texts(at)


def test_admin_sends_a_test_call_and_sees_it_delivered_in_the_log(world, server):
    at = world.app(Role.ADMIN, page="pages/admin_webhooks.py")
    add(at, server.url, secret="mein-eigenes-geheimnis-42")
    assert [c.value for c in at.code] == []  # an own secret is not shown again
    press(at, t("webhooks.send_test"))
    assert t("webhooks.test_queued") in texts(at)
    assert label(OutboxStatus.PENDING) in table_text(at) and event_label("webhook.test") in table_text(at)
    server.secret = "mein-eigenes-geheimnis-42"
    assert deliver_due(world.engine, settings=world.settings, worker_id="test").sent == 1
    at.run()
    log = at.dataframe[-1].value
    assert list(log[t("webhooks.col_status")]) == [label(OutboxStatus.SENT)]
    assert list(log[t("webhooks.col_code")]) == ["200"]
    assert [r["valid"] for r in server.requests] == [True]


def test_admin_deactivates_a_webhook(world, server):
    at = world.app(Role.ADMIN, page="pages/admin_webhooks.py")
    add(at, server.url)
    press(at, t("webhooks.deactivate"))
    assert t("webhooks.deactivated") in texts(at)
    assert t("webhooks.inactive") in table_text(at)
    assert [s.options for s in at.selectbox if s.label == t("webhooks.select")] == [[]]
