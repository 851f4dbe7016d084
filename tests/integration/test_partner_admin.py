"""Partner administration on SQLite and PostgreSQL: the list, terms, deactivation (logins end, orders not yet
accepted move on to the next fairest partner) and reactivation; only admins."""

import pytest
from sqlalchemy import func, select

from core import auth, partner_admin
from core.enums import CaseStatus, PartnerKind, Role
from core.errors import NotFound, PermissionDenied, ValidationError
from core.permissions import SYSTEM, Actor
from core.timeutil import iso_week, now
from db.engine import unit_of_work
from db.models import Assignment, Case, Partner, Task, User, UserSession
from tests.factories import make_case, make_partner, make_user


@pytest.fixture
def net(engine, settings):
    """An admin, two glass shops serving region 10 (one with a login and a live session)."""
    chef = make_user(engine, "chef", Role.ADMIN)
    a, b = make_partner(engine, "Glas Alpha"), make_partner(engine, "Glas Beta")
    login = make_user(engine, "alpha", Role.PARTNER, partner_id=a)
    with unit_of_work(engine) as s:
        sid = auth.create_session(s, user_id=login, settings=settings).session_id
    actor = Actor(user_id=chef, username="chef", display_name="Chef", role=Role.ADMIN)
    return {"admin": actor, "a": a, "b": b, "login": login, "sid": sid}


def order(engine, partner_id, *, accepted=False, status=CaseStatus.RECEIVED) -> str:
    """A case given to the partner as its current assignment."""
    number = make_case(engine, partner_id=partner_id)
    with unit_of_work(engine) as s:
        case = s.scalar(select(Case).where(Case.number == number))
        case.status = status
        at = now()
        s.add(Assignment(case_id=case.id, partner_id=partner_id, iso_week=iso_week(at), origin="auto", reason="Test",
                         candidates=[], assigned_at=at, accepted_at=at if accepted else None))
    return number


def deactivate(engine, actor, partner_id, reason="Qualität mangelhaft") -> int:
    with unit_of_work(engine) as s:
        return partner_admin.deactivate_partner(s, actor=actor, partner_id=partner_id, reason=reason)


def case_partner(engine, number) -> int | None:
    with unit_of_work(engine) as s:
        return s.scalar(select(Case.partner_id).where(Case.number == number))


def test_list_shows_terms_and_order_counts(engine, net):
    order(engine, net["a"])
    order(engine, net["a"], accepted=True)
    order(engine, net["a"], status=CaseStatus.CLOSED)
    with unit_of_work(engine) as s:
        s.get(Partner, net["a"]).commission_bp = 1250
    with unit_of_work(engine) as s:
        rows = {r.name: r for r in partner_admin.list_partners(s, actor=net["admin"])}
    alpha = rows["Glas Alpha"]
    assert (alpha.kind, alpha.regions, alpha.active, alpha.capacity) == (PartnerKind.GLASS, "10,20", True, 10)
    assert (alpha.orders_this_week, alpha.open_orders, str(alpha.commission_percent)) == (3, 2, "12.5")
    assert (rows["Glas Beta"].orders_this_week, rows["Glas Beta"].open_orders) == (0, 0)


def test_deactivation_hands_on_waiting_orders_and_ends_the_logins(engine, net):
    waiting = order(engine, net["a"])
    accepted = order(engine, net["a"], accepted=True)
    closed = order(engine, net["a"], status=CaseStatus.CLOSED)
    assert deactivate(engine, net["admin"], net["a"]) == 1
    assert [case_partner(engine, n) for n in (waiting, accepted, closed)] == [net["b"], net["a"], net["a"]]
    with unit_of_work(engine) as s:
        assert s.get(Partner, net["a"]).is_active is False
        assert s.get(User, net["login"]).is_active is False
        assert s.get(UserSession, net["sid"]).revoke_reason == "partner_deactivated"
        case_id = s.scalar(select(Case.id).where(Case.number == waiting))
        old, new = s.scalars(select(Assignment).where(Assignment.case_id == case_id).order_by(Assignment.id)).all()
        assert (old.partner_id, old.decline_reason) == (net["a"], "Betrieb deaktiviert: Qualität mangelhaft")
        assert old.declined_at is not None
        assert (new.partner_id, new.origin, new.declined_at) == (net["b"], "override", None)


def test_the_deactivated_login_no_longer_works(engine, net, settings):
    deactivate(engine, net["admin"], net["a"])
    with unit_of_work(engine) as s:
        assert auth.touch_session(s, session_id=net["sid"], settings=settings) is None
        assert auth.check_password_login(s, username="alpha", password="geheim-1234", settings=settings).user_id is None


def test_without_another_partner_the_clerk_gets_a_task(engine, net):
    deactivate(engine, net["admin"], net["b"], reason="Betrieb aufgegeben")
    waiting = order(engine, net["a"])
    deactivate(engine, net["admin"], net["a"])
    assert case_partner(engine, waiting) is None
    with unit_of_work(engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == waiting))
        assert s.scalars(select(Task.title).where(Task.case_id == case_id, Task.kind == "assignment")).all() == [
            "Kein Partnerbetrieb verfügbar – bitte manuell zuweisen"]


def test_deactivation_needs_a_reason_and_changes_nothing_without(engine, net):
    waiting = order(engine, net["a"])
    with pytest.raises(ValidationError, match="Grund"):
        deactivate(engine, net["admin"], net["a"], reason=" \n ")
    assert case_partner(engine, waiting) == net["a"]
    with unit_of_work(engine) as s:
        assert s.get(Partner, net["a"]).is_active and s.get(User, net["login"]).is_active
        assert s.get(UserSession, net["sid"]).revoked_at is None


def test_deactivating_twice_is_refused(engine, net):
    deactivate(engine, net["admin"], net["a"])
    with pytest.raises(ValidationError, match="bereits deaktiviert"):
        deactivate(engine, net["admin"], net["a"])


def test_reactivation_brings_back_the_business_and_its_logins(engine, net):
    deactivate(engine, net["admin"], net["a"])
    with unit_of_work(engine) as s:
        partner_admin.reactivate_partner(s, actor=net["admin"], partner_id=net["a"])
    with unit_of_work(engine) as s:
        assert s.get(Partner, net["a"]).is_active and s.get(User, net["login"]).is_active
    with pytest.raises(ValidationError, match="bereits aktiv"):
        with unit_of_work(engine) as s:
            partner_admin.reactivate_partner(s, actor=net["admin"], partner_id=net["a"])


def test_terms_are_saved_within_their_limits(engine, net):
    def update(commission_bp, weekly_capacity):
        with unit_of_work(engine) as s:
            partner_admin.update_partner_terms(s, actor=net["admin"], partner_id=net["a"], commission_bp=commission_bp,
                                               weekly_capacity=weekly_capacity)

    update(1500, 25)
    with pytest.raises(ValidationError, match="Provision"):
        update(10_001, 25)
    with pytest.raises(ValidationError, match="Kapazität"):
        update(1500, -1)
    with unit_of_work(engine) as s:
        partner = s.get(Partner, net["a"])
        assert (partner.commission_bp, partner.weekly_capacity) == (1500, 25)


def test_an_unknown_partner_is_reported(engine, net):
    with pytest.raises(NotFound, match="gibt es nicht"):
        deactivate(engine, net["admin"], 9999)


@pytest.mark.parametrize("role", [Role.STAFF, Role.LAWYER, Role.MANAGER, Role.PARTNER, Role.BROKER])
def test_only_admins_manage_partners(engine, net, role):
    actor = Actor(user_id=None, username="x", display_name="X", role=role, partner_id=net["a"])
    calls = [
        lambda s: partner_admin.list_partners(s, actor=actor),
        lambda s: partner_admin.deactivate_partner(s, actor=actor, partner_id=net["a"], reason="Nein"),
        lambda s: partner_admin.reactivate_partner(s, actor=actor, partner_id=net["a"]),
        lambda s: partner_admin.update_partner_terms(s, actor=actor, partner_id=net["a"], commission_bp=0,
                                                     weekly_capacity=5),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
            call(s)
    with unit_of_work(engine) as s:
        assert s.scalar(select(func.count()).select_from(Partner).where(Partner.is_active.is_(True))) == 2


def test_the_system_actor_may_deactivate(engine, net):
    assert deactivate(engine, SYSTEM, net["a"]) == 0
