"""Fallchroniken: the admin page builds a ZIP of chronicle PDFs; the case page offers one case's chronicle."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.enums import CaseStatus, Role
from core.i18n import t
from core.timeutil import now
from db.engine import unit_of_work
from db.models import AccessLog
from tests.app.conftest import texts
from tests.factories import make_case

PAGE = "pages/admin_chronicles.py"


def chronicle_exports(world) -> list[tuple[str, str]]:
    with unit_of_work(world.engine) as s:
        rows = s.execute(select(AccessLog.username, AccessLog.object_ref)
                         .where(AccessLog.object_type == "chronicle", AccessLog.action == "export")
                         .order_by(AccessLog.id))
        return [tuple(r) for r in rows]


def build_button(at):
    return next(b for b in at.button if b.label == t("chron.build"))


def download_labels(at) -> list[str]:
    return [d.proto.label for d in at.get("download_button")]


def pasted(world, numbers: str):
    at = world.app(Role.ADMIN, page=PAGE)
    at.radio(key="chron_mode").set_value("list").run()
    at.text_area(key="chron_numbers").input(numbers).run()
    return at


def test_filter_counts_the_cases_received_in_the_last_30_days(world):
    make_case(world.engine, received_at=now() - timedelta(days=60))
    at = world.app(Role.ADMIN, page=PAGE)
    assert not at.exception
    assert t("chron.selected", n=2) in texts(at)  # the world's own and foreign case, not the old one


def test_filter_by_status_narrows_the_selection(world):
    at = world.app(Role.ADMIN, page=PAGE)
    at.multiselect(key="chron_statuses").set_value([CaseStatus.CLOSED]).run()
    assert t("chron.selected", n=0) in texts(at)
    assert build_button(at).disabled


def test_zip_from_the_filter_is_built_logged_and_offered(world):
    at = world.app(Role.ADMIN, page=PAGE)
    build_button(at).click().run()
    assert not at.exception
    assert t("chron.built", n=2) in texts(at)
    assert download_labels(at) == [t("chron.zip_download")]
    assert sorted(ref for _, ref in chronicle_exports(world)) == sorted([world.own_case, world.foreign_case])


def test_progress_bar_ends_at_the_total(world):
    at = world.app(Role.ADMIN, page=PAGE)
    build_button(at).click().run()
    bars = at.get("progress")
    assert [bar.proto.text for bar in bars] == [t("chron.progress", done=2, total=2)]


def test_pasted_numbers_build_a_zip_of_those_cases(world):
    at = pasted(world, f"{world.own_case.lower()}\n")
    assert t("chron.selected", n=1) in texts(at)
    build_button(at).click().run()
    assert t("chron.built", n=1) in texts(at)
    assert chronicle_exports(world) == [("t_admin", world.own_case)]


def test_an_unknown_pasted_number_is_a_clear_error_and_nothing_is_built(world):
    at = pasted(world, f"{world.own_case}, SP-1999-000001")
    build_button(at).click().run()
    assert [e.value for e in at.error] == [t("chron.unknown", numbers="SP-1999-000001")]
    assert download_labels(at) == []
    assert chronicle_exports(world) == []


def test_a_changed_selection_drops_the_old_zip(world):
    at = pasted(world, world.own_case)
    build_button(at).click().run()
    at.text_area(key="chron_numbers").input(world.foreign_case).run()
    assert download_labels(at) == []


def test_a_range_ending_before_it_starts_is_refused(world):
    at = world.app(Role.ADMIN, page=PAGE)
    start = at.date_input(key="chron_from").value
    at.date_input(key="chron_to").set_value(start - timedelta(days=1)).run()
    assert [e.value for e in at.error] == [t("chron.range_invalid")]
    assert build_button(at).disabled


# --- the case page's button --------------------------------------------------------------------


def case_page(world, role):
    at = world.app(role, page="pages/case_view.py")
    at.query_params["nr"] = world.own_case
    at.run()
    return at


@pytest.mark.parametrize("role", [Role.ADMIN, Role.STAFF, Role.LAWYER])
def test_case_page_offers_the_chronicle_to_the_back_office(world, role):
    at = case_page(world, role)
    assert not at.exception
    assert t("chron.download") in download_labels(at)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.PARTNER, Role.BROKER])
def test_case_page_offers_no_chronicle_to_others(world, role):
    at = case_page(world, role)
    assert not at.exception
    assert t("chron.download") not in download_labels(at)


def test_showing_the_button_exports_nothing(world):
    case_page(world, Role.STAFF)
    assert chronicle_exports(world) == []
