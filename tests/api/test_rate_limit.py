"""core.rate_limit on SQLite and PostgreSQL: one atomic count per request, fixed windows, across connections."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.rate_limit import hit, window_start
from db.engine import unit_of_work
from db.models import RateCounter

AT = datetime(2026, 12, 4, 10, 0, 20, tzinfo=UTC)


def one(engine, *, bucket="api_key:1", limit=5, at=AT):
    with unit_of_work(engine) as s:
        return hit(s, bucket=bucket, limit=limit, at=at)


def stored(engine, bucket="api_key:1"):
    with unit_of_work(engine) as s:
        row = s.scalar(select(RateCounter).where(RateCounter.bucket == bucket))
        return row.window_start, row.count


def test_windows_are_whole_minutes():
    assert window_start(AT) == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def test_requests_beyond_the_limit_are_refused_until_the_next_window(engine):
    decisions = [one(engine) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert decisions[5].retry_after_s == 40
    assert one(engine, at=AT + timedelta(seconds=40)).allowed
    assert stored(engine) == (datetime(2026, 12, 4, 10, 1, tzinfo=UTC), 1)


def test_each_bucket_counts_for_itself(engine):
    for _ in range(5):
        one(engine, bucket="api_key:1")
    assert one(engine, bucket="api_key:2").allowed
    assert not one(engine, bucket="api_key:1").allowed


def test_a_process_with_a_lagging_clock_does_not_move_the_window_back(engine):
    one(engine, at=AT + timedelta(minutes=1))
    one(engine, at=AT)  # another process, its clock a minute behind
    assert stored(engine) == (datetime(2026, 12, 4, 10, 1, tzinfo=UTC), 2)


def test_concurrent_requests_on_separate_connections_are_all_counted(engine):
    errors: list[BaseException] = []

    def client():
        try:
            for _ in range(10):
                one(engine, limit=1000)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert stored(engine)[1] == 60
