"""Empty lists say what they mean and what to do next (with a link where there is a page for it)."""

import pytest
import streamlit as st

from core.enums import CaseStatus, PartnerKind, Role
from core.i18n import t
from core.settings import Settings
from tests.app.conftest import World, app_database, texts
from tests.factories import make_broker, make_partner, make_user


@pytest.fixture
def blank(tmp_path, monkeypatch) -> World:
    """Users, a partner and a broker, but no case yet."""
    engine = app_database(tmp_path, monkeypatch)
    partner_id = make_partner(engine, "Autoglas Leer", PartnerKind.GLASS)
    broker_id = make_broker(engine, "Büro Leer")
    users = {
        Role.ADMIN: make_user(engine, "e_admin", Role.ADMIN),
        Role.MANAGER: make_user(engine, "e_manager", Role.MANAGER),
        Role.STAFF: make_user(engine, "e_staff", Role.STAFF),
        Role.PARTNER: make_user(engine, "e_partner", Role.PARTNER, partner_id=partner_id),
        Role.BROKER: make_user(engine, "e_broker", Role.BROKER, broker_id=broker_id),
    }
    yield World(engine, Settings.load(), users, partner_id, partner_id, broker_id, "", "")
    engine.dispose()
    st.cache_resource.clear()


def links(at) -> list[str]:
    return [link.label for link in at.get("page_link")]


def button(at, key):
    return next(b for b in at.button if b.label == t(key))


# --- no data yet ----------------------------------------------------------------------------------------------------

def test_an_empty_board_points_the_clerk_to_the_intake(blank):
    at = blank.app(Role.STAFF, page="pages/staff_board.py")
    assert not at.exception
    assert t("empty.board_none") in texts(at) and t("empty.intake_link") in links(at)


def test_an_empty_board_tells_the_manager_where_cases_come_from(blank):
    at = blank.app(Role.MANAGER, page="pages/staff_board.py")
    assert t("empty.board_none_read") in texts(at) and t("empty.intake_link") not in links(at)


def test_a_broker_without_cases_is_shown_how_to_submit_one(blank):
    at = blank.app(Role.BROKER)
    assert f"{t('home.no_cases')} {t('empty.broker_next')}" in texts(at)
    assert links(at) == [t("empty.submit_link")]


def test_a_partner_without_orders_is_pointed_to_its_profile(blank):
    at = blank.app(Role.PARTNER)
    assert f"{t('home.no_orders')} {t('empty.partner_next')}" in texts(at)
    assert links(at) == [t("empty.profile_link")]
    orders = blank.app(Role.PARTNER, page="pages/partner_orders.py")
    assert f"{t('home.no_orders')} {t('empty.partner_next')}" in texts(orders)


def test_the_staff_start_page_without_cases_links_the_intake(blank):
    at = blank.app(Role.STAFF)
    assert t("home.no_open_cases") in texts(at) and t("empty.intake_link") in links(at)


def test_no_settlements_yet_says_how_they_are_made(blank):
    staff = blank.app(Role.STAFF, page="pages/staff_settlements.py")
    assert f"{t('settle.empty')} {t('empty.settlements_next')}" in texts(staff)
    partner = blank.app(Role.PARTNER, page="pages/partner_settlements.py")
    assert f"{t('settle.empty')} {t('empty.my_settlements_next')}" in texts(partner)


def test_an_empty_outbox_says_where_mails_come_from(blank):
    at = blank.app(Role.ADMIN, page="pages/admin_outbox.py")
    assert f"{t('outbox.none')} {t('empty.outbox_none_next')}" in texts(at)


def test_no_webhooks_yet_says_how_to_add_one(blank):
    at = blank.app(Role.ADMIN, page="pages/admin_webhooks.py")
    assert f"{t('webhooks.none')} {t('empty.webhooks_next')}" in texts(at)
    assert f"{t('webhooks.log_empty')} {t('empty.webhook_log_next')}" in texts(at)


def test_no_applications_say_where_they_come_from(blank):
    at = blank.app(Role.ADMIN, page="pages/admin_partners.py")
    assert f"{t('padmin.no_pending')} {t('empty.applications_next')}" in texts(at)


# --- filtered to nothing ----------------------------------------------------------------------------------------------

def test_a_board_filtered_to_nothing_says_how_to_widen_it(world):
    at = world.app(Role.STAFF, page="pages/staff_board.py")
    at.multiselect[0].select(CaseStatus.PAID)
    button(at, "board.apply").click()
    at.run()
    assert f"{t('board.empty')} {t('empty.board_next')}" in texts(at)
    assert t("empty.board_none") not in texts(at)


def test_partner_orders_filtered_to_nothing_say_how_to_widen_them(world):
    at = world.app(Role.PARTNER, page="pages/partner_orders.py")
    at.multiselect[0].select(CaseStatus.PAID)
    button(at, "board.apply").click()
    at.run()
    assert f"{t('orders.empty')} {t('empty.orders_next')}" in texts(at)


def test_a_search_without_hits_gives_hints(world):
    at = world.app(Role.STAFF, page="pages/staff_search.py")
    at.text_input[0].input("Zylinderkopfdichtung")
    button(at, "search.submit").click()
    at.run()
    assert f"{t('search.none')} {t('empty.search_next')}" in texts(at)


def test_no_person_found_gives_hints(world):
    at = world.app(Role.ADMIN, page="pages/admin_subjects.py")
    at.text_input[0].input("Niemand-Unbekannt")
    button(at, "subject.search").click()
    at.run()
    assert f"{t('subject.no_hits')} {t('empty.subjects_next')}" in texts(at)


# --- the case page ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "listing"), [(Role.STAFF, "nav.board"), (Role.PARTNER, "nav.orders"),
                                               (Role.BROKER, "home.my_cases")], ids=str)
def test_the_case_page_without_a_number_says_where_the_cases_are(world, role, listing):
    at = world.app(role, page="pages/case_view.py")
    assert t("empty.case_start") in texts(at)
    assert links(at) == [t(listing)]


def test_an_empty_case_says_how_to_add_documents_tasks_and_notes(world):
    at = world.app(Role.STAFF)
    at.query_params["nr"] = world.own_case
    at.switch_page("pages/case_view.py").run()
    assert not at.exception
    shown = texts(at)
    assert f"{t('docs.none')} {t('empty.docs_next')}" in shown
    assert t("empty.tasks") in shown and t("empty.notes_write") in shown
