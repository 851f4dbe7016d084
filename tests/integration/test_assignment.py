"""Fair assignment (§7) on SQLite and PostgreSQL: fewest orders this week, ties, capacity, pause, region,
and many intakes in parallel never differ by more than one."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core.assignment import assign_partner, candidates
from core.enums import PartnerKind, Role
from core.permissions import Actor
from core.timeutil import iso_week
from db.engine import unit_of_work
from db.models import Assignment, Case, Partner
from tests.factories import make_case

SYSTEM_STAFF = Actor(user_id=None, username="s", display_name="S", role=Role.STAFF)
AT = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday


def partner(engine, name, *, regions="10", capacity=10, paused=False, active=True, kind=PartnerKind.GLASS,
            last=None) -> int:
    with unit_of_work(engine) as s:
        p = Partner(name=name, kind=kind, regions=regions, weekly_capacity=capacity, paused=paused,
                    is_active=active, last_assigned_at=last)
        s.add(p)
        s.flush()
        return p.id


def assign(engine, number, at=AT):
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        result = assign_partner(s, actor=SYSTEM_STAFF, case=case, at=at)
        return None if result is None else result.partner_id


def test_fewest_orders_this_week_wins(engine):
    a, b = partner(engine, "A"), partner(engine, "B")
    first = assign(engine, make_case(engine))
    second = assign(engine, make_case(engine))
    assert {first, second} == {a, b}


def test_tie_goes_to_least_recently_assigned_then_lowest_id(engine):
    a = partner(engine, "A", last=AT - timedelta(hours=1))
    b = partner(engine, "B", last=AT - timedelta(days=2))
    c = partner(engine, "C", last=AT - timedelta(days=2))
    assert assign(engine, make_case(engine)) == b
    assert assign(engine, make_case(engine)) == c
    assert assign(engine, make_case(engine)) == a


def test_capacity_pause_activity_region_and_kind(engine):
    full = partner(engine, "Voll", capacity=0)
    partner(engine, "Pause", paused=True)
    partner(engine, "Inaktiv", active=False)
    partner(engine, "Anderswo", regions="80,81")
    partner(engine, "Werkstatt", kind=PartnerKind.WORKSHOP)
    ok = partner(engine, "Passt", regions="09, 10")
    assert assign(engine, make_case(engine)) == ok
    assert full != ok


def test_no_eligible_partner_leaves_the_case_unassigned(engine):
    partner(engine, "Anderswo", regions="80")
    number = make_case(engine)
    assert assign(engine, number) is None
    with unit_of_work(engine) as s:
        assert s.scalar(select(Case.partner_id).where(Case.number == number)) is None


def test_reason_and_candidates_are_stored(engine):
    partner(engine, "A")
    partner(engine, "B")
    assign(engine, make_case(engine))
    with unit_of_work(engine) as s:
        row = s.scalars(select(Assignment)).one()
        assert [c["count"] for c in row.candidates] == [0, 0]
        assert row.iso_week == iso_week(AT) and "wenigsten" in row.reason


def test_last_weeks_orders_do_not_count(engine):
    a, b = partner(engine, "A"), partner(engine, "B")
    last_week = iso_week(AT - timedelta(days=7))
    for number in [make_case(engine) for _ in range(3)]:
        with unit_of_work(engine) as s:
            case_id = s.scalar(select(Case.id).where(Case.number == number))
            s.add(Assignment(case_id=case_id, partner_id=b, iso_week=last_week, origin="auto"))
    with unit_of_work(engine) as s:
        ranked = candidates(s, kind=PartnerKind.GLASS, postal_code="10115", at=AT)
    assert [(c.partner_id, c.count) for c in ranked] == [(a, 0), (b, 0)]


def test_parallel_intakes_stay_fair(engine):
    ids = [partner(engine, f"P{i}", capacity=100) for i in range(4)]
    numbers = [make_case(engine) for _ in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: assign(engine, n), numbers))
    with unit_of_work(engine) as s:
        counts = dict(s.execute(select(Assignment.partner_id, func.count()).group_by(Assignment.partner_id)).all())
    assert sum(counts.values()) == 40
    assert max(counts.get(i, 0) for i in ids) - min(counts.get(i, 0) for i in ids) <= 1


def partner_actor(pid: int) -> Actor:
    return Actor(user_id=None, username=f"p{pid}", display_name=f"P{pid}", role=Role.PARTNER, partner_id=pid)


def case_partner(engine, number):
    with unit_of_work(engine) as s:
        return s.scalar(select(Case.partner_id).where(Case.number == number))


def test_decline_moves_the_order_to_the_next_partner(engine):
    from core.assignment import decline_order

    a, b = partner(engine, "A"), partner(engine, "B")
    number = make_case(engine)
    first = assign(engine, number, at=None)
    with unit_of_work(engine) as s:
        decline_order(s, actor=partner_actor(first), number=number, reason="Urlaub")
    assert case_partner(engine, number) == ({a, b} - {first}).pop()


def test_decline_needs_a_reason_and_only_the_own_order(engine):
    import pytest

    from core.assignment import decline_order
    from core.errors import NotFound, ValidationError

    a, b = partner(engine, "A"), partner(engine, "B")
    number = make_case(engine)
    first = assign(engine, number, at=None)
    with pytest.raises(ValidationError), unit_of_work(engine) as s:
        decline_order(s, actor=partner_actor(first), number=number, reason=" ")
    other = ({a, b} - {first}).pop()
    with pytest.raises(NotFound):
        with unit_of_work(engine) as s:
            decline_order(s, actor=partner_actor(other), number=number, reason="nicht meins")
    assert case_partner(engine, number) == first


def test_accepted_order_cannot_be_declined(engine):
    import pytest

    from core.assignment import accept_order, decline_order
    from core.errors import ValidationError

    partner(engine, "A")
    number = make_case(engine)
    pid = assign(engine, number, at=None)
    with unit_of_work(engine) as s:
        accept_order(s, actor=partner_actor(pid), number=number)
    with pytest.raises(ValidationError, match="angenommen"):
        with unit_of_work(engine) as s:
            decline_order(s, actor=partner_actor(pid), number=number, reason="doch nicht")


def test_staff_override_with_reason(engine):
    import pytest

    from core.assignment import override_assignment
    from core.errors import ValidationError

    a, b = partner(engine, "A"), partner(engine, "B")
    number = make_case(engine)
    first = assign(engine, number, at=None)
    other = ({a, b} - {first}).pop()
    with pytest.raises(ValidationError):
        with unit_of_work(engine) as s:
            override_assignment(s, actor=SYSTEM_STAFF, number=number, partner_id=other, reason="")
    with unit_of_work(engine) as s:
        override_assignment(s, actor=SYSTEM_STAFF, number=number, partner_id=other, reason="Kunde wünscht es")
    assert case_partner(engine, number) == other


def test_weekly_quota_against_the_network_average(engine):
    from core.assignment import weekly_quota

    a, b = partner(engine, "A"), partner(engine, "B")
    partner(engine, "W", kind=PartnerKind.WORKSHOP)
    for _ in range(3):
        assign(engine, make_case(engine))
    with unit_of_work(engine) as s:
        qa = weekly_quota(s, actor=partner_actor(a), at=AT)
        qb = weekly_quota(s, actor=partner_actor(b), at=AT)
    assert (qa.own + qb.own, qa.average, qa.partners) == (3, 1.5, 2)
    assert {qa.own, qb.own} == {1, 2}
