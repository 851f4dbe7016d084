"""The KPI dashboard page on seeded demo data: the figures against the previous period, the charts with their
tables, export buttons and board links, the empty state, the filters, and the refusal for other roles."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import auth, board_address
from core.enums import Role
from core.i18n import t
from core.kpi_views import Preset, board_filter, preset_period, week_narrowing
from core.kpis import KpiFilter, compute_kpis
from core.permissions import Actor
from core.settings import ROOT, Settings
from core.timeutil import now, to_berlin
from core.ui.auth import SESSION_KEY
from core.ui.navigation import ACTOR_KEY
from db.engine import read_only, unit_of_work
from db.seed import seed_demo
from reports.kpi_tables import fmt
from tests.app.conftest import TIMEOUT, app_database, texts
from tests.factories import make_case, make_user

PAGE = "pages/manager_kpis.py"
CHARTS = 9


@dataclass
class Seeded:
    engine: object
    settings: Settings
    users: dict[Role, int]

    def app(self, role: Role) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        with unit_of_work(self.engine) as s:
            info = auth.create_session(s, user_id=self.users[role], settings=self.settings)
        at.session_state[SESSION_KEY] = info.session_id
        at.run()
        at.switch_page(PAGE)
        at.run()
        assert not at.exception, at.exception
        return at

    def figures(self, **dims) -> dict:
        """The §5 figures of the page's default period (the last 13 weeks) from core."""
        start, end = preset_period(Preset.LAST_13_WEEKS, to_berlin(now()).date())
        actor = Actor(user_id=None, username="x", display_name="x", role=Role.MANAGER)
        with read_only(self.engine) as s:
            return compute_kpis(s, actor=actor, flt=KpiFilter(start, end, **dims))


@pytest.fixture
def seeded(tmp_path, monkeypatch) -> Seeded:
    engine = app_database(tmp_path, monkeypatch)
    seed_demo(engine, cases=300, seed=5)
    users = {Role.MANAGER: make_user(engine, "t_manager", Role.MANAGER),
             Role.ADMIN: make_user(engine, "t_admin", Role.ADMIN)}
    yield Seeded(engine, Settings.load(), users)
    engine.dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


def metric(at: AppTest, key: str) -> str:
    return next(m.value for m in at.metric if m.label == t(key))


def specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_manager_and_admin_see_the_figures_of_the_last_13_weeks(seeded, role):
    at = seeded.app(role)
    want = seeded.figures()
    assert t("kpi.title") in texts(at)
    assert len(at.metric) == 11
    assert metric(at, "kpi.cases") == fmt(want["cases"], "count")
    assert metric(at, "kpi.within_48h") == fmt(want["within_48h_share"], "share")
    assert metric(at, "kpi.throughput_median") == fmt(want["throughput_hours_median"], "hours")


def test_figures_show_the_change_against_the_previous_period(seeded):
    at = seeded.app(Role.MANAGER)
    cases = next(m for m in at.metric if m.label == t("kpi.cases"))
    assert cases.proto.delta.startswith(("+", "-", "±"))


def test_every_chart_is_drawn_with_the_48_hour_line_on_the_distribution(seeded):
    at = seeded.app(Role.MANAGER)
    drawn = specs(at)
    assert len(drawn) == CHARTS
    histogram = drawn[0]
    assert histogram["data"][0]["type"] == "bar"
    assert [(shape["x0"], shape["x1"]) for shape in histogram["layout"]["shapes"]] == [(48, 48)]
    assert [trace["name"] for trace in drawn[1]["data"]] == [t("kpi.throughput_median"), t("kpi.throughput_p90"),
                                                             t("kpi.within_48h")]


def test_every_chart_has_its_table_with_csv_and_excel_export(seeded):
    at = seeded.app(Role.MANAGER)
    labels = [b.label for b in at.get("download_button")]
    assert labels.count(t("kpi.export_csv")) == CHARTS
    assert labels.count(t("kpi.export_xlsx")) == CHARTS
    assert len([e for e in at.expander if e.label == t("kpi.table")]) == CHARTS


def test_the_monthly_report_can_be_downloaded(seeded):
    at = seeded.app(Role.MANAGER)
    assert t("kpi.report_download") in [b.label for b in at.get("download_button")]
    assert at.selectbox(key="kpi_report_month").value == date(*_previous_month())


def _previous_month() -> tuple[int, int, int]:
    today = to_berlin(now()).date()
    return (today.year - 1, 12, 1) if today.month == 1 else (today.year, today.month - 1, 1)


def test_week_table_rows_link_to_the_board_with_that_week(seeded):
    at = seeded.app(Role.MANAGER)
    weekly = at.dataframe[1].value  # the weekly throughput table
    start, end = preset_period(Preset.LAST_13_WEEKS, to_berlin(now()).date())
    first_monday = weekly[t("kpi.col_week_start")].iloc[0]
    assert weekly[t("kpi.col_link")].iloc[0] == board_address.board_url(
        board_filter(KpiFilter(start, end), week_narrowing(first_monday)))


def test_a_filter_changes_the_numbers(seeded):
    at = seeded.app(Role.MANAGER)
    before = metric(at, "kpi.cases")
    at.selectbox(key="kpi_region").set_value("1")
    at.run()
    assert not at.exception, at.exception
    want = fmt(seeded.figures(region="1")["cases"], "count")
    assert metric(at, "kpi.cases") == want
    assert want != before


def test_a_period_without_cases_shows_the_empty_state(seeded):
    at = seeded.app(Role.MANAGER)
    at.selectbox(key="kpi_preset").set_value(Preset.CUSTOM)
    at.run()
    at.date_input(key="kpi_from").set_value(date(2010, 1, 1))
    at.date_input(key="kpi_to").set_value(date(2010, 1, 31))
    at.run()
    assert not at.exception, at.exception
    assert t("kpi.empty") in texts(at)
    assert not at.error
    assert not at.get("plotly_chart") and not at.metric


def test_an_end_before_the_start_is_a_german_message(seeded):
    at = seeded.app(Role.MANAGER)
    at.selectbox(key="kpi_preset").set_value(Preset.CUSTOM)
    at.run()
    at.date_input(key="kpi_from").set_value(date(2026, 5, 1))
    at.date_input(key="kpi_to").set_value(date(2026, 4, 1))
    at.run()
    assert [e.value for e in at.error] == [t("kpi.period_order")]


def test_a_rerun_with_the_same_filters_is_served_from_the_cache(seeded):
    at = seeded.app(Role.MANAGER)
    before = metric(at, "kpi.cases")
    make_case(seeded.engine)  # received now: inside the last 13 weeks
    at.run()
    assert metric(at, "kpi.cases") == before


@pytest.mark.parametrize("role", [Role.STAFF, Role.PARTNER, Role.BROKER])
def test_other_roles_are_refused(world, role):
    page = AppTest.from_file(str(ROOT / PAGE), default_timeout=TIMEOUT)
    page.session_state[ACTOR_KEY] = Actor(user_id=world.users[role], username="x", display_name="x", role=role,
                                          partner_id=world.partner_id)
    page.run()
    assert [e.value for e in page.error] == [t("app.refused")]
    assert not page.metric and not page.get("plotly_chart")
