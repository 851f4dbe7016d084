"""The case page: facts and timeline for whoever may see the case, the §6 refusal for anyone else."""

import pytest
from sqlalchemy import select

from core.enums import Role
from core.i18n import t
from db.engine import unit_of_work
from db.models import AccessLog
from tests.app.conftest import table_text, texts


def open_case(world, role, number):
    at = world.app(role, page="pages/case_view.py")
    at.query_params["nr"] = number
    at.run()
    return at


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER, Role.PARTNER, Role.BROKER])
def test_own_case_shows_facts_and_timeline(world, role):
    at = open_case(world, role, world.own_case)
    assert not at.exception
    assert t("case.title", number=world.own_case) in texts(at)
    assert "Erika Eigen" in table_text(at)
    assert "Fall angelegt" in table_text(at)


@pytest.mark.parametrize("role", [Role.PARTNER, Role.BROKER])
def test_foreign_case_is_refused_without_detail(world, role):
    at = open_case(world, role, world.foreign_case)
    assert [e.value for e in at.error] == [t("case.refused")]
    assert "Fremd" not in texts(at) + table_text(at)


def test_missing_case_gets_the_same_refusal(world):
    at = open_case(world, Role.PARTNER, "SP-2020-999999")
    assert [e.value for e in at.error] == [t("case.refused")]


def test_refusal_is_logged(world):
    open_case(world, Role.PARTNER, world.foreign_case)
    with unit_of_work(world.engine) as s:
        rows = s.execute(select(AccessLog.action, AccessLog.object_ref, AccessLog.username)).all()
    assert ("refused", world.foreign_case, "t_partner") in rows


def test_staff_moves_case_to_review(world):
    at = open_case(world, Role.STAFF, world.own_case)
    button = next(b for b in at.button if b.label == "Prüfung")
    button.click()
    at.run()
    assert not at.exception
    assert "Status geändert: Prüfung." in texts(at)
    assert "Eingang → Prüfung" in table_text(at)


def test_manager_sees_no_status_buttons(world):
    at = open_case(world, Role.MANAGER, world.own_case)
    assert t("case.next_steps") not in texts(at)
    assert not [b for b in at.button if b.label in ("Prüfung", "Storniert")]


def test_closed_case_offers_no_next_step_to_staff(world):
    from core import cases
    from core.enums import CaseStatus
    from core.permissions import Actor

    staff = Actor(user_id=None, username="s", display_name="S", role=Role.STAFF)
    with unit_of_work(world.engine) as s:
        cases.change_status(s, actor=staff, number=world.own_case, to=CaseStatus.CANCELLED, reason="doppelt")
    at = open_case(world, Role.STAFF, world.own_case)
    assert t("case.no_next_steps") in texts(at)


def test_cancel_without_reason_shows_german_error(world):
    at = open_case(world, Role.STAFF, world.own_case)
    next(b for b in at.button if b.label == "Storniert").click()
    at.run()
    assert t("case.reason_required") in texts(at)


def test_assignment_reason_is_shown(world):
    from core.assignment import assign_partner
    from core.permissions import Actor

    staff = Actor(user_id=None, username="s", display_name="S", role=Role.STAFF)
    with unit_of_work(world.engine) as s:
        from core import cases

        case = cases.get_case(s, number=world.own_case)
        case.partner_id = None
        assign_partner(s, actor=staff, case=case)
    at = open_case(world, Role.STAFF, world.own_case)
    assert "wenigsten" in table_text(at)
