"""Structured logs: one JSON object per line on stderr (for journald, Docker, a log shipper).

- `schadenportal.actions`: one line per user action (page run or button), with user, role, case number (if
  any), action name, duration and outcome (ok / refused / error). Nothing else about the person: no names,
  no e-mail addresses, no form input, never a password.
- `schadenportal.worker`: one line per worker round that did something (and every failed round).
Level from LOG_LEVEL (default INFO).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

from core.errors import SchadenportalError

ACTIONS = logging.getLogger("schadenportal.actions")
WORKER = logging.getLogger("schadenportal.worker")
OK, REFUSED, ERROR = "ok", "refused", "error"
_FIELDS = "sp_fields"  # the LogRecord attribute that carries a line's structured fields
_HANDLER_MARK = "_schadenportal_json"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC, ISO 8601), level, logger, message and its structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(record, _FIELDS, {}),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_level(env: Mapping[str, str] | None = None) -> int:
    """The level named by LOG_LEVEL (DEBUG, INFO, WARNING, ERROR); INFO when unset or unknown."""
    name = (os.environ if env is None else env).get("LOG_LEVEL", "INFO").strip().upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def configure_logging(level: int | None = None) -> None:
    """JSON lines on stderr for the app's loggers (`core` and `schadenportal`); safe to call on every rerun.
    They still propagate, so a root handler (pytest's caplog) sees them too; the root logger gets none."""
    level = log_level() if level is None else level
    for name in ("core", "schadenportal"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(getattr(h, _HANDLER_MARK, False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(JsonFormatter())
            setattr(handler, _HANDLER_MARK, True)
            logger.addHandler(handler)


def outcome_of(exc: BaseException | None) -> str:
    """ok without an exception; refused for the product's own refusals (permission, validation, not found);
    error for anything else."""
    if exc is None:
        return OK
    return REFUSED if isinstance(exc, SchadenportalError) else ERROR


def log_action(*, user: str, role: str, action: str, duration_ms: float, outcome: str, case: str = "") -> None:
    """Write the one line of a user action."""
    fields = {"user": user, "role": role, "case": case or None, "action": action,
              "duration_ms": round(duration_ms, 1), "outcome": outcome}
    level = logging.ERROR if outcome == ERROR else logging.INFO
    ACTIONS.log(level, "action %s %s", action, outcome, extra={_FIELDS: fields})


@contextmanager
def timed_action(*, user: str, role: str, action: str, case: str = "",
                 passthrough: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Time the block and log it as one action; its exception decides the outcome and is raised again.
    Exceptions of a `passthrough` type (e.g. Streamlit's rerun) count as ok."""
    start = time.perf_counter()
    outcome = OK
    try:
        yield
    except passthrough:
        raise
    except BaseException as exc:
        outcome = outcome_of(exc)
        raise
    finally:
        log_action(user=user, role=role, action=action, case=case, outcome=outcome,
                   duration_ms=(time.perf_counter() - start) * 1000)


def log_round(*, worker_id: str, duration_ms: float, outcome: str, counts: Mapping[str, int], error: str = "") -> None:
    """Write the line of one worker round: INFO when it did something or failed, DEBUG when idle."""
    busy = outcome != OK or any(counts.values())
    fields = {"worker_id": worker_id, "duration_ms": round(duration_ms, 1), "outcome": outcome, **counts}
    if error:
        fields["error"] = error
    WORKER.log(logging.ERROR if outcome == ERROR else logging.INFO if busy else logging.DEBUG,
               "worker round %s", outcome, extra={_FIELDS: fields})
