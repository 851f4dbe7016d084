"""A glass shop logs in on its phone-sized screen, accepts its new order, uploads the invoice with the signed
declaration, and a clerk sees the invoice on the case."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.assignment import override_assignment
from core.cases import NewCase, create_case
from core.enums import DamageType, Role
from core.i18n import t
from core.permissions import SYSTEM
from core.users import create_user
from db.engine import make_engine, unit_of_work
from db.models import User
from tests.e2e.browser import login, login_with_new_totp, settle
from tests.e2e.conftest import PASSWORD
from tests.unit.test_upload_validation import make_pdf

pytestmark = pytest.mark.e2e


@pytest.fixture
def new_order(app_data) -> str:
    """A new glass case given to glas1's business, not yet accepted; and a clerk login that needs TOTP."""
    engine = make_engine(app_data[1])
    with unit_of_work(engine) as s:
        partner_id = s.scalar(select(User.partner_id).where(User.username == "glas1"))
        case = create_case(s, actor=SYSTEM, data=NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name="Browser",
            client_first_name="Berta", postal_code="10115", plate="B-PW 2026"))
        override_assignment(s, actor=SYSTEM, number=case.number, partner_id=partner_id, reason="E2E-Test")
        if s.scalar(select(User).where(User.username == "e2e_clerk")) is None:
            create_user(s, actor=SYSTEM, username="e2e_clerk", display_name="E2E Clerk", email="",
                        role=Role.STAFF, password=PASSWORD)
        number = case.number
    engine.dispose()
    return number


def test_glass_shop_accepts_uploads_invoice_and_staff_see_it(app_url, browser, new_order, tmp_path):
    invoice, signed = tmp_path / "Rechnung.pdf", tmp_path / "Abtretung.pdf"
    invoice.write_bytes(make_pdf("Rechnung R-E2E-1", "Frontscheibe"))
    signed.write_bytes(make_pdf("Abtretungserklärung", "unterschrieben"))

    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="de-DE", is_mobile=True,
                                has_touch=True)
    phone.set_default_timeout(20_000)
    page = phone.new_page()
    login(page, app_url, "glas1", PASSWORD)
    expect(page.get_by_role("button", name=t("app.logout"))).to_be_attached()
    page.wait_for_function("document.cookie.includes('schadenportal_auth')")
    page.goto(f"{app_url}/orders")
    settle(page)
    expect(page.locator("[role=gridcell]", has_text=new_order).first).to_be_attached()

    page.goto(f"{app_url}/case?nr={new_order}")
    settle(page)
    page.get_by_role("button", name=t("assign.accept")).click()
    expect(page.get_by_text(t("assign.accepted")).first).to_be_visible()

    page.get_by_role("tab", name=t("order.title")).click()
    for label, value in ((t("invoice.number"), "R-E2E-1"), (t("invoice.net"), "400,00"), (t("invoice.vat"), "76,00"),
                         (t("invoice.gross"), "476,00"), (t("invoice.deductible"), "150,00")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Tab")
    uploader = page.locator("[data-testid=stFileUploader]")
    uploader.filter(has_text=t("invoice.file")).locator("input[type=file]").set_input_files(str(invoice))
    uploader.filter(has_text=t("invoice.companion.assignment")).locator("input[type=file]").set_input_files(str(signed))
    expect(page.get_by_text("Abtretung.pdf").first).to_be_visible()
    page.get_by_role("button", name=t("invoice.submit")).click()
    expect(page.get_by_text(t("invoice.submitted")).first).to_be_visible(timeout=30_000)
    phone.close()

    office = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    office.set_default_timeout(20_000)
    clerk = office.new_page()
    login_with_new_totp(clerk, app_url, "e2e_clerk", PASSWORD)
    clerk.goto(f"{app_url}/case?nr={new_order}")
    settle(clerk)
    clerk.get_by_role("tab", name=t("order.title")).click()
    expect(clerk.get_by_text("R-E2E-1").first).to_be_visible()
    expect(clerk.get_by_text("476,00 €").first).to_be_visible()
    clerk.get_by_role("tab", name=t("case.tab_documents")).click()
    expect(clerk.get_by_text("Rechnung.pdf").first).to_be_visible()
    office.close()
