"""In real Chromium: user text with markup is shown as text and runs nothing; forged login cookies log nobody in.

Every payload sets `window.__xss` if it ever runs. (A cookie copied before logout: tests/e2e/test_login.py.)
"""

from __future__ import annotations

import time
from datetime import date

import jwt
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core import cases, documents, notes
from core.enums import DamageType, DocumentKind, NoteVisibility
from core.i18n import t
from core.permissions import SYSTEM
from core.settings import DEMO_COOKIE_KEY, Settings
from core.timeutil import iso_week, now
from db.engine import make_engine, unit_of_work
from db.migrate import upgrade_to_head
from db.models import Assignment, User
from db.seed import seed_demo
from tests.e2e.browser import login, settle, wait_for_login_cookie
from tests.e2e.conftest import PASSWORD, running_app
from tests.unit.test_upload_validation import make_image

pytestmark = pytest.mark.e2e

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
SVG = "<svg onload=window.__xss=1>"
LINK = "[hier klicken](javascript:window.__xss=1)"
FILE_NAME = "<img src=x onerror=window.__xss=1>.png"


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """The app over demo logins and one order of glas1 whose every free-text field carries a payload."""
    data = tmp_path_factory.mktemp("xss")
    url = f"sqlite:///{data / 'xss.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    seed_demo(engine, cases=3, seed=3, password=PASSWORD, today=date.today())
    settings = Settings.load(env={"DATABASE_URL": url, "DATA_DIR": str(data)}, secrets_path=data / "none.toml")
    with unit_of_work(engine) as s:
        partner_id = s.scalar(select(User.partner_id).where(User.username == "glas1"))
        case = cases.create_case(s, actor=SYSTEM, data=cases.NewCase(
            damage_type=DamageType.GLASS, insurer_name=f"Versicherung {SVG}", client_last_name=f"Muster{IMG}",
            client_first_name=SCRIPT, postal_code="10115", incident_description=f"{LINK} {SCRIPT} {SVG}"))
        case.partner_id = partner_id
        s.add(Assignment(case_id=case.id, partner_id=partner_id, iso_week=iso_week(now()), origin="override",
                         reason=f"Grund {IMG}", candidates=[], assigned_at=now(), accepted_at=now()))
        s.flush()
        notes.add_note(s, actor=SYSTEM, number=case.number, visibility=NoteVisibility.TECHNICAL,
                       body=f"Notiz {IMG} {LINK}")
        documents.upload_document(s, actor=SYSTEM, settings=settings, case_number=case.number,
                                  kind=DocumentKind.PHOTO, filename=FILE_NAME, data=make_image("PNG"))
        number = case.number
    engine.dispose()
    with running_app(data, url) as base:
        yield base, number


def assert_nothing_ran(page) -> None:
    assert page.evaluate("window.__xss") is None
    for selector in ("img[onerror]", "svg[onload]", "script:text('window.__xss')", "a[href^='javascript']"):
        assert page.locator(selector).count() == 0, selector


def test_markup_in_case_fields_notes_and_file_names_is_shown_as_text_and_runs_nothing(hostile_app, context):
    base, number = hostile_app
    page = context.new_page()
    login(page, base, "glas1", PASSWORD)
    expect(page.get_by_text(t("home.my_orders")).first).to_be_visible()
    assert_nothing_ran(page)  # the start page lists the order with the client's name
    wait_for_login_cookie(page)
    page.goto(f"{base}/case?nr={number}")
    settle(page)
    expect(page.get_by_text(t("case.title", number=number)).first).to_be_visible()
    text = ""
    for tab in page.get_by_role("tab").all():  # every tab of the case page (only the open one is visible)
        tab.click()
        time.sleep(0.3)
        text += page.locator("[data-testid='stMain']").text_content()  # also what tables hold for screen readers
        assert_nothing_ran(page)
    assert f"Muster{IMG}" in text, text  # the client's name, shown literally
    assert f"Notiz {IMG} {LINK}" in text  # the note, neither HTML nor Markdown
    assert FILE_NAME in text  # the file name
    assert "<script>window.__xss=1</script>" in text or "&lt;script" in page.content()
    assert_nothing_ran(page)


@pytest.mark.parametrize("key", ["geheim", "schadenportal", DEMO_COOKIE_KEY], ids=["guessed", "name", "demo key"])
def test_a_forged_login_cookie_logs_nobody_in(hostile_app, browser, key):
    """Signed with a guessed key, or even with the (demo) key itself: without a live server session it is refused."""
    base, _number = hostile_app
    forged = jwt.encode({"username": "admin", "exp_date": time.time() + 3600}, key, algorithm="HS256")
    ctx = browser.new_context(locale="de-DE")
    ctx.add_cookies([{"name": "schadenportal_auth", "value": forged, "url": base}])
    page = ctx.new_page()
    page.goto(f"{base}/users")
    settle(page)
    expect(page.get_by_label(t("login.username")).first).to_be_visible()
    expect(page.get_by_role("button", name=t("app.logout"))).to_have_count(0)
    ctx.close()
