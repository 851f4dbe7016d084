"""The short version of the load and fault test (tests/load/run_load.py) for CI: a few Chromium sessions against
two replicas behind nginx on a private PostgreSQL while one replica is killed with SIGKILL, and the intake burst
on SQLite. The full run (25 sessions, 5 minutes, every fault) is on demand; see README "Load and fault tests"."""

import pytest

from tests.load.run_load import run, table

pytestmark = pytest.mark.e2e


def test_replicas_under_load_survive_a_killed_replica():
    result = run(sessions=5, minutes=0.35, faults=["kill"])
    print(table(result))
    assert len(result.faults) == 1 and "kill -9 replica" in result.faults[0]
    assert result.stats.errors == []
    assert len(result.stats.intakes) >= 3
    failed = {name: detail for name, (ok, detail) in result.checks.items() if not ok}
    assert failed == {}
    assert set(result.checks) >= {"every session worked after the faults", "each intake exactly once",
                                  "no half-written case", "event chains intact",
                                  "assignments fair (weekly spread <= 1)", "mails: nothing lost, nothing doubled"}


def test_sqlite_intake_burst_shows_no_database_is_locked():
    result = run(sessions=6, minutes=0.2, faults=[], sqlite=True)
    print(table(result))
    assert result.stats.errors == []
    assert result.stats.locked_seen == 0
    assert len(result.stats.intakes) >= 6
    failed = {name: detail for name, (ok, detail) in result.checks.items() if not ok}
    assert failed == {}
