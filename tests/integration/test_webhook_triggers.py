"""The product's changes queue their webhook deliveries in the same transaction (SQLite and PostgreSQL)."""

from datetime import date

from sqlalchemy import select

from core import correspondence, orders, webhooks
from core.assignment import override_assignment
from core.auth import actor_for
from core.cases import change_status
from core.enums import CaseStatus, PartnerKind, Role
from core.timeutil import now, to_berlin
from db.engine import unit_of_work
from db.models import User, WebhookDelivery
from tests.factories import make_case, make_order, make_partner, make_user
from tests.unit.test_upload_validation import make_pdf


def subscribe(engine, settings, staff_id):
    with unit_of_work(engine) as s:
        admin = actor_for(s.get(User, staff_id))
        webhooks.register_webhook(s, actor=admin, settings=settings, url="http://127.0.0.1:9/hook",
                                  secret="ein-geheimnis-1234567", event_types=list(webhooks.EVENT_TYPES))


def queued(engine) -> list[tuple[str, dict]]:
    with unit_of_work(engine) as s:
        return [(d.event, d.payload) for d in s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]


def test_the_case_lifecycle_queues_its_events(engine, settings):
    admin = make_user(engine, "admin", Role.ADMIN)
    partner = make_partner(engine, "Autoglas Nord", PartnerKind.GLASS)
    glass = make_user(engine, "glas1", Role.PARTNER, partner_id=partner)
    subscribe(engine, settings, admin)
    number = make_case(engine)
    with unit_of_work(engine) as s:
        staff = actor_for(s.get(User, admin))
        override_assignment(s, actor=staff, number=number, partner_id=partner, reason="Nähe")
        change_status(s, actor=staff, number=number, to=CaseStatus.REVIEW)
        change_status(s, actor=staff, number=number, to=CaseStatus.CLAIM_SENT)
        correspondence.record_payment(s, actor=staff, number=number, amount_paid_cents=40_000, paid_on=to_berlin(now()).date())
    events = [e for e, _ in queued(engine)]
    assert events == ["case.created", "order.assigned", "case.status_changed", "case.status_changed",
                      "case.status_changed", "payment.recorded"]
    payload = queued(engine)[2][1]
    assert payload["case_number"] == number and payload["data"] == {"from": "received", "to": "review"}
    with unit_of_work(engine) as s:
        partner_actor = actor_for(s.get(User, glass))
    accepted = make_order(engine, partner)
    with unit_of_work(engine) as s:
        orders.submit_invoice(s, actor=partner_actor, settings=settings, number=accepted,
                              data=orders.InvoiceInput("R-1", date.today(), 10_000, 1_900, 11_900),
                              invoice_file=("R.pdf", make_pdf("R-1")), companion_file=("AE.pdf", make_pdf("AE")))
    tail = [e for e, _ in queued(engine)][-4:]
    assert tail == ["case.created", "document.uploaded", "document.uploaded", "invoice.submitted"]


def test_no_webhook_no_rows(engine):
    make_case(engine)
    assert queued(engine) == []
