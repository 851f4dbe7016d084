"""Zugriffsprotokoll: admins read the access log filtered and paged, export it; reading is logged."""

from datetime import timedelta

from sqlalchemy import select

from core.enums import Role
from core.i18n import t
from core.timeutil import now
from db.engine import unit_of_work
from db.models import AccessLog
from tests.app.conftest import texts

PAGE = "pages/admin_access_log.py"


def add_rows(world, n: int, **fields) -> None:
    with unit_of_work(world.engine) as s:
        for i in range(n):
            s.add(AccessLog(**{"at": now() - timedelta(minutes=i + 1), "username": "t_staff", "role": "staff",
                               "action": "view", "object_type": "case", "object_ref": world.own_case,
                               "ip": "192.0.2.1", "detail": ""} | fields))


def shown(at, column: str) -> list[str]:
    return list(at.dataframe[0].value[t(column)])


def button(at, key: str):
    return next(b for b in at.button if b.label == t(key))


def test_admin_sees_the_newest_entries_first(world):
    add_rows(world, 2)
    add_rows(world, 1, username="t_lawyer", role="lawyer", object_ref=world.foreign_case)
    at = world.app(Role.ADMIN, page=PAGE)
    assert not at.exception, at.exception
    assert t("alog.title") in texts(at)
    assert shown(at, "alog.col_user") == ["t_lawyer", "t_staff", "t_staff"]
    assert shown(at, "alog.col_action") == [t("alog.action_view")] * 3
    assert shown(at, "alog.col_ip")[0] == "192.0.2.1"


def test_filter_by_case_number(world):
    add_rows(world, 2)
    add_rows(world, 1, object_ref=world.foreign_case)
    at = world.app(Role.ADMIN, page=PAGE)
    at.text_input(key="alog_ref").input(world.foreign_case.lower()).run()
    assert shown(at, "alog.col_ref") == [world.foreign_case]


def test_filter_by_user_and_action(world):
    add_rows(world, 2)
    add_rows(world, 1, action="download", object_type="document", object_ref="1")
    at = world.app(Role.ADMIN, page=PAGE)
    at.text_input(key="alog_user").input("t_staff").run()
    at.selectbox(key="alog_action").set_value("download").run()
    assert shown(at, "alog.col_action") == [t("alog.action_download")]


def test_nothing_found_says_so(world):
    at = world.app(Role.ADMIN, page=PAGE)
    at.text_input(key="alog_user").input("niemand").run()
    assert t("alog.empty") in texts(at)


def test_end_before_start_is_named(world):
    at = world.app(Role.ADMIN, page=PAGE)
    at.date_input(key="alog_to").set_value(now().date() - timedelta(days=30)).run()
    assert [e.value for e in at.error] == [t("alog.period_order")]


def test_pages_forward_and_back(world):
    add_rows(world, 60)
    at = world.app(Role.ADMIN, page=PAGE)
    assert len(at.dataframe[0].value) == 50
    assert button(at, "board.back").disabled and not button(at, "board.next").disabled
    button(at, "board.next").click().run()
    assert len(at.dataframe[0].value) >= 10  # the 60 rows and the viewer's own entries
    button(at, "board.back").click().run()
    assert len(at.dataframe[0].value) == 50


def test_opening_the_viewer_is_logged(world):
    world.app(Role.ADMIN, page=PAGE)
    with unit_of_work(world.engine) as s:
        rows = s.execute(select(AccessLog.username, AccessLog.action).where(AccessLog.object_type == "access_log")).all()
    assert ("t_admin", "view") in rows


def test_export_buttons_are_offered(world):
    add_rows(world, 1)
    at = world.app(Role.ADMIN, page=PAGE)
    assert [b.proto.label for b in at.get("download_button")] == [t("alog.export_csv"), t("alog.export_xlsx")]
