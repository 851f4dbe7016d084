"""Textbausteine (admin page): the communication templates (silent insurer, documents requested, status mails to
broker and partner) are listed by their German names, open with their text and preview on a real case."""

import pytest

from core.enums import Role
from core.i18n import t
from core.templates import DEFAULTS, template_name
from tests.app.test_admin_templates import field, open_template, picker, preview_text

NEW = ("insurer_silence", "document_requested", "status_update_broker", "status_update_partner")


def test_the_editor_lists_the_communication_templates_by_name(world):
    at = world.app(Role.ADMIN, page="pages/admin_templates.py")
    assert not at.exception
    assert {template_name(key) for key in NEW} <= set(picker(at).options)
    assert len(picker(at).options) == len(DEFAULTS)


@pytest.mark.parametrize("key", NEW)
def test_a_communication_template_opens_and_previews_on_a_real_case(world, key):
    at = open_template(world, key)
    field(at, t("tpl.preview_case")).input(world.own_case)
    at.run()
    assert not at.exception
    assert field(at, t("tpl.subject")).value == DEFAULTS[key][0]
    assert world.own_case in preview_text(at)
