"""The menu: an admin's long menu comes in sections, shorter menus as one list; every page stays registered."""

import pytest

from core.enums import Role
from core.i18n import t
from core.permissions import Actor
from core.ui.navigation import GROUPED_FROM, listed, menu_sections, pages_for


def actor(role: Role) -> Actor:
    return Actor(user_id=1, username=role.value, display_name=role.value, role=role,
                 partner_id=1 if role == Role.PARTNER else None, broker_id=1 if role == Role.BROKER else None)


def test_the_admin_menu_comes_in_sections_in_order_with_every_page():
    admin = actor(Role.ADMIN)
    specs = pages_for(admin)
    assert sum(listed(s, admin) for s in specs) > GROUPED_FROM
    sections = menu_sections(specs, admin)
    assert list(sections) == [t("nav.section.work"), t("nav.section.admin"), t("nav.section.audit"),
                              t("nav.section.account")]
    assert sorted(s.path for section in sections.values() for s in section) == sorted(s.path for s in specs)
    visible = {name: [t(s.title_key) for s in section if listed(s, admin)] for name, section in sections.items()}
    assert all(visible.values())  # no empty section
    assert visible[t("nav.section.work")][0] == t("nav.home")  # the start page first
    assert visible[t("nav.section.audit")] == [t("nav.chronicles"), t("nav.access_log"), t("nav.verify"),
                                                t("nav.subjects")]


@pytest.mark.parametrize("role", [Role.STAFF, Role.PARTNER, Role.BROKER, Role.MANAGER, Role.LAWYER])
def test_shorter_menus_and_the_login_stay_one_list(role):
    assert menu_sections(pages_for(actor(role)), actor(role)) is None
    assert menu_sections(pages_for(None), None) is None
