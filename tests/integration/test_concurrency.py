"""16 threads doing read-then-write transactions lose nothing and never see "database is locked"."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from core import cases
from core.enums import CaseStatus, Role
from core.errors import TransitionError
from core.events import verify_chain
from core.permissions import Actor
from db.engine import unit_of_work
from db.models import Case, CaseEvent, Counter
from tests.factories import make_case

THREADS, PER_THREAD = 16, 25
STAFF = Actor(user_id=None, username="clerk", display_name="Clerk", role=Role.STAFF)


def test_parallel_case_numbers_are_unique_and_none_lost(engine):
    def worker(_):
        got = []
        for _ in range(PER_THREAD):
            got.append(make_case(engine))
        return got

    with ThreadPoolExecutor(THREADS) as pool:
        numbers = [n for chunk in pool.map(worker, range(THREADS)) for n in chunk]
    assert len(numbers) == len(set(numbers)) == THREADS * PER_THREAD
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.max(Counter.value))) == THREADS * PER_THREAD
        assert s.scalar(select(func.count()).select_from(Case)) == THREADS * PER_THREAD


def test_parallel_status_changes_on_one_case_keep_the_chain(engine):
    """Each thread reads the status, then moves it one step on; refusals are clean, nothing is lost."""
    number = make_case(engine)
    step = {CaseStatus.RECEIVED: CaseStatus.REVIEW, CaseStatus.REVIEW: CaseStatus.CLAIM_SENT,
            CaseStatus.CLAIM_SENT: CaseStatus.INSURER_QUERY, CaseStatus.INSURER_QUERY: CaseStatus.CLAIM_SENT}

    def advance(_):
        try:
            with unit_of_work(engine) as s:
                current = cases.get_case(s, number=number).status
                cases.change_status(s, actor=STAFF, number=number, to=step[current])
            return "ok"
        except TransitionError:  # someone else moved it between our read and our lock (PostgreSQL)
            return "refused"

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(advance, range(THREADS * 2)))
    with unit_of_work(engine) as s:
        case = cases.get_case(s, number=number)
        seqs = s.scalars(select(CaseEvent.seq).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
        chain_ok = verify_chain(s, case=case).ok
    assert set(results) <= {"ok", "refused"}
    assert seqs == list(range(1, results.count("ok") + 2))
    assert chain_ok
    if engine.dialect.name == "sqlite":  # BEGIN IMMEDIATE: every read is already inside the write lock
        assert results.count("ok") == THREADS * 2
