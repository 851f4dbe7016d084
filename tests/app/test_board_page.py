"""The case board page: the table, the status metrics, filters, paging, export buttons by role."""

from datetime import timedelta

import pytest

from core.enums import CaseStatus, Role
from core.i18n import label, t
from core.timeutil import now
from tests.app.conftest import table_text, texts
from tests.factories import make_case

PAGE = "pages/staff_board.py"


def board(world, role=Role.STAFF):
    at = world.app(role, page=PAGE)
    assert not at.exception, at.exception
    return at


def shown_numbers(at) -> list[str]:
    frame = at.dataframe[0].value
    return [url.rsplit("=", 1)[1] for url in frame[t("col.link")]]


def button(at, key: str):
    return next(b for b in at.button if b.label == t(key))


def metric(at, status: CaseStatus) -> str:
    return next(m.value for m in at.metric if m.label == label(status))


@pytest.mark.parametrize("role", [Role.STAFF, Role.LAWYER, Role.ADMIN, Role.MANAGER])
def test_back_office_sees_every_case_and_the_status_metrics(world, role):
    at = board(world, role)
    assert t("board.title") in texts(at)
    assert world.own_case in table_text(at) and world.foreign_case in table_text(at)
    assert metric(at, CaseStatus.RECEIVED) == "2" and metric(at, CaseStatus.PAID) == "0"
    assert len(at.metric) == len(CaseStatus)


def test_table_shows_the_deadline_traffic_light_and_partner(world):
    at = board(world)
    frame = at.dataframe[0].value
    assert set(frame[t("col.deadline")]) == {t("board.light_ok")}
    assert set(frame[t("field.partner")]) == {"Autoglas Eins", "Autoglas Zwei"}


def test_search_narrows_the_table(world):
    at = board(world)
    at.text_input[0].input("eigen")
    button(at, "board.apply").click()
    at.run()
    assert shown_numbers(at) == [world.own_case]
    assert metric(at, CaseStatus.RECEIVED) == "1"


def test_a_search_with_more_hits_than_counted_says_so(world, monkeypatch):
    from core import board_search

    monkeypatch.setattr(board_search, "COUNT_CAP", 1)
    for _ in range(2):
        make_case(world.engine, last_name="Eigenbrodt")
    at = board(world)
    at.text_input[0].input("eigen")
    button(at, "board.apply").click()
    at.run()
    more = t("board.more_than", count="1")
    assert metric(at, CaseStatus.RECEIVED) == more
    assert t("board.total", count=more) in " ".join(c.value for c in at.caption)


def test_status_filter_with_no_match_shows_the_empty_state(world):
    at = board(world)
    at.multiselect[0].select(CaseStatus.PAID)
    button(at, "board.apply").click()
    at.run()
    assert not at.exception
    assert t("board.empty") in texts(at)
    assert not at.dataframe
    assert metric(at, CaseStatus.RECEIVED) == "2"  # the counts ignore the status filter


def test_paging_forward_and_back(world):
    base = now() - timedelta(days=1)
    for i in range(60):
        make_case(world.engine, received_at=base - timedelta(minutes=i))
    at = board(world)
    first = shown_numbers(at)
    assert len(first) == 50 and button(at, "board.back").disabled
    assert first[:2] == [world.foreign_case, world.own_case]  # newest first
    button(at, "board.next").click()
    at.run()
    second = shown_numbers(at)
    assert len(second) == 12 and not set(first) & set(second)
    assert button(at, "board.next").disabled and t("board.page", page=2) in texts(at)
    button(at, "board.back").click()
    at.run()
    assert shown_numbers(at) == first


def test_new_filters_start_again_on_the_first_page(world):
    for i in range(55):
        make_case(world.engine, received_at=now() - timedelta(hours=1, minutes=i))
    at = board(world)
    button(at, "board.next").click()
    at.run()
    assert t("board.page", page=2) in texts(at)
    at.text_input[0].input("muster")
    button(at, "board.apply").click()
    at.run()
    assert t("board.page", page=1) in texts(at)
    assert len(shown_numbers(at)) == 50


@pytest.mark.parametrize("role", [Role.STAFF, Role.MANAGER])
def test_export_buttons_for_roles_allowed_to_export(world, role):
    at = board(world, role)
    labels = [b.label for b in at.get("download_button")]
    assert labels == [t("board.export_csv"), t("board.export_xlsx")]


def test_each_page_shown_is_logged_once_with_its_case_numbers(world):
    """§10: the board shows clients' names, so a page shown goes into the access log, once, not on every rerun."""
    from sqlalchemy import select

    from db.engine import read_only
    from db.models import AccessLog

    def board_rows():
        with read_only(world.engine) as s:
            return s.execute(select(AccessLog.username, AccessLog.detail)
                             .where(AccessLog.object_type == "board", AccessLog.action == "list")
                             .order_by(AccessLog.id)).all()

    at = board(world)
    at.run()  # a rerun of the same page logs nothing more
    [(username, detail)] = board_rows()
    assert username == "t_staff"
    assert world.own_case in detail and world.foreign_case in detail and "eigen" not in detail.lower()
    at.text_input[0].input("eigen")
    button(at, "board.apply").click()
    at.run()
    assert len(board_rows()) == 2
    assert "text=yes" in board_rows()[-1][1]
