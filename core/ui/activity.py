"""One JSON log line per user action (core.logs, logger `schadenportal.actions`): every page run (app.py) and
every button action (widgets.act). Who (username, role), which case (the page's `nr`), what, how long, and the
outcome. Nothing typed into a form is logged; public pages log the page only (their link tokens never)."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from core import logs

ACTOR_KEY = "sp_actor"  # the logged-in Actor in session_state (set by app.py; core.ui.navigation re-exports it)
_run = threading.local()  # per script run (each run is one thread): did guard() refuse?
_CONTROL = (RerunException, StopException)  # st.rerun / st.switch_page / st.stop: control flow, not failure


def _who() -> tuple[str, str]:
    actor = st.session_state.get(ACTOR_KEY)
    return (actor.username, str(actor.role)) if actor is not None else ("-", "visitor")


def case_number() -> str:
    """The case the page is about (the case page's `?nr=`), else ""; capped, it is user input."""
    return str(st.query_params.get("nr", "")).strip().upper()[:40]


def mark_refused() -> None:
    """Called by guard() when it refuses the page: this run's line says `refused`."""
    _run.refused = True


def action_name(action: Callable) -> str:
    """A short name of what a button runs: for `lambda s: cases.change_status(…)` "cases.change_status", for
    `lambda s: resend(…)` the called function's module and name."""
    code, scope = getattr(action, "__code__", None), getattr(action, "__globals__", {})
    if code is None or getattr(action, "__name__", "") != "<lambda>":
        return f"{getattr(action, '__module__', '') or ''}.{getattr(action, '__qualname__', 'action')}".lstrip(".")
    names = code.co_names
    first = scope.get(names[0]) if names else None
    if isinstance(first, types.ModuleType) and len(names) > 1:
        first = getattr(first, names[1], None)
    if callable(first):
        module = (getattr(first, "__module__", "") or "").removeprefix("core.")
        return f"{module}.{getattr(first, '__name__', 'action')}".lstrip(".")
    return "action"


@contextmanager
def logged_action(name: str) -> Iterator[None]:
    """Log the block as one action; Streamlit's rerun/stop count as ok."""
    user, role = _who()
    with logs.timed_action(user=user, role=role, action=name, case=case_number(), passthrough=_CONTROL):
        yield


@contextmanager
def logged_page_run(url_path: str) -> Iterator[None]:
    """Log one run of a page (a page view or the rerun after a click): refused when guard() refused it.
    Everything is read from Streamlit before the page runs: after st.stop() no Streamlit call is safe."""
    user, role, case = *_who(), case_number()
    _run.refused = False
    start = time.perf_counter()
    outcome = logs.OK
    try:
        yield
    except _CONTROL:
        outcome = logs.REFUSED if _run.refused else logs.OK
        raise
    except BaseException as exc:
        outcome = logs.outcome_of(exc)
        raise
    finally:
        logs.log_action(user=user, role=role, action=f"page:{url_path or 'start'}", case=case, outcome=outcome,
                        duration_ms=(time.perf_counter() - start) * 1000)
