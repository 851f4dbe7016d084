"""§5 KPIs: every figure equals a plain-Python computation from the definitions, on demo data and on a hand-made
set, for whole weeks, odd days and every filter; the KPI store equals a full recomputation after random changes."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import kpi_store
from core.cases import change_status
from core.correspondence import answer_insurer_query, log_callback, record_insurer_query
from core.enums import CaseStatus, DamageType, PartnerKind, Role
from core.errors import PermissionDenied
from core.kpis import KPI_KEYS, KpiFilter, compute_kpis
from core.lifecycle import allowed_next
from core.permissions import SYSTEM, Actor
from core.timeutil import to_berlin
from db.engine import unit_of_work
from db.models import Assignment, Case, CaseCallback, InsurerQuery, SurveyAnswer, User
from db.seed import seed_demo
from tests.factories import make_case, make_partner

AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
MANAGER = Actor(user_id=None, username="manager", display_name="Manager", role=Role.MANAGER)


def reference(session, flt: KpiFilter, at: datetime) -> dict:
    """§5, read literally, over the raw tables."""
    def in_scope(c: Case) -> bool:
        day = to_berlin(c.received_at).date()
        return (flt.date_from <= day < flt.date_to and c.status != CaseStatus.CANCELLED
                and (flt.damage_type is None or c.damage_type == flt.damage_type)
                and (flt.insurer_id is None or c.insurer_id == flt.insurer_id)
                and (flt.partner_kind is None or (c.partner_kind or "") == flt.partner_kind)
                and (flt.region is None or c.postal_code[:1] == flt.region)
                and (flt.clerk_id is None or c.clerk_id == flt.clerk_id))

    cases = [c for c in session.scalars(select(Case)) if in_scope(c)]
    ids = {c.id for c in cases}
    hours = [(c.claim_letter_sent_at - c.received_at).total_seconds() / 3600 for c in cases if c.claim_letter_sent_at]
    within = sum(1 for c in cases if c.claim_letter_sent_at and c.claim_letter_sent_at - c.received_at <= timedelta(hours=48))
    overdue = sum(1 for c in cases if not c.claim_letter_sent_at and c.received_at + timedelta(hours=48) <= at)
    paid = [c for c in cases if c.paid_at is not None]
    claimed = sum(c.amount_claimed_cents or 0 for c in paid)
    closed = [c for c in cases if c.status == CaseStatus.CLOSED]
    scores = [a.score for a in session.scalars(select(SurveyAnswer)) if a.case_id in ids]
    calls = sum(1 for cb in session.scalars(select(CaseCallback)) if cb.case_id in ids)
    answers = [(q.answered_at - q.received_at).total_seconds() / 3600 for q in session.scalars(select(InsurerQuery))
               if q.case_id in ids and q.answered_at is not None]
    return {
        "cases": len(cases),
        "throughput_hours_median": statistics.median(hours) if hours else None,
        "throughput_hours_p90": (statistics.quantiles(hours, n=10, method="inclusive")[-1] if len(hours) > 1
                                 else hours[0] if hours else None),
        "within_48h_share": within / (len(hours) + overdue) if hours or overdue else None,
        "cut_rate": 1 - sum(c.amount_paid_cents or 0 for c in paid) / claimed if paid and claimed else None,
        "cut_case_share": (sum(1 for c in paid if (c.amount_paid_cents or 0) < (c.amount_claimed_cents or 0)) / len(paid)
                           if paid else None),
        "success_rate": sum(1 for c in closed if (c.amount_paid_cents or 0) > 0) / len(closed) if closed else None,
        "nps": 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores) if scores else None,
        "nps_responses": len(scores),
        "callback_rate": calls / len(cases) if cases else None,
        "query_response_hours_median": statistics.median(answers) if answers else None,
    }


def assert_same(got: dict, want: dict) -> None:
    assert list(got) == list(KPI_KEYS)
    for key in KPI_KEYS:
        assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-12), key


@pytest.fixture
def demo(engine):
    seed_demo(engine, cases=500, seed=11, today=AT.date())
    return engine


PERIODS = [
    (date(2025, 11, 17), date(2026, 11, 16)),  # 52 whole weeks
    (date(2025, 11, 20), date(2026, 11, 21)),  # odd days at both ends
    (date(2026, 10, 1), date(2026, 11, 1)),  # a calendar month
    (date(2026, 11, 18), date(2026, 11, 21)),  # a few days inside one week (48 h not yet passed for some)
    (date(2020, 1, 1), date(2020, 2, 1)),  # nothing in it
]


def test_the_demo_seed_writes_a_store_equal_to_a_full_recomputation(demo):
    with unit_of_work(demo) as s:
        assert kpi_store.verify(s) == []


@pytest.mark.parametrize(("date_from", "date_to"), PERIODS)
def test_every_figure_equals_the_definition_on_demo_data(demo, date_from, date_to):
    flt = KpiFilter(date_from, date_to)
    with unit_of_work(demo) as s:
        assert_same(compute_kpis(s, actor=MANAGER, flt=flt, at=AT), reference(s, flt, AT))


@pytest.mark.parametrize("dim", ["damage_type", "insurer_id", "partner_kind", "region", "clerk_id"])
def test_every_filter_narrows_the_scope_as_the_definition_says(demo, dim):
    with unit_of_work(demo) as s:
        case = s.scalars(select(Case).where(Case.partner_kind.is_not(None), Case.clerk_id.is_not(None))).first()
        value = {"damage_type": str(case.damage_type), "insurer_id": case.insurer_id,
                 "partner_kind": str(case.partner_kind), "region": case.postal_code[:1],
                 "clerk_id": case.clerk_id}[dim]
        for date_from, date_to in PERIODS[:2]:
            flt = KpiFilter(date_from, date_to, **{dim: value})
            got = compute_kpis(s, actor=MANAGER, flt=flt, at=AT)
            assert got["cases"] > 0
            assert_same(got, reference(s, flt, AT))


def test_an_empty_period_gives_zero_cases_and_nulls(demo):
    with unit_of_work(demo) as s:
        got = compute_kpis(s, actor=MANAGER, flt=KpiFilter(date(2020, 1, 1), date(2020, 2, 1)), at=AT)
    assert got["cases"] == 0 and got["nps_responses"] == 0
    assert all(got[k] is None for k in KPI_KEYS if k not in ("cases", "nps_responses"))


def test_partners_brokers_and_staff_may_not_read_kpis(demo):
    with unit_of_work(demo) as s:
        for role in (Role.PARTNER, Role.BROKER, Role.STAFF):
            with pytest.raises(PermissionDenied):
                compute_kpis(s, actor=Actor(user_id=None, role=role, username="x", display_name="x"),
                             flt=KpiFilter(date(2026, 1, 1), date(2026, 2, 1)))


# --- a hand-made set with figures worked out on paper -------------------------------------------------------


def _hand_made(engine) -> None:
    """Four cases received on Monday 2026-11-02 (Berlin), one cancelled:
    letters after 10 h, 30 h and 50 h; paid 900 of 1,000 € and 500 of 500 €; survey 10 and 5; three calls;
    one query answered after 24 h."""
    base = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    numbers = [make_case(engine, received_at=base + timedelta(minutes=i), amount_claimed_cents=c)
               for i, c in enumerate((100_000, 50_000, 70_000, 10_000))]
    with unit_of_work(engine) as s:
        c1, c2, c3, c4 = (s.scalar(select(Case).where(Case.number == n)) for n in numbers)
        for case, hours in ((c1, 10), (c2, 30), (c3, 50)):
            case.claim_letter_sent_at = case.received_at + timedelta(hours=hours)
        c1.status, c1.paid_at, c1.amount_paid_cents = CaseStatus.CLOSED, c1.received_at + timedelta(days=9), 90_000
        c2.status, c2.paid_at, c2.amount_paid_cents = CaseStatus.PAID, c2.received_at + timedelta(days=8), 50_000
        c4.status = CaseStatus.CANCELLED
        s.add_all([SurveyAnswer(case_id=c1.id, score=10), SurveyAnswer(case_id=c2.id, score=5)])
        s.add_all([CaseCallback(case_id=c.id, status_at_call="review") for c in (c1, c1, c3)])
        s.add(InsurerQuery(case_id=c3.id, subject="Foto", received_at=c3.received_at + timedelta(days=3),
                           answered_at=c3.received_at + timedelta(days=4)))


def test_a_hand_made_set_gives_the_figures_worked_out_on_paper(engine):
    _hand_made(engine)
    with unit_of_work(engine) as s:
        got = compute_kpis(s, actor=MANAGER, flt=KpiFilter(date(2026, 11, 1), date(2026, 11, 8)), at=AT)
    assert got == {
        "cases": 3, "throughput_hours_median": 30.0,
        "throughput_hours_p90": 46.0,  # (30·2 + 50·8) / 10: 90 % of the way from the 2nd to the 3rd value
        "within_48h_share": 2 / 3, "cut_rate": pytest.approx(1 - 140_000 / 150_000), "cut_case_share": 0.5,
        "success_rate": 1.0, "nps": 0.0, "nps_responses": 2, "callback_rate": 1.0,
        "query_response_hours_median": 24.0,
    }


# --- the store equals a full recomputation ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_the_kpi_store_equals_a_full_recomputation_after_random_changes(engine, seed):
    rng = random.Random(seed)
    partners = [make_partner(engine, f"Betrieb {i}", kind) for i, kind in enumerate(PartnerKind)]
    numbers = [make_case(engine, received_at=AT - timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 23)),
                         amount_claimed_cents=rng.choice((None, 40_000, 125_000)))
               for _ in range(12)]
    with unit_of_work(engine) as s:
        clerks = [s.scalar(select(User.id).where(User.role == Role.STAFF))]
    for step in range(60):
        number = rng.choice(numbers)
        try:
            _random_change(engine, rng, step, number, partners, clerks)
        except _Abort:
            pass  # a failed action leaves the store as it was
        if step % 15 == 14:
            with unit_of_work(engine) as s:
                assert kpi_store.verify(s) == []
    with unit_of_work(engine) as s:
        assert kpi_store.verify(s) == []


class _Abort(Exception):
    pass


def _random_change(engine, rng, step, number, partners, clerks) -> None:
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        move = rng.choice(("status", "status", "callback", "query", "survey", "clerk", "order", "decline",
                           "region", "payment"))
        if move == "status" and allowed_next(case.status):
            to = rng.choice(allowed_next(case.status))
            change_status(s, actor=SYSTEM, number=number, to=to, amount_paid_cents=rng.choice((0, 30_000)),
                          reason="Test", send_mails=False)
        elif move == "callback":
            log_callback(s, actor=SYSTEM, number=number, caller="client")
        elif move == "query" and case.status == CaseStatus.CLAIM_SENT:
            q = record_insurer_query(s, actor=SYSTEM, number=number, subject=f"Frage {step}")
            if rng.random() < 0.7:
                answer_insurer_query(s, actor=SYSTEM, number=number, query_id=q.id)
        elif move == "survey" and s.scalar(select(SurveyAnswer).where(SurveyAnswer.case_id == case.id)) is None:
            s.add(SurveyAnswer(case_id=case.id, score=rng.randint(0, 10)))
        elif move == "clerk":
            case.clerk_id = rng.choice([*clerks, None])
        elif move == "order":
            case.partner_kind = rng.choice(list(PartnerKind))
            s.add(Assignment(case_id=case.id, partner_id=rng.choice(partners), iso_week=f"2026-W{rng.randint(40, 47)}",
                             origin="override", reason="Test", candidates=[]))
        elif move == "decline":
            a = s.scalars(select(Assignment).where(Assignment.case_id == case.id)).first()
            if a is not None:
                a.declined_at = None if a.declined_at else AT
        elif move == "region":
            case.postal_code = rng.choice(("10115", "80331", "20095"))
        elif move == "payment" and case.paid_at is not None:
            case.amount_paid_cents = rng.choice((0, 10_000, 40_000))
        if rng.random() < 0.1:
            raise _Abort


def test_a_damage_type_change_moves_the_case_to_another_cell(engine):
    number = make_case(engine, received_at=AT - timedelta(days=3))
    with unit_of_work(engine) as s:
        s.scalar(select(Case).where(Case.number == number)).damage_type = DamageType.ACCIDENT
    with unit_of_work(engine) as s:
        assert kpi_store.verify(s) == []
        only_accident = KpiFilter(date(2026, 11, 1), date(2026, 11, 30), damage_type="accident")
        assert compute_kpis(s, actor=MANAGER, flt=only_accident, at=AT)["cases"] == 1


def test_kpis_over_purged_cases_stay_the_same(engine, settings):
    from core.retention import purge

    seed_demo(engine, cases=300, seed=5, today=date(2023, 6, 30))
    flt = KpiFilter(date(2022, 6, 1), date(2023, 7, 1))
    with unit_of_work(engine) as s:
        before = compute_kpis(s, actor=MANAGER, flt=flt, at=AT)
    with Session(engine, expire_on_commit=False) as s:  # the purge commits once per batch itself
        report = purge(s, actor=SYSTEM, settings=settings, at=AT)
    with unit_of_work(engine) as s:
        assert s.scalar(select(Case.plate).where(Case.closed_at.is_not(None)).limit(1)) == ""  # really purged
        assert compute_kpis(s, actor=MANAGER, flt=flt, at=AT) == before
        assert kpi_store.verify(s) == []
    assert report.changed > 0


def test_the_store_hook_is_installed_by_the_case_services():
    import subprocess
    import sys

    code = "import sys, core.cases; sys.exit(0 if 'core.kpi_store' in sys.modules else 1)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_chart_tables_follow_the_same_definitions(demo):
    from core import kpi_series

    flt = KpiFilter(date(2025, 11, 20), date(2026, 11, 21))  # odd days at both ends
    with unit_of_work(demo) as s:
        board = kpi_series.dashboard(s, actor=MANAGER, flt=flt, at=AT)
        assert board.current == compute_kpis(s, actor=MANAGER, flt=flt, at=AT)
        assert board.previous == compute_kpis(s, actor=MANAGER, flt=flt.previous(), at=AT)
        assert board.weeks == kpi_series.weekly(s, actor=MANAGER, flt=flt, at=AT)
        assert board.insurers == kpi_series.by_insurer(s, actor=MANAGER, flt=flt)
        assert board.stages == kpi_series.callbacks_by_stage(s, actor=MANAGER, flt=flt)
        for row in board.weeks[1:-1:7]:  # whole weeks inside the period
            assert_same(row.figures, reference(s, KpiFilter(row.week, row.week + timedelta(days=7)), AT))
        first = board.weeks[0]  # the partial first week: only its days inside the period
        assert_same(first.figures, reference(s, KpiFilter(flt.date_from, first.week + timedelta(days=7)), AT))
        insurer = board.insurers[0]
        ref = reference(s, KpiFilter(flt.date_from, flt.date_to, insurer_id=insurer.insurer_id), AT)
        assert (insurer.cases, insurer.cut_rate, insurer.success_rate) == (
            ref["cases"], pytest.approx(ref["cut_rate"]), pytest.approx(ref["success_rate"]))
        assert sum(n for _, n in board.histogram) == sum(1 for c in s.scalars(select(Case)) if c.claim_letter_sent_at
                                                          and c.status != CaseStatus.CANCELLED
                                                          and flt.date_from <= to_berlin(c.received_at).date() < flt.date_to)


@pytest.mark.parametrize("dims", [{}, {"damage_type": "glass"}, {"partner_kind": "glass"}, {"region": "8"},
                                  {"damage_type": "accident", "region": "1"},
                                  {"damage_type": "accident", "partner_kind": "appraiser"}])
def test_every_week_follows_the_definition_with_no_one_or_two_filters(demo, dims):
    """Whole weeks with no filter or one come from kpi_buckets' running sums, with two from the facts rows;
    the partial weeks at the edges always from the facts rows: each week equals the definition."""
    from core import kpi_series

    flt = KpiFilter(date(2025, 12, 3), date(2026, 11, 21), **dims)
    with unit_of_work(demo) as s:
        rows = kpi_series.weekly(s, actor=MANAGER, flt=flt, at=AT)
        assert sum(r.figures["cases"] for r in rows) > 0
        board = kpi_series.dashboard(s, actor=MANAGER, flt=flt, at=AT)  # reuses the weekly counts for the period
        assert board.weeks == rows
        assert_same(board.current, reference(s, flt, AT))
        for row in rows:
            days = KpiFilter(max(row.week, flt.date_from), min(row.week + timedelta(days=7), flt.date_to), **dims)
            assert_same(row.figures, reference(s, days, AT))


def test_a_filter_that_narrows_no_further_reads_the_stored_buckets_until_a_case_breaks_the_rule(demo):
    """Only appraisers take accidents in the demo data: "accident + appraiser" is the scope of one of the two
    filters, read from its kpi_buckets rows; once an accident goes to a workshop and a glass case to an appraiser,
    each filter narrows the other and the facts rows are read. Both ways every figure equals the definition."""
    from core import kpi_series
    from core.kpis import plan

    flt = KpiFilter(date(2025, 11, 17), date(2026, 11, 16), damage_type="accident", partner_kind="appraiser")
    with unit_of_work(demo) as s:
        assert plan(s, flt).stored in {("damage_type", "accident"), ("partner_kind", "appraiser")}
        assert plan(s, KpiFilter(flt.date_from, flt.date_to, damage_type="accident", region="1")).stored is None
        assert_same(compute_kpis(s, actor=MANAGER, flt=flt, at=AT), reference(s, flt, AT))
        stored_weeks = kpi_series.weekly(s, actor=MANAGER, flt=flt, at=AT)
        accident, glass = (s.scalars(select(Case).where(Case.damage_type == kind, Case.received_at > datetime(
            2026, 6, 1, tzinfo=UTC), Case.status != CaseStatus.CANCELLED, Case.claim_letter_sent_at.is_not(None))
                           .order_by(Case.id)).first() for kind in ("accident", "glass"))
        accident.partner_kind, glass.partner_kind = PartnerKind.WORKSHOP, PartnerKind.APPRAISER
    with unit_of_work(demo) as s:
        assert plan(s, flt).stored is None
        assert_same(compute_kpis(s, actor=MANAGER, flt=flt, at=AT), reference(s, flt, AT))
        weeks = kpi_series.weekly(s, actor=MANAGER, flt=flt, at=AT)
        assert [w.figures["cases"] for w in weeks] != [w.figures["cases"] for w in stored_weeks]
        for row in weeks[::9]:
            days = KpiFilter(row.week, row.week + timedelta(days=7), damage_type="accident", partner_kind="appraiser")
            assert_same(row.figures, reference(s, days, AT))


def test_partner_weeks_count_the_orders_not_declined(demo):
    from core import kpi_series

    flt = KpiFilter(date(2026, 9, 7), date(2026, 11, 2))
    with unit_of_work(demo) as s:
        rows = kpi_series.partner_weeks(s, actor=MANAGER, flt=flt)
        counted = {(r.iso_week, r.partner_id): r.orders for r in rows}
        for a in s.scalars(select(Assignment).where(Assignment.declined_at.is_(None))):
            if (a.iso_week, a.partner_id) in counted:
                counted[(a.iso_week, a.partner_id)] -= 1
        assert set(counted.values()) == {0}
        spread = kpi_series.fairness(s, actor=MANAGER, flt=flt)
        assert all(r.spread == r.max_orders - r.min_orders >= 0 for r in spread)
        assert {r.iso_week for r in spread} == {r.iso_week for r in rows}
