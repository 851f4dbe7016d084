"""Kennzahlen in a real browser: a manager sees the figures and charts with their tables and exports; a partner
neither finds the page in the menu nor gets it by its address."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from core.enums import Role
from core.i18n import t
from core.kpi_views import Preset, preset_period
from core.permissions import SYSTEM
from core.timeutil import format_date, now, to_berlin
from core.users import create_user
from db.engine import make_engine, unit_of_work
from db.models import User
from reports.kpi_tables import FIGURES
from tests.e2e.browser import (
    choose,
    login,
    login_with_new_totp,
    settle,
    wait_for_login_cookie,
)
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e

MANAGER = "e2e_manager_kpi"
TILES = [t(label_key) for label_key, _, _ in FIGURES.values()]
CHARTS = "[data-testid='stPlotlyChart'] .js-plotly-plot"


@pytest.fixture(scope="module", autouse=True)
def served(app_url, browser) -> None:
    """The first script run after the server start imports the app; on a busy machine it takes longer than the
    5 s an `expect` waits in `settle`, so wait for it once here."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(app_url)
    expect(page.locator("[data-testid='stApp'][data-test-script-state='notRunning']")).to_have_count(1,
                                                                                                 timeout=60_000)
    ctx.close()


def scope_of(preset: Preset) -> str:
    """The caption naming the period of `preset` and the period before it."""
    start, end = preset_period(preset, to_berlin(now()).date())
    before = start - (end - start)
    return t("kpi.scope", start=format_date(start), end=format_date(end - timedelta(days=1)),
             prev_start=format_date(before), prev_end=format_date(start - timedelta(days=1)))


def fresh_manager(url: str) -> None:
    """A manager login without TOTP yet (the demo `manager` may have been enrolled by another test)."""
    engine = make_engine(url)
    try:
        with unit_of_work(engine) as s:
            if s.scalar(select(User).where(User.username == MANAGER)) is None:
                create_user(s, actor=SYSTEM, username=MANAGER, display_name="E2E Manager", email="",
                            role=Role.MANAGER, password=PASSWORD)
    finally:
        engine.dispose()


def test_manager_sees_figures_charts_and_a_table_with_csv_export(app_url, app_data, context):
    fresh_manager(app_data[1])
    page = context.new_page()
    login_with_new_totp(page, app_url, MANAGER, PASSWORD)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=t("nav.kpis")).click()
    settle(page)
    expect(page.get_by_role("heading", name=t("kpi.title"))).to_be_visible()

    choose(page, t("kpi.period"), t("kpi.preset.last_52_weeks"))  # the demo data spans the last 52 weeks
    settle(page)
    expect(page.get_by_text(scope_of(Preset.LAST_52_WEEKS))).to_be_visible()
    expect(page.get_by_test_id("stMetricLabel")).to_have_text(TILES)  # one tile per figure, in order
    charts = page.locator(CHARTS)
    expect(charts.nth(4)).to_be_visible()  # at least five charts drawn
    expect(charts.first.locator(".main-svg").first).to_be_visible()

    table = page.get_by_test_id("stExpander").filter(has_text=t("kpi.table")).first
    table.get_by_text(t("kpi.table")).click()
    expect(table.get_by_test_id("stDataFrame")).to_be_visible()
    expect(table.get_by_role("button", name=t("kpi.export_csv"))).to_be_visible()


def test_partner_has_no_kpi_link_and_the_address_does_not_open_the_figures(app_url, context):
    page = context.new_page()
    login(page, app_url, "glas1", PASSWORD)
    wait_for_login_cookie(page)
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name=t("nav.account"))).to_be_visible()
    expect(nav.get_by_role("link", name=t("nav.kpis"))).to_have_count(0)

    page.goto(f"{app_url}/kpis")
    settle(page)
    # the page is not registered for a partner: Streamlit says so and runs the partner's start page instead
    expect(page.get_by_role("dialog").get_by_text("Page not found")).to_be_visible()
    expect(page.get_by_text(t("home.my_orders")).first).to_be_visible()
    expect(page.get_by_role("heading", name=t("kpi.title"))).to_have_count(0)
    expect(page.get_by_test_id("stMetric").filter(has_text=t("kpi.throughput_median"))).to_have_count(0)
    expect(page.locator(CHARTS)).to_have_count(0)
