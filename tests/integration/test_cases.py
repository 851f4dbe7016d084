"""Cases on SQLite and PostgreSQL: status changes through the transition table, events, scope, access log."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from core import cases
from core.enums import CaseStatus as S
from core.enums import Role
from core.errors import (
    ConflictError,
    NotFound,
    PermissionDenied,
    TransitionError,
    ValidationError,
)
from core.events import verify_chain
from core.permissions import Actor
from core.timeutil import now
from db.engine import unit_of_work
from db.models import AccessLog, Case, CaseEvent
from tests.factories import make_broker, make_case, make_partner, make_user

STAFF = Actor(user_id=None, username="clerk", display_name="Clara Clerk", role=Role.STAFF)


def move(engine, number, to, actor=STAFF, **kw):
    with unit_of_work(engine) as s:
        return cases.change_status(s, actor=actor, number=number, to=to, **kw).status


def test_case_number_format_and_sequence(engine):
    first, second = make_case(engine), make_case(engine)
    assert first.startswith("SP-") and len(first) == len("SP-2026-000001")
    assert int(second[-6:]) == int(first[-6:]) + 1


def test_full_lifecycle_writes_one_event_per_step(engine):
    number = make_case(engine)
    for to in (S.REVIEW, S.CLAIM_SENT, S.INSURER_QUERY, S.CLAIM_SENT):
        move(engine, number, to)
    move(engine, number, S.PAID, amount_paid_cents=12345)
    move(engine, number, S.CLOSED)
    with unit_of_work(engine) as s:
        case = cases.get_case(s, number=number)
        actions = s.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
        assert case.status == S.CLOSED
        assert case.amount_paid_cents == 12345
        assert case.throughput_hours is not None and case.claim_letter_sent_at is not None
        assert actions == ["case_created"] + ["status_changed"] * 6
        assert verify_chain(s, case=case).ok


def test_forbidden_jump_is_refused_and_changes_nothing(engine):
    number = make_case(engine)
    with pytest.raises(TransitionError, match="nicht erlaubt"):
        move(engine, number, S.PAID, amount_paid_cents=100)
    with unit_of_work(engine) as s:
        case = cases.get_case(s, number=number)
        assert case.status == S.RECEIVED and case.event_count == 1 and case.paid_at is None


def test_refusal_close_requires_reason_and_zero_payment(engine):
    number = make_case(engine)
    move(engine, number, S.REVIEW)
    move(engine, number, S.CLAIM_SENT)
    with pytest.raises(ValidationError):
        move(engine, number, S.CLOSED)
    with pytest.raises(ValidationError):
        move(engine, number, S.CLOSED, reason="abgelehnt", amount_paid_cents=5)
    move(engine, number, S.CLOSED, reason="Versicherung lehnt ab")
    with unit_of_work(engine) as s:
        case = cases.get_case(s, number=number)
        assert case.amount_paid_cents == 0 and case.status_reason == "Versicherung lehnt ab"


def test_cancel_needs_a_reason(engine):
    number = make_case(engine)
    with pytest.raises(ValidationError, match="Begründung"):
        move(engine, number, S.CANCELLED)
    assert move(engine, number, S.CANCELLED, reason="Doppelt erfasst") == S.CANCELLED


def test_stale_version_is_a_conflict(engine):
    number = make_case(engine)
    with unit_of_work(engine) as s:
        version = cases.get_case(s, number=number).version
    move(engine, number, S.REVIEW)
    with pytest.raises(ConflictError):
        move(engine, number, S.CANCELLED, reason="x", expected_version=version)


def test_manager_may_not_change_status(engine):
    number = make_case(engine)
    manager = Actor(user_id=None, username="m", display_name="M", role=Role.MANAGER)
    with pytest.raises(PermissionDenied):
        move(engine, number, S.REVIEW, actor=manager)


def test_partner_cannot_reach_another_partners_case(engine):
    mine, theirs = make_partner(engine, "A"), make_partner(engine, "B")
    number = make_case(engine, partner_id=theirs)
    partner = Actor(user_id=None, username="p", display_name="P", role=Role.PARTNER, partner_id=mine)
    with pytest.raises(NotFound):
        move(engine, number, S.REVIEW, actor=partner)


def open_as(engine, actor, number):
    with unit_of_work(engine) as s:
        return cases.open_case(s, actor=actor, number=number)


def test_open_case_logs_the_view(engine):
    number = make_case(engine)
    view = open_as(engine, STAFF, number)
    assert view.number == number and view.events[0].action == "case_created"
    assert view.next_statuses == [S.REVIEW, S.CANCELLED]
    with unit_of_work(engine) as s:
        log = s.scalars(select(AccessLog)).all()
    assert [(entry.action, entry.object_ref) for entry in log] == [("view", number)]


def test_out_of_scope_and_missing_cases_are_refused_alike(engine):
    own, other = make_partner(engine, "A"), make_partner(engine, "B")
    number = make_case(engine, partner_id=other)
    partner = Actor(user_id=None, username="p", display_name="P", role=Role.PARTNER, partner_id=own)
    assert open_as(engine, partner, number) is None
    assert open_as(engine, partner, "SP-1999-999999") is None
    with unit_of_work(engine) as s:
        actions = s.scalars(select(AccessLog.action).order_by(AccessLog.id)).all()
    assert actions == ["refused", "refused"]


def test_broker_sees_own_case_only(engine):
    b1, b2 = make_broker(engine, "B1"), make_broker(engine, "B2")
    number = make_case(engine, broker_id=b1)
    broker = lambda bid: Actor(user_id=None, username="b", display_name="B", role=Role.BROKER, broker_id=bid)
    assert open_as(engine, broker(b1), number).number == number
    assert open_as(engine, broker(b2), number) is None
    assert open_as(engine, broker(b1), number).next_statuses == []


def test_tampered_event_breaks_the_chain(engine):
    number = make_case(engine)
    move(engine, number, S.REVIEW)
    move(engine, number, S.CLAIM_SENT)
    with engine.begin() as conn:  # bypass the ORM, as an attacker with database access would
        conn.execute(text("UPDATE case_events SET actor_name = 'Mallory' WHERE seq = 2"))
    with unit_of_work(engine) as s:
        report = verify_chain(s, case=cases.get_case(s, number=number))
    assert not report.ok and report.first_broken_seq == 2


def test_events_cannot_be_changed_through_the_orm(engine):
    make_case(engine)
    with pytest.raises(ValueError, match="append-only"), unit_of_work(engine) as s:
        event = s.scalars(select(CaseEvent)).first()
        event.actor_name = "Mallory"


def test_deadline_state_on_the_view(engine):
    number = make_case(engine, received_at=now() - timedelta(hours=40))
    assert open_as(engine, STAFF, number).deadline == "flagged"


def test_unknown_insurer_is_added_once(engine):
    make_case(engine)
    make_case(engine)
    with unit_of_work(engine) as s:
        assert s.scalar(text("SELECT count(*) FROM insurers")) == 1


def test_staff_creating_a_case_becomes_its_clerk(engine):
    uid = make_user(engine, "clara", Role.STAFF)
    actor = Actor(user_id=uid, username="clara", display_name="Clara", role=Role.STAFF)
    number = make_case(engine, actor=actor)
    with unit_of_work(engine) as s:
        assert s.scalar(select(Case.clerk_id).where(Case.number == number)) == uid
