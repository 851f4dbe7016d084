"""The case page's claim letter box: a clerk previews and sends the letter; others never see the box."""

import pytest
from sqlalchemy import select

from core.enums import CaseStatus, Role
from core.i18n import t
from db.engine import unit_of_work
from db.models import Case, Insurer
from tests.app.conftest import texts

INSURER_MAIL = "schaden@huk.example"


def open_case(world, role):
    at = world.app(role, page="pages/case_view.py")
    at.query_params["nr"] = world.own_case
    at.run()
    return at


def give_insurer_a_mail(world):
    with unit_of_work(world.engine) as s:
        s.scalar(select(Insurer).where(Insurer.name == "HUK-COBURG")).email = INSURER_MAIL


def test_clerk_sends_the_claim_letter_from_the_case_page(world):
    give_insurer_a_mail(world)
    at = open_case(world, Role.STAFF)
    assert t("claim.preview", recipient=INSURER_MAIL, amount="500,00 €") in texts(at)
    next(b for b in at.button if b.label == t("claim.send")).click()
    at.run()
    assert not at.exception
    assert t("claim.sent", recipient=INSURER_MAIL) in texts(at)
    assert t("claim.delivery") in texts(at)
    assert not [b for b in at.button if b.label == t("claim.send")]
    with unit_of_work(world.engine) as s:
        assert s.scalar(select(Case.status).where(Case.number == world.own_case)) == CaseStatus.CLAIM_SENT


def test_missing_insurer_mail_is_shown_in_german_and_no_button(world):
    at = open_case(world, Role.STAFF)
    assert t("claim.no_insurer_email", insurer="HUK-COBURG") in texts(at)
    assert not [b for b in at.button if b.label == t("claim.send")]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.PARTNER, Role.BROKER])
def test_others_see_no_claim_letter_box(world, role):
    give_insurer_a_mail(world)
    at = open_case(world, role)
    assert t("claim.title") not in texts(at)
    assert not [b for b in at.button if b.label == t("claim.send")]
