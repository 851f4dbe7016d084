"""core.logs: the JSON line format, outcomes, the LOG_LEVEL setting and the worker's round lines."""

import json
import logging
from contextlib import nullcontext

import pytest

from core import cases, logs
from core.errors import PermissionDenied, ValidationError
from core.ui.activity import action_name


def formatted(caplog, logger: str) -> list[dict]:
    return [json.loads(logs.JsonFormatter().format(r)) for r in caplog.records if r.name == logger]


@pytest.mark.parametrize(("exc", "outcome"), [
    (None, "ok"), (ValidationError("x"), "refused"), (PermissionDenied("x"), "refused"), (RuntimeError("x"), "error"),
])
def test_timed_action_logs_the_outcome_its_exception_decides(caplog, exc, outcome):
    caplog.set_level(logging.INFO, logger="schadenportal.actions")
    expect = pytest.raises(type(exc)) if exc else nullcontext()
    with expect, logs.timed_action(user="staff", role="staff", action="cases.change_status", case="SP-2026-000001"):
        if exc:
            raise exc
    [line] = formatted(caplog, "schadenportal.actions")
    assert {k: line[k] for k in ("user", "role", "case", "action", "outcome")} == {
        "user": "staff", "role": "staff", "case": "SP-2026-000001", "action": "cases.change_status", "outcome": outcome}
    assert line["level"] == ("ERROR" if outcome == "error" else "INFO") and line["duration_ms"] >= 0


def test_a_passthrough_exception_counts_as_ok(caplog):
    caplog.set_level(logging.INFO, logger="schadenportal.actions")
    with pytest.raises(KeyboardInterrupt), logs.timed_action(user="u", role="admin", action="a",
                                                              passthrough=(KeyboardInterrupt,)):
        raise KeyboardInterrupt
    assert [x["outcome"] for x in formatted(caplog, "schadenportal.actions")] == ["ok"]


def test_the_json_line_is_one_line_with_time_level_logger_and_message():
    record = logging.LogRecord("schadenportal.actions", logging.INFO, __file__, 1, "zeile\nzwei %s", ("ä",), None)
    text = logs.JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["msg"] == "zeile\nzwei ä" and line["level"] == "INFO" and line["ts"].endswith("+00:00")


@pytest.mark.parametrize(("value", "level"), [("debug", logging.DEBUG), ("WARNING", logging.WARNING),
                                              ("", logging.INFO), ("quatsch", logging.INFO)])
def test_log_level_comes_from_LOG_LEVEL(value, level):
    assert logs.log_level({"LOG_LEVEL": value}) == level


def test_a_worker_round_that_did_something_is_an_info_line_an_idle_one_debug(caplog):
    caplog.set_level(logging.DEBUG, logger="schadenportal.worker")
    logs.log_round(worker_id="h:1", duration_ms=12.34, outcome="ok", counts={"claimed": 2, "sent": 2})
    logs.log_round(worker_id="h:1", duration_ms=1, outcome="ok", counts={"claimed": 0, "sent": 0})
    busy, idle = formatted(caplog, "schadenportal.worker")
    assert (busy["level"], busy["sent"], busy["duration_ms"], busy["worker_id"]) == ("INFO", 2, 12.3, "h:1")
    assert idle["level"] == "DEBUG"


def test_configure_logging_adds_its_handler_once():
    logs.configure_logging(logging.INFO)
    logs.configure_logging(logging.INFO)
    marked = [h for h in logging.getLogger("schadenportal").handlers if getattr(h, "_schadenportal_json", False)]
    assert len(marked) == 1 and isinstance(marked[0].formatter, logs.JsonFormatter)


def resend(session, *, actor):  # a plain function, as a page would import one
    return None


def test_action_names_come_from_the_service_a_button_calls():
    number = "SP-1"
    assert action_name(lambda s: cases.change_status(s, number=number)) == "cases.change_status"
    assert action_name(lambda s: resend(s, actor=None)) == "tests.unit.test_logs.resend"
    assert action_name(resend) == "tests.unit.test_logs.resend"
