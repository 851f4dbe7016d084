"""Login in a real browser: partner start page, staff TOTP enrolment and login, lockout, dead cookies."""

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from core.i18n import t
from tests.e2e.browser import enter_totp, login, logout, settle
from tests.e2e.conftest import PASSWORD, running_app

pytestmark = pytest.mark.e2e


def test_partner_logs_in_and_sees_own_orders(app_url, context):
    page = context.new_page()
    login(page, app_url, "glas1", PASSWORD)
    expect(page.get_by_text(t("home.my_orders")).first).to_be_visible()
    # the order table is drawn on a canvas; its cells exist for screen readers
    expect(page.locator("[role=gridcell]", has_text=re.compile(r"SP-\d{4}-\d{6}")).first).to_be_attached()


def test_staff_enrols_totp_logs_out_and_logs_in_with_a_code(app_url, context):
    page = context.new_page()
    login(page, app_url, "staff", PASSWORD)
    expect(page.get_by_text(t("totp.enrol_intro")).first).to_be_visible()
    secret = page.locator("[data-testid='stCode'] code").inner_text().strip()
    totp = pyotp.TOTP(secret)
    enter_totp(page, totp.now())
    expect(page.get_by_text(t("home.open_by_status")).first).to_be_visible()
    logout(page)
    login(page, app_url, "staff", PASSWORD)
    expect(page.get_by_text(t("totp.enter_code")).first).to_be_visible()
    # the code just used is refused; the next time step's code is accepted (±1 step window)
    enter_totp(page, totp.at(time.time() + totp.interval))
    expect(page.get_by_text(t("home.open_by_status")).first).to_be_visible()


def test_five_wrong_passwords_lock_the_account(app_url, context):
    page = context.new_page()
    for _ in range(5):
        login(page, app_url, "werkstatt2", "falsches-passwort")
        expect(page.get_by_text(t("login.failed")).first).to_be_visible()
    login(page, app_url, "werkstatt2", PASSWORD)
    expect(page.get_by_text(t("login.locked", minutes=15))).to_be_visible()


def test_cookie_saved_before_logout_no_longer_logs_in(app_url, browser, context):
    page = context.new_page()
    login(page, app_url, "gutachter1", PASSWORD)
    expect(page.get_by_text(t("home.my_orders")).first).to_be_visible()
    page.wait_for_function("document.cookie.includes('schadenportal_auth')")
    saved = [c for c in context.cookies() if c["name"] == "schadenportal_auth"]
    assert saved, "the login cookie was not written"

    copy = browser.new_context()
    copy.add_cookies(saved)
    before = copy.new_page()
    before.goto(app_url)
    expect(before.get_by_text(t("home.my_orders")).first).to_be_visible()  # the copied cookie works ...
    copy.close()

    logout(page)
    page.wait_for_function("!document.cookie.includes('schadenportal_auth')")  # deleted in the browser, too
    fresh = browser.new_context()
    fresh.add_cookies(saved)
    after = fresh.new_page()
    after.goto(app_url)
    expect(after.get_by_label(t("login.username")).first).to_be_visible()  # ... and is dead after logout
    expect(after.get_by_text(t("home.my_orders")).first).to_have_count(0)
    fresh.close()


def test_a_deep_link_as_the_first_visit_after_a_restart_opens_without_page_not_found(app_data, browser):
    """Streamlit takes the `pages/` folder for a file-named page list on the first session after a server start
    unless core.ui.server says otherwise; that session then showed "Page not found" over a deep link."""
    with running_app(*app_data) as base:
        ctx = browser.new_context(locale="de-DE")
        page = ctx.new_page()
        page.goto(f"{base}/datenschutz")
        settle(page)
        expect(page.get_by_role("heading", name=t("privacy.title"))).to_be_visible()
        expect(page.get_by_text("Page not found")).to_have_count(0)
        ctx.close()
