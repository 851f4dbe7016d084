"""Textbausteine (admin page): edit, preview on a real case, save, refuse an unknown placeholder, reset."""

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.enums import Role
from core.i18n import t
from core.templates import DEFAULTS, template_name
from db.engine import unit_of_work
from db.models import Template
from tests.app.conftest import table_text, texts

PAGE = "pages/admin_templates.py"


def open_template(world, key: str) -> AppTest:
    at = world.app(Role.ADMIN, page=PAGE)
    picker(at).select(key)
    at.run()
    return at


def picker(at: AppTest):
    return next(s for s in at.selectbox if s.label == t("tpl.select"))


def field(at: AppTest, label: str):
    return next(w for w in [*at.text_input, *at.text_area] if w.label == label)


def click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()


def stored(world, key: str) -> tuple[str, str] | None:
    with unit_of_work(world.engine) as s:
        row = s.scalar(select(Template).where(Template.key == key))
        return (row.subject, row.body) if row else None


def preview_text(at: AppTest) -> str:
    return "\n".join(str(el.value) for el in at.text)


def test_page_lists_the_templates_and_the_allowed_placeholders(world):
    at = open_template(world, "insurer_query")
    assert not at.exception
    assert field(at, t("tpl.subject")).value == DEFAULTS["insurer_query"][0]
    assert "{upload_link}" in table_text(at) and t("tpl.ph_upload_link") in table_text(at)
    assert template_name("insurer_query") in picker(at).options


def test_preview_shows_the_real_case_as_plain_text(world):
    at = open_template(world, "payment_received")
    field(at, t("tpl.body")).input("Hallo {kunde}, **{fallnummer}** bei [{versicherung}](https://evil.example)")
    field(at, t("tpl.preview_case")).input(world.own_case)
    at.run()
    assert not at.exception
    assert f"Hallo Erika Eigen, **{world.own_case}** bei [HUK-COBURG](https://evil.example)" in preview_text(at)
    assert "evil.example" not in "\n".join(m.value for m in at.markdown)


def test_edit_and_save_stores_the_template_for_the_next_mail(world):
    at = open_template(world, "order_assigned")
    field(at, t("tpl.subject")).input("Auftrag {fallnummer} – bitte heute annehmen")
    at.run()
    click(at, t("tpl.save"))
    assert not at.exception
    assert t("tpl.saved") in texts(at)
    assert stored(world, "order_assigned") == ("Auftrag {fallnummer} – bitte heute annehmen",
                                               DEFAULTS["order_assigned"][1])
    assert picker(at).value == "order_assigned"
    assert t("tpl.changed").capitalize() in texts(at)


def test_unknown_placeholder_shows_the_error_and_stores_nothing(world):
    at = open_template(world, "order_assigned")
    field(at, t("tpl.body")).input("Hallo {betrieb}, Sie bekommen {betrag}.")
    at.run()
    click(at, t("tpl.save"))
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and all("{betrag}" in e and "{auftrag_link}" in e for e in errors)
    assert t("tpl.saved") not in texts(at)
    assert stored(world, "order_assigned") is None


def test_reset_brings_back_the_default_text(world):
    at = open_template(world, "partner_rejected")
    field(at, t("tpl.subject")).input("Leider nein")
    at.run()
    click(at, t("tpl.save"))
    click(at, t("tpl.reset"))
    assert not at.exception
    assert t("tpl.reset_done") in texts(at)
    assert stored(world, "partner_rejected") == DEFAULTS["partner_rejected"]
    assert field(at, t("tpl.subject")).value == DEFAULTS["partner_rejected"][0]
