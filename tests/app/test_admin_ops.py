"""Betrieb (admin page): the health checks as status lines, the workers with stale ones marked, the outbox
backlog, failed deliveries with the link to the Postausgang, the last purge and the database size."""

from datetime import timedelta

from sqlalchemy import update

from core import heartbeat
from core.enums import OutboxStatus, Role
from core.i18n import t
from core.outbox import enqueue_mail
from core.timeutil import now
from db.engine import unit_of_work
from db.models import OutboxMessage
from tests.app.conftest import table_text, texts

PAGE = "pages/admin_ops.py"


def beat(world, worker_id: str, ago: timedelta) -> None:
    at = now() - ago
    heartbeat.beat(world.engine, worker_id=worker_id, started_at=at, result="ok", counts={"sent": 3}, at=at)


def queue(world, n: int) -> None:
    with unit_of_work(world.engine) as s:
        for i in range(n):
            enqueue_mail(s, idempotency_key=f"ops:{i}", template_key="partner_rejected", recipient=f"o{i}@example.org",
                         values={"ansprechpartner": "Frau O", "betrieb": "Glas", "grund": "Region voll"})


def test_a_healthy_system_shows_every_check_and_the_live_worker(world):
    beat(world, "host-a:11:1:live", timedelta(seconds=5))
    at = world.app(Role.ADMIN, page=PAGE)
    assert not at.exception, at.exception
    shown = texts(at)
    assert t("ops.title") in shown and t("ops.overall_ok") in [s.value for s in at.success]
    for name in ("database", "migrations", "worker", "outbox", "failed_deliveries"):
        assert f"**{t('ops.check.' + name)}**" in shown
    assert "erreichbar, Antwortzeit" in shown and "auf dem neuesten Stand" in shown
    table = table_text(at)
    assert "host-a:11:1:live" in table and t("ops.state_live") in table and "sent 3" in table
    assert "#fdd" not in str(at.dataframe[0].proto)  # nothing highlighted
    assert t("ops.retention_none") in shown and "Größe:" in shown and "MB (sqlite)" in shown


def test_a_stale_worker_fails_the_page_and_is_marked_in_the_table(world):
    beat(world, "host-b:22:1:stale", timedelta(minutes=20))
    at = world.app(Role.ADMIN, page=PAGE)
    errors = [e.value for e in at.error]
    assert t("ops.overall_fail") in errors
    assert any("**Worker**: letztes Lebenszeichen vor" in e and "älter als 300 s" in e for e in errors)
    assert t("ops.state_stale") in table_text(at)
    assert "#fdd" in str(at.dataframe[0].proto)  # the stale row is highlighted


def test_backlog_and_failed_deliveries_with_the_link_to_the_outbox(world):
    beat(world, "w", timedelta(seconds=1))
    queue(world, 3)
    with unit_of_work(world.engine) as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.id == 1).values(status=OutboxStatus.FAILED))
    at = world.app(Role.ADMIN, page=PAGE)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("ops.metric_pending")] == "2" and metrics[t("ops.metric_due")] == "2"
    assert metrics[t("ops.metric_failed_mail")] == "1" and metrics[t("ops.metric_failed_webhooks")] == "0"
    assert any("Zustellfehler" in w.value and "1 Mails" in w.value for w in at.warning)
    links = [link.proto.page for link in at.get("page_link")]
    assert links == ["outbox", "webhooks"]  # the url paths of the Postausgang and Webhooks pages
