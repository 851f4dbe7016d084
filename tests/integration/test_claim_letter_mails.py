"""Who is mailed when the claim letter goes out, on SQLite and PostgreSQL: from `received` the case passes
through `review` without a mail of its own, so the client gets only the claim_letter_sent mail, and broker and
partner one mail each."""

import pytest
from sqlalchemy import select

from core import claim_letters
from core.auth import actor_for
from core.cases import change_status
from core.enums import CaseStatus, Role
from db.engine import unit_of_work
from db.models import Broker, Case, CaseEvent, Insurer, OutboxMessage, User
from tests.factories import make_broker, make_case, make_partner, make_user

CLIENT, BROKER, PARTNER = "erika@example.org", "buero@makler.example", "info@autoglasnord.example"


@pytest.fixture
def world(engine):
    broker = make_broker(engine)
    partner = make_partner(engine, "Autoglas Nord", email=PARTNER)
    staff = make_user(engine, "staff", Role.STAFF)
    number = make_case(engine, partner_id=partner, broker_id=broker)
    with unit_of_work(engine) as s:
        s.get(Broker, broker).email = BROKER
        case = s.scalar(select(Case).where(Case.number == number))
        case.client.email = CLIENT
        s.scalar(select(Insurer).where(Insurer.name == "HUK-COBURG")).email = "schaden@huk.example"
        return number, actor_for(s.get(User, staff))


def send(engine, settings, actor, number) -> None:
    with unit_of_work(engine) as s:
        claim_letters.send_claim_letter(s, actor=actor, settings=settings, number=number)


def templates_to(engine, address: str) -> list[str]:
    with unit_of_work(engine) as s:
        return list(s.scalars(select(OutboxMessage.template_key).where(OutboxMessage.recipient == address)
                              .order_by(OutboxMessage.id)))


def test_from_received_the_client_gets_only_the_claim_letter_sent_mail(engine, settings, world):
    number, staff = world
    send(engine, settings, staff, number)
    assert templates_to(engine, CLIENT) == ["claim_letter_sent"]


def test_from_received_the_review_step_is_still_written(engine, settings, world):
    number, staff = world
    send(engine, settings, staff, number)
    with unit_of_work(engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == number))
        to = [e.details["to"] for e in s.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "status_changed").order_by(CaseEvent.seq))]
    assert to == ["review", "claim_sent"]


def test_from_review_the_client_gets_the_review_mail_earlier_and_then_only_claim_letter_sent(engine, settings, world):
    number, staff = world
    with unit_of_work(engine) as s:
        change_status(s, actor=staff, number=number, to=CaseStatus.REVIEW)
    send(engine, settings, staff, number)
    assert templates_to(engine, CLIENT) == ["status_update", "claim_letter_sent"]


def test_broker_and_partner_get_one_mail_each_when_the_letter_goes_out(engine, settings, world):
    number, staff = world
    send(engine, settings, staff, number)
    assert (templates_to(engine, BROKER), templates_to(engine, PARTNER)) == (
        ["status_update_broker"], ["status_update_partner"])
