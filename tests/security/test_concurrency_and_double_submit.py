"""Many writers at once and the same request twice, on SQLite and PostgreSQL.

16 threads change the same few cases: no update is lost, no "database is locked" reaches anyone, every event
chain stays intact. A double click (the same request with the same form data twice) changes a case once and
queues one mail. The one-case status race is in tests/integration/test_concurrency.py.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from core import cases, correspondence
from core.enums import CaseStatus, DamageType, Role
from core.errors import ConflictError, TransitionError
from core.events import verify_chain
from core.permissions import Actor
from core.timeutil import now, to_berlin
from db.engine import unit_of_work
from db.models import CaseCallback, CaseEvent, OutboxMessage

THREADS, ROUNDS, CASES = 16, 10, 4
STAFF = Actor(user_id=None, username="clerk", display_name="Clerk", role=Role.STAFF)


def new_case(engine, name="Muster") -> str:
    with unit_of_work(engine) as s:
        return cases.create_case(s, actor=STAFF, data=cases.NewCase(
            damage_type=DamageType.GLASS, insurer_name="HUK-COBURG", client_last_name=name, postal_code="10115",
            client_email=f"{name.lower()}@example.org", amount_claimed_cents=50_000)).number


def test_sixteen_threads_on_the_same_cases_lose_no_update_and_keep_every_chain(engine):
    numbers = [new_case(engine, f"Kunde{i}") for i in range(CASES)]

    def work(thread: int) -> list[str]:
        outcomes = []
        for r in range(ROUNDS):
            number = numbers[(thread + r) % CASES]
            try:
                with unit_of_work(engine) as s:  # read-then-write: the callback count and amount depend on reads
                    correspondence.log_callback(s, actor=STAFF, number=number, caller="client")
                    case = cases.get_case(s, number=number)
                    case.amount_claimed_cents = (case.amount_claimed_cents or 0) + 1
                outcomes.append("ok")
            except Exception as exc:  # noqa: BLE001 - any error, above all "database is locked", fails the test
                outcomes.append(f"{type(exc).__name__}: {exc}")
        return outcomes

    with ThreadPoolExecutor(THREADS) as pool:
        results = [o for chunk in pool.map(work, range(THREADS)) for o in chunk]
    assert results == ["ok"] * (THREADS * ROUNDS)
    with unit_of_work(engine) as s:
        for number in numbers:
            case = cases.get_case(s, number=number)
            calls = s.scalar(select(func.count()).select_from(CaseCallback).where(CaseCallback.case_id == case.id))
            assert case.amount_claimed_cents - 50_000 == calls == THREADS * ROUNDS // CASES
            assert verify_chain(s, case=case).ok
            seqs = s.scalars(select(CaseEvent.seq).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
            assert seqs == list(range(1, len(seqs) + 1))


def _state(engine, number):
    with unit_of_work(engine) as s:
        case = cases.get_case(s, number=number)
        changes = s.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.action == "status_changed"))
        mails = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.case_id == case.id))
        return case.status, case.version, changes, mails


@pytest.mark.parametrize(("path", "reason"), [
    ([CaseStatus.REVIEW], ""),
    ([CaseStatus.CANCELLED], "Kunde hat zurückgezogen"),
    ([CaseStatus.REVIEW, CaseStatus.CLAIM_SENT, CaseStatus.CLOSED], "Versicherung lehnt endgültig ab"),
])
def test_the_same_status_change_sent_twice_changes_the_case_once_and_mails_once(engine, path, reason):
    number = new_case(engine)
    for step in path[:-1]:
        with unit_of_work(engine) as s:
            cases.change_status(s, actor=STAFF, number=number, to=step)
    _status, version, changes, mails = _state(engine, number)

    def submit():  # what the page sends: the target, the reason and the version it showed
        with unit_of_work(engine) as s:
            cases.change_status(s, actor=STAFF, number=number, to=path[-1], reason=reason, expected_version=version)

    submit()
    with pytest.raises(ConflictError):
        submit()
    after = _state(engine, number)
    assert after[0] == path[-1] and after[2] == changes + 1
    assert after[3] == mails + 1  # one status mail to the client, not two


def test_a_double_click_arriving_at_the_same_moment_changes_the_case_once(engine):
    number = new_case(engine)
    _status, version, changes, mails = _state(engine, number)

    def submit(_):
        try:
            with unit_of_work(engine) as s:
                cases.change_status(s, actor=STAFF, number=number, to=CaseStatus.CANCELLED, reason="doppelt",
                                    expected_version=version)
            return "ok"
        except (ConflictError, TransitionError):
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(submit, range(8)))
    assert sorted(results) == ["ok"] + ["refused"] * 7
    status, _version, after_changes, after_mails = _state(engine, number)
    assert (status, after_changes, after_mails) == (CaseStatus.CANCELLED, changes + 1, mails + 1)


def test_the_same_payment_sent_twice_is_recorded_once(engine):
    number = new_case(engine)
    for step in (CaseStatus.REVIEW, CaseStatus.CLAIM_SENT):
        with unit_of_work(engine) as s:
            cases.change_status(s, actor=STAFF, number=number, to=step)
    _status, version, changes, mails = _state(engine, number)

    def pay():
        with unit_of_work(engine) as s:
            correspondence.record_payment(s, actor=STAFF, number=number, amount_paid_cents=40_000,
                                          paid_on=to_berlin(now()).date(), expected_version=version)

    pay()
    with pytest.raises(ConflictError):
        pay()
    status, _v, after_changes, after_mails = _state(engine, number)
    assert (status, after_changes, after_mails) == (CaseStatus.PAID, changes + 1, mails + 1)
