"""Structured action logs: one JSON line per user action (logger schadenportal.actions) with user, role, case
number, action, duration and outcome — and nothing typed into the page."""

import json
import logging

import pytest
from streamlit.testing.v1 import AppTest

from core.enums import Role
from core.i18n import t
from core.logs import JsonFormatter
from tests.app.conftest import TIMEOUT

FIELDS = {"ts", "level", "logger", "msg", "user", "role", "case", "action", "duration_ms", "outcome"}


@pytest.fixture
def action_lines(caplog):
    """The action lines logged during the test, each as the JSON object the formatter writes."""
    caplog.set_level(logging.INFO, logger="schadenportal.actions")

    def lines() -> list[dict]:
        formatter = JsonFormatter()
        return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "schadenportal.actions"]

    return lines


def test_a_button_on_the_case_page_writes_one_line_with_user_role_case_and_outcome(world, action_lines):
    at = world.app(Role.STAFF, page="pages/case_view.py")
    at.query_params["nr"] = world.own_case
    at.run()
    before = len(action_lines())
    next(b for b in at.button if b.label == t("callback.log")).click()
    at.run()
    assert not at.exception and t("callback.logged") in [s.value for s in at.success]
    [line] = [x for x in action_lines()[before:] if not x["action"].startswith("page:")]
    assert set(line) == FIELDS
    assert (line["user"], line["role"], line["case"], line["action"], line["outcome"]) == (
        "t_staff", "staff", world.own_case, "correspondence.log_callback", "ok")
    assert isinstance(line["duration_ms"], float) and 0 < line["duration_ms"] < 60_000
    assert line["logger"] == "schadenportal.actions" and line["level"] == "INFO"


def test_every_page_run_is_one_line_named_after_the_page(world, action_lines):
    world.app(Role.ADMIN, page="pages/admin_outbox.py")
    pages = [(x["action"], x["user"], x["outcome"], x["case"]) for x in action_lines()]
    assert pages[-1] == ("page:outbox", "t_admin", "ok", None)


def open_case(world, role):
    at = world.app(role, page="pages/case_view.py")
    at.query_params["nr"] = world.own_case
    at.run()
    return at


def add_task(at, title: str):
    next(ti for ti in at.text_input if ti.label == t("tasks.new")).input(title)
    next(b for b in at.button if b.label == t("tasks.add")).click()
    at.run()


def test_an_action_the_service_refuses_is_logged_as_refused(world, action_lines):
    at = open_case(world, Role.LAWYER)
    add_task(at, "")  # a task needs a title
    assert at.error  # the German refusal is shown
    [line] = [x for x in action_lines() if x["action"] == "tasks.add_task"]
    assert (line["outcome"], line["user"], line["role"], line["case"]) == ("refused", "t_lawyer", "lawyer",
                                                                           world.own_case)


def test_what_the_user_typed_never_reaches_the_log(world, action_lines):
    at = open_case(world, Role.STAFF)
    add_task(at, "Rückruf Frau Eigen wegen Mietwagen 0171-5550123")
    assert t("tasks.added") in [x.value for x in at.success]
    lines = action_lines()
    assert [x["outcome"] for x in lines if x["action"] == "tasks.add_task"] == ["ok"]
    assert "Eigen" not in json.dumps(lines) and "0171" not in json.dumps(lines)


def _refused_page(user_id: int) -> None:
    import streamlit as st

    from core.enums import Role
    from core.permissions import Action, Actor
    from core.ui.activity import ACTOR_KEY, logged_page_run
    from core.ui.navigation import guard

    st.session_state[ACTOR_KEY] = Actor(user_id=user_id, username="t_partner", display_name="P", role=Role.PARTNER)
    with logged_page_run("users"):
        guard(Action.MANAGE_USERS)


def test_a_page_run_that_guard_refuses_is_logged_as_refused(world, action_lines):
    at = AppTest.from_function(_refused_page, args=(world.users[Role.PARTNER],), default_timeout=TIMEOUT)
    at.run()
    assert [e.value for e in at.error] == [t("app.refused")]
    assert [(x["action"], x["user"], x["role"], x["outcome"]) for x in action_lines()] == [
        ("page:users", "t_partner", "partner", "refused")]
