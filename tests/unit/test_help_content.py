"""The help (core.help) covers every page each role can open, names each page exactly as the menu labels it, and
every screenshot it shows exists as a PNG under docs/help/."""

import pytest
from PIL import Image

from core import help as guide_book
from core.enums import Role
from core.help import Audience
from core.i18n import t
from core.permissions import Actor, can
from core.ui.navigation import LOGIN_URL_PATH, PAGES, Menu

TITLES = {p.url_path: t(p.title_key) for p in PAGES} | {LOGIN_URL_PATH: t("nav.login")}
#: Clients have no login: they reach their case only through the links in our mails.
CLIENT_PAGES = {"status", "umfrage"}


def openable(audience: Audience) -> set[str]:
    """The pages this audience can open from its menu (clients: from their links)."""
    if audience == Audience.CLIENT:
        return CLIENT_PAGES
    if audience == Audience.VISITOR:
        return {p.url_path for p in PAGES if p.public and p.menu in (Menu.ALWAYS, Menu.VISITORS)} | {LOGIN_URL_PATH}
    actor = Actor(user_id=1, username="x", display_name="X", role=Role(audience.value))
    return {p.url_path for p in PAGES
            if (p.public and p.menu == Menu.ALWAYS) or (not p.public and can(actor, p.action))}


def covered(audience: Audience) -> set[str]:
    return {page for guide in guide_book.help_for(audience).guides for page in guide.pages}


@pytest.mark.parametrize("audience", list(Audience))
def test_every_page_the_role_can_open_is_in_its_help(audience):
    assert openable(audience) - covered(audience) == set()


@pytest.mark.parametrize("audience", list(Audience))
def test_each_guide_names_its_pages_as_the_menu_does(audience):
    unnamed = [
        (guide.title, page)
        for guide in guide_book.help_for(audience).guides
        for page in guide.pages
        if f"„{TITLES[page]}“" not in " ".join((guide.title, *guide.steps))
    ]
    assert unnamed == []


def test_guides_refer_only_to_pages_that_exist():
    referred = {page for audience in Audience for page in covered(audience)}
    assert referred - set(TITLES) == set()


def test_every_role_has_a_help_with_intro_and_guides():
    assert {Audience(r.value) for r in Role} <= set(guide_book.GUIDES)
    for audience in Audience:
        role_help = guide_book.help_for(audience)
        assert role_help.intro and role_help.guides and all(g.steps for g in role_help.guides), audience


@pytest.mark.parametrize("name", sorted(guide_book.referenced_images()))
def test_every_screenshot_the_help_shows_is_a_committed_png(name):
    with Image.open(guide_book.image_path(name)) as img:
        assert img.format == "PNG"


def test_every_guide_shows_a_screenshot():
    assert [g.title for a in Audience for g in guide_book.help_for(a).guides if not g.image] == []


def test_a_logged_in_reader_gets_the_own_help_first_and_may_read_all():
    for role in Role:
        offered = guide_book.audiences_for(role)
        assert offered[0] == Audience(role.value) and set(offered) == set(Audience)


def test_a_visitor_gets_the_login_and_the_client_help():
    assert guide_book.audiences_for(None) == [Audience.VISITOR, Audience.CLIENT]
