"""The shared claim/lease protocol (core.jobs) on SQLite and PostgreSQL, for both job tables: the mail outbox
(with an owner column) and webhook deliveries (without one)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.enums import OutboxStatus
from core.jobs import LEASE, Claim, backoff, claim_due, claim_of, finish, renew_lease
from core.timeutil import now
from core.webhook_delivery import DELIVERIES
from core.worker import OUTBOX
from db.engine import make_engine, unit_of_work
from db.models import OutboxMessage, Webhook, WebhookDelivery

TABLES = {"outbox": OUTBOX, "deliveries": DELIVERIES}


@pytest.fixture(params=TABLES)
def table(request):
    return TABLES[request.param]


def add_rows(engine, table, n: int, *, due=None) -> list[int]:
    """n pending rows of the table, due at `due` (default: now)."""
    due = due or now()
    with unit_of_work(engine) as s:
        if table.model is OutboxMessage:
            rows = [OutboxMessage(idempotency_key=f"job-{i}", recipient=f"r{i}@example.org", subject="s", body="b",
                                  next_attempt_at=due) for i in range(n)]
        else:
            hook = Webhook(url="http://127.0.0.1:9/hook", secret="x", event_types=["case.created"])
            s.add(hook)
            s.flush()
            rows = [WebhookDelivery(webhook_id=hook.id, event="case.created", payload={"i": i}, next_attempt_at=due)
                    for i in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def claim(engine, table, worker: str, *, limit: int = 10, at=None) -> list:
    with unit_of_work(engine) as s:
        return [claim_of(r, worker) for r in claim_due(s, table, worker_id=worker, limit=limit, at=at or now())]


def row(engine, table, row_id: int):
    with unit_of_work(engine) as s:
        return s.scalar(select(table.model).where(table.model.id == row_id))


def renew(engine, table, c, *, at=None) -> bool:
    with unit_of_work(engine) as s:
        return renew_lease(s, table, c, at=at or now())


def test_two_workers_claiming_at_once_never_get_the_same_row(engine, database_url, table):
    ids = add_rows(engine, table, 24)
    second, start = make_engine(database_url), threading.Barrier(2)

    def work(eng, name):
        start.wait()
        taken = []
        while batch := claim(eng, table, name, limit=2):
            taken += [c.id for c in batch]
        return taken

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(work, [engine, second], ["a", "b"])
    second.dispose()
    assert not set(a) & set(b) and sorted(a + b) == ids


def test_a_claimed_row_is_leased_and_counted_as_an_attempt(engine, table):
    [row_id] = add_rows(engine, table, 1)
    before = now()
    [c] = claim(engine, table, "a")
    claimed = row(engine, table, row_id)
    assert (c.id, c.attempts, claimed.status, claimed.attempts) == (row_id, 1, OutboxStatus.SENDING, 1)
    assert before + LEASE <= claimed.next_attempt_at <= now() + LEASE


def test_the_owner_column_names_the_worker_holding_the_lease(engine):
    [row_id] = add_rows(engine, OUTBOX, 1)
    claim(engine, OUTBOX, "worker-a")
    assert row(engine, OUTBOX, row_id).claimed_by == "worker-a"


def test_a_row_that_is_not_due_yet_is_not_claimed(engine, table):
    add_rows(engine, table, 1, due=now() + timedelta(minutes=5))
    assert claim(engine, table, "a") == []


def test_a_leased_row_is_not_claimed_again_before_its_lease_ends(engine, table):
    add_rows(engine, table, 1)
    claim(engine, table, "a")
    assert claim(engine, table, "b", at=now() + LEASE - timedelta(minutes=1)) == []


def test_a_row_whose_lease_expired_is_taken_over(engine, table):
    [row_id] = add_rows(engine, table, 1)
    claim(engine, table, "dead")
    [c] = claim(engine, table, "b", at=now() + LEASE + timedelta(minutes=1))
    assert (c.id, c.attempts) == (row_id, 2)
    assert finish(engine, table, c, at=now(), max_attempts=8) == "sent"
    done = row(engine, table, row_id)
    assert done.status == OutboxStatus.SENT and getattr(done, table.done_at) is not None


def test_the_old_holder_of_an_expired_lease_can_neither_renew_nor_finish(engine, table):
    [row_id] = add_rows(engine, table, 1)
    [old] = claim(engine, table, "slow")
    claim(engine, table, "b", at=now() + LEASE + timedelta(minutes=1))
    assert renew(engine, table, old) is False
    assert finish(engine, table, old, at=now(), max_attempts=8) == "skipped"
    assert row(engine, table, row_id).status == OutboxStatus.SENDING


def test_the_holder_of_the_lease_can_renew_it(engine, table):
    [row_id] = add_rows(engine, table, 1)
    [c] = claim(engine, table, "a")
    later = now() + timedelta(minutes=5)
    assert renew(engine, table, c, at=later) is True
    assert row(engine, table, row_id).next_attempt_at >= later + LEASE


def test_on_a_table_with_an_owner_another_worker_cannot_use_the_claim(engine):
    add_rows(engine, OUTBOX, 1)
    [c] = claim(engine, OUTBOX, "a")
    assert renew(engine, OUTBOX, Claim(c.id, c.attempts, "b")) is False


def test_a_failure_is_retried_after_the_backoff(engine, table):
    [row_id] = add_rows(engine, table, 1)
    at = now()
    [c] = claim(engine, table, "a", at=at)
    assert finish(engine, table, c, at=at, max_attempts=8, error="boom") == "retrying"
    retried = row(engine, table, row_id)
    assert (retried.status, retried.last_error) == (OutboxStatus.PENDING, "boom")
    assert at + backoff(1) <= retried.next_attempt_at <= now() + backoff(1)
    assert claim(engine, table, "a", at=retried.next_attempt_at - timedelta(seconds=1)) == []
    assert [x.id for x in claim(engine, table, "a", at=retried.next_attempt_at)] == [row_id]


def test_the_last_allowed_attempt_fails_the_row(engine, table):
    [row_id] = add_rows(engine, table, 1)
    at = now()
    [c] = claim(engine, table, "a", at=at)
    finish(engine, table, c, at=at, max_attempts=2, error="boom")
    [c] = claim(engine, table, "a", at=at + timedelta(hours=7))
    assert finish(engine, table, c, at=at + timedelta(hours=7), max_attempts=2, error="boom again") == "failed"
    failed = row(engine, table, row_id)
    assert (failed.status, failed.attempts, failed.last_error) == (OutboxStatus.FAILED, 2, "boom again")
    assert claim(engine, table, "a", at=at + timedelta(days=2)) == []


def test_a_permanent_error_fails_the_row_at_the_first_attempt(engine, table):
    [row_id] = add_rows(engine, table, 1)
    [c] = claim(engine, table, "a")
    assert finish(engine, table, c, at=now(), max_attempts=8, error="refused", permanent=True) == "failed"
    assert row(engine, table, row_id).status == OutboxStatus.FAILED


def test_done_values_are_written_only_when_done(engine):
    first, second = add_rows(engine, OUTBOX, 2)
    a, b = claim(engine, OUTBOX, "a")
    finish(engine, OUTBOX, a, at=now(), max_attempts=8, done_values={"message_id": "<m1>"})
    finish(engine, OUTBOX, b, at=now(), max_attempts=8, error="boom", done_values={"message_id": "<m2>"})
    assert (row(engine, OUTBOX, first).message_id, row(engine, OUTBOX, second).message_id) == ("<m1>", "")
