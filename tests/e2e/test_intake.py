"""A clerk takes in a case with a photo in the browser; it appears on the board and on its page."""

import re
from datetime import date
from io import BytesIO

import pytest
from PIL import Image
from playwright.sync_api import expect

from core.i18n import t
from tests.e2e.browser import choose, login_with_new_totp, settle
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def test_intake_with_photo_then_board_and_case_page(app_url, context, tmp_path):
    photo = tmp_path / "schaden.png"
    buf = BytesIO()
    Image.new("RGB", (64, 48), (180, 20, 20)).save(buf, format="PNG")
    photo.write_bytes(buf.getvalue())

    page = context.new_page()
    login_with_new_totp(page, app_url, "lawyer", PASSWORD)
    page.goto(f"{app_url}/intake")
    settle(page)
    choose(page, t("field.damage_type"), "Glasschaden")
    choose(page, t("field.insurer"), "HUK-COBURG")
    page.get_by_role("spinbutton", name=f"day, {t('field.incident_date')}").click()
    page.keyboard.type(date.today().strftime("%d%m%Y"))  # the date field moves on to month and year by itself
    for label, value in ((t("field.plate"), "B-ZZ 4242"), (t("intake.first_name"), "Paula"),
                         (t("intake.last_name_label"), "Probe"), (t("intake.postal_code"), "10115"),
                         (t("intake.email"), "paula@example.org")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Tab")
    page.locator("input[type=file]").set_input_files(str(photo))
    expect(page.get_by_text("schaden.png").first).to_be_visible()
    page.get_by_role("button", name=t("intake.save")).click()

    saved = page.get_by_text(re.compile(r"Fall SP-\d{4}-\d{6} angelegt")).first
    expect(saved).to_be_visible(timeout=30_000)
    number = re.search(r"SP-\d{4}-\d{6}", saved.inner_text()).group(0)

    page.goto(f"{app_url}/board")
    settle(page)
    expect(page.locator("[role=gridcell]", has_text=number).first).to_be_attached()

    page.goto(f"{app_url}/case?nr={number}")
    settle(page)
    expect(page.get_by_text(t("case.title", number=number)).first).to_be_visible()
    page.get_by_role("tab", name=t("case.tab_documents")).click()
    expect(page.get_by_text(re.compile(r"v1 · schaden\.png")).first).to_be_visible()
