"""In a real browser: a visitor applies via "Partner werden" without logging in, an admin approves it, the new
partner sets a password with the link from the mail and logs in; a deep link opened while logged out shows the
login and, after it, the page asked for."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.i18n import t
from db.engine import make_engine, unit_of_work
from db.models import OutboxMessage
from tests.e2e.browser import choose, login, login_with_new_totp, settle
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e
QUESTION = re.compile(r"Wie viel ist (\d) ([+−]) (\d)\?")


def fill(page: Page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Tab")


def test_visitor_applies_an_admin_approves_and_the_partner_logs_in(app_url, app_data, context):
    visitor = context.new_page()
    visitor.goto(app_url)
    settle(visitor)
    expect(visitor.get_by_label(t("login.username")).first).to_be_visible()  # the login is the start page
    visitor.get_by_role("link", name=t("nav.apply")).click()
    expect(visitor.get_by_text(t("apply.intro")).first).to_be_visible()
    for key, value in (("apply.business_name", "Glaserei Probst"), ("apply.street", "Lindenweg 3"),
                       ("apply.postal_code", "10115"), ("apply.city", "Berlin"), ("apply.regions", "10, 12"),
                       ("apply.contact_name", "Paul Probst"), ("apply.email", "paul@probst.example")):
        fill(visitor, t(key), value)
    choose(visitor, t("apply.kind"), "Autoglaserei")
    visitor.locator("[data-testid='stCheckbox'] label").first.click(position={"x": 8, "y": 8})
    question = visitor.get_by_text(QUESTION).first.inner_text()
    a, op, b = QUESTION.search(question).groups()
    fill(visitor, question, str(int(a) + int(b) if op == "+" else int(a) - int(b)))
    visitor.get_by_role("button", name=t("apply.submit")).click()
    expect(visitor.get_by_text(t("apply.thanks"))).to_be_visible()

    admin = context.browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE").new_page()
    login_with_new_totp(admin, app_url, "admin", PASSWORD)
    admin.goto(f"{app_url}/partners")
    settle(admin)
    expect(admin.get_by_text(t("padmin.title")).first).to_be_visible()
    admin.get_by_role("button", name=t("padmin.approve")).click()
    expect(admin.get_by_text(t("padmin.approved"))).to_be_visible()
    admin.context.close()

    link = re.search(r"http\S+/passwort\?token=\S+", welcome_mail(app_data[1], "paul@probst.example")).group(0)
    partner = context.new_page()
    partner.goto(link.replace("http://localhost:8501", app_url))
    settle(partner)
    fill(partner, t("account.new_password"), "Probst-Passwort 1")
    fill(partner, t("account.repeat_password"), "Probst-Passwort 1")
    partner.get_by_role("button", name=t("setpw.submit")).click()
    expect(partner.get_by_text(t("setpw.done", username="glaserei-probst"))).to_be_visible()
    login(partner, app_url, "glaserei-probst", "Probst-Passwort 1")
    expect(partner.get_by_text(t("home.my_orders")).first).to_be_visible()


def welcome_mail(database_url: str, recipient: str) -> str:
    engine = make_engine(database_url)
    with unit_of_work(engine) as s:
        body = s.scalar(select(OutboxMessage.body).where(OutboxMessage.recipient == recipient,
                                                         OutboxMessage.template_key == "partner_approved"))
    engine.dispose()
    return body


def test_a_deep_link_survives_the_login(app_url, context):
    page = context.new_page()
    page.goto(f"{app_url}/profile")
    settle(page)
    expect(page.get_by_text(t("profile.title"))).to_have_count(0)
    fill(page, t("login.username"), "glas1")
    fill(page, t("login.password"), PASSWORD)
    page.get_by_role("button", name=t("login.submit")).click()
    expect(page.get_by_text(t("profile.title")).first).to_be_visible()
    assert page.url.endswith("/profile")
