"""The board page takes its first filters from the address (/board?insurer=3&from=…&to=…), as the KPI
dashboard links there."""

from datetime import date, timedelta

from sqlalchemy import select

from core.enums import CaseStatus, Role
from core.i18n import t
from core.timeutil import now, to_berlin
from db.engine import read_only
from db.models import Insurer
from tests.app.conftest import table_text, texts

PAGE = "pages/staff_board.py"


def board_at(world, params: dict[str, str], role=Role.STAFF):
    at = world.app(role)
    at.query_params.update(params)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def total(at) -> int:
    return sum(int(m.value.replace(".", "")) for m in at.metric)


def test_a_period_in_the_address_filters_the_board_and_fills_the_date_fields(world):
    at = board_at(world, {"from": "2020-01-06", "to": "2020-01-13"})
    assert t("board.empty") in texts(at)
    assert total(at) == 0
    fields = {d.label: d.value for d in at.date_input}
    assert fields == {t("board.received_from"): date(2020, 1, 6), t("board.received_to"): date(2020, 1, 12)}


def test_the_period_of_today_shows_todays_cases(world):
    today = to_berlin(now()).date()
    at = board_at(world, {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()})
    assert world.own_case in table_text(at) and world.foreign_case in table_text(at)


def test_insurer_and_region_in_the_address_preselect_their_fields(world):
    with read_only(world.engine) as s:
        huk = s.scalar(select(Insurer.id).where(Insurer.name == "HUK-COBURG"))
    at = board_at(world, {"insurer": str(huk), "region": "1", "status": "received,review"})
    assert next(s for s in at.selectbox if s.label == t("board.insurer")).value == huk
    assert next(s for s in at.selectbox if s.label == t("board.region")).value == "1"
    assert at.multiselect[0].value == [CaseStatus.RECEIVED, CaseStatus.REVIEW]
    assert world.own_case in table_text(at)


def test_a_region_without_cases_empties_the_board(world):
    at = board_at(world, {"region": "9"})
    assert t("board.empty") in texts(at)


def test_bad_values_in_the_address_are_named_and_ignored(world):
    at = board_at(world, {"region": "x", "insurer": "999", "from": "gestern"})
    assert [w.value for w in at.warning] == [t("board.url_ignored", names="region, from, insurer")]
    assert world.own_case in table_text(at)


def test_the_board_without_parameters_is_unchanged(world):
    at = board_at(world, {})
    assert not at.warning
    assert all(d.value is None for d in at.date_input)
    assert world.own_case in table_text(at) and world.foreign_case in table_text(at)


def test_an_end_before_the_start_entered_in_the_form_is_a_german_message(world):
    at = board_at(world, {})
    fields = {d.label: d for d in at.date_input}
    fields[t("board.received_from")].set_value(date(2026, 5, 10))
    fields[t("board.received_to")].set_value(date(2026, 5, 1))
    next(b for b in at.button if b.label == t("board.apply")).click()
    at.run()
    assert [e.value for e in at.error] == [t("board.period_order")]
