"""Hilfe: each role sees its own help first with its steps and screenshots, may read the others'; a visitor gets
the login/"Partner werden" and the client help; the help is in everyone's menu and links only to pages the
reader may open."""

import pytest

from core import help as guide_book
from core.enums import Role
from core.help import Audience
from core.i18n import t
from core.permissions import Actor
from core.ui.navigation import PAGES, listed, pages_for
from tests.app.conftest import texts

PAGE = "pages/public_help.py"
ROLES = [Role.ADMIN, Role.MANAGER, Role.STAFF, Role.LAWYER, Role.PARTNER, Role.BROKER]
BY_PATH = {spec.path: spec for spec in PAGES}


def guide_titles(audience: Audience) -> list[str]:
    return [g.title for g in guide_book.help_for(audience).guides]


def shown_titles(at) -> list[str]:
    return [h.value for h in at.subheader if h.value != t("help.what_you_do")]


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_role_sees_its_own_help_first(world, role):
    at = world.app(role, page=PAGE)
    assert not at.exception, at.exception
    assert at.selectbox[0].value == Audience(role.value)
    assert guide_book.help_for(Audience(role.value)).intro in texts(at)
    assert shown_titles(at) == guide_titles(Audience(role.value))


def test_the_steps_are_numbered_and_each_guide_shows_its_screenshot(world):
    at = world.app(Role.STAFF, page=PAGE)
    staff = guide_book.help_for(Audience.STAFF)
    first = staff.guides[0]
    assert any(md.value.startswith(f"1. {first.steps[0]}\n2. {first.steps[1]}") for md in at.markdown)
    assert len(at.image) == len(staff.guides)


def test_a_logged_in_reader_may_open_another_roles_help(world):
    at = world.app(Role.PARTNER, page=PAGE)
    at.selectbox[0].set_value(Audience.ADMIN).run()
    assert not at.exception
    assert shown_titles(at) == guide_titles(Audience.ADMIN)


def test_a_visitor_gets_the_login_help_and_may_switch_to_the_clients(world):
    at = world.app(None, page=PAGE)
    assert not at.exception
    assert at.selectbox[0].options == [t("help.audience.visitor"), t("help.audience.client")]
    assert shown_titles(at) == guide_titles(Audience.VISITOR)
    at.selectbox[0].set_value(Audience.CLIENT).run()
    assert shown_titles(at) == guide_titles(Audience.CLIENT)


def test_the_address_may_name_the_role_to_show(world):
    at = world.app(Role.STAFF)
    at.query_params["rolle"] = "broker"
    at.switch_page(PAGE).run()
    assert shown_titles(at) == guide_titles(Audience.BROKER)


def test_the_help_links_only_to_pages_the_reader_may_open(world):
    at = world.app(Role.PARTNER, page=PAGE)
    at.selectbox[0].set_value(Audience.ADMIN).run()
    partner = Actor(user_id=world.users[Role.PARTNER], username="x", display_name="x", role=Role.PARTNER)
    linked = {link.label for link in at.get("page_link")}
    allowed = {t(spec.title_key) for spec in pages_for(partner) if listed(spec, partner)}
    assert linked and linked <= allowed  # "Start", "Fall", "Dokumente durchsuchen", …
    assert t("nav.admin_users") not in linked


@pytest.mark.parametrize("role", [*ROLES, None], ids=str)
def test_the_help_is_in_everyones_menu(role):
    actor = None if role is None else Actor(user_id=1, username="x", display_name="x", role=role)
    help_page = BY_PATH[PAGE]
    assert help_page in pages_for(actor) and listed(help_page, actor)
