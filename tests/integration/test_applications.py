"""Partner applications on SQLite and PostgreSQL: submit (captcha, rate limit), approve (partner, login, trial
month, reminder task, welcome mail with a one-time link), reject, and who may decide."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from core import applications, auth
from core.applications import (
    ApplicationForm,
    add_month,
    approve_application,
    reject_application,
    submit_application,
)
from core.enums import ApplicationStatus, PartnerKind, Role
from core.errors import PermissionDenied, ValidationError
from core.permissions import Actor
from core.timeutil import BERLIN, now, to_berlin
from db.engine import unit_of_work
from db.models import (
    OutboxMessage,
    Partner,
    PartnerApplication,
    Task,
    User,
    UserSession,
)
from tests.factories import make_user

FORM = ApplicationForm(
    business_name="Autoglas Müller GmbH", kind=PartnerKind.GLASS, street="Hauptstraße 1", postal_code="10115",
    city="Berlin", regions="12 10", contact_name="Jana Müller", email="jana@autoglas-mueller.example",
    weekly_capacity=12, consent=True, phone="030 1234567",
)
IP = "203.0.113.7"


def submit(engine, settings, *, form=FORM, ip=IP, given="8", at=None) -> int:
    with unit_of_work(engine) as s:
        return submit_application(s, form=form, captcha_answer=8, captcha_given=given, ip=ip, settings=settings,
                                  at=at).id


def admin(engine, name="chef") -> Actor:
    return Actor(user_id=make_user(engine, name, Role.ADMIN), username=name, display_name="Chef", role=Role.ADMIN)


def approve(engine, settings, actor, application_id, **kwargs):
    with unit_of_work(engine) as s:
        return approve_application(s, actor=actor, settings=settings, application_id=application_id, **kwargs)


def count(engine, model) -> int:
    with unit_of_work(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def test_submit_stores_the_normalised_application_without_the_raw_address(engine, settings):
    app_id = submit(engine, settings)
    with unit_of_work(engine) as s:
        row = s.get(PartnerApplication, app_id)
        assert (row.business_name, row.kind, row.regions, row.status) == (
            "Autoglas Müller GmbH", PartnerKind.GLASS, "10,12", ApplicationStatus.PENDING)
        assert row.ip_hash == applications.ip_hash(settings, IP) and IP not in row.ip_hash
        assert row.consent_at is not None


@pytest.mark.parametrize("given", ["7", "", "acht", " 8 8", "-8"])
def test_a_wrong_captcha_stores_nothing(engine, settings, given):
    with pytest.raises(ValidationError, match="Sicherheitsfrage"):
        submit(engine, settings, given=given)
    assert count(engine, PartnerApplication) == 0


def test_a_bad_field_stores_nothing(engine, settings):
    with pytest.raises(ValidationError, match="PLZ-Gebiet"):
        submit(engine, settings, form=replace(FORM, regions="1"))
    assert count(engine, PartnerApplication) == 0


def test_three_applications_per_address_and_hour(engine, settings):
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for minute in range(3):
        submit(engine, settings, at=start + timedelta(minutes=minute))
    with pytest.raises(ValidationError, match="letzten Stunde"):
        submit(engine, settings, at=start + timedelta(minutes=30))
    submit(engine, settings, ip="198.51.100.1", at=start + timedelta(minutes=30))  # another address may
    submit(engine, settings, at=start + timedelta(minutes=61))  # and an hour later this one again
    assert count(engine, PartnerApplication) == 5


def test_thirty_applications_per_hour_in_total(engine, settings):
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for i in range(30):
        submit(engine, settings, ip=f"198.51.100.{i}", at=start + timedelta(seconds=i))
    with pytest.raises(ValidationError, match="sehr viele Bewerbungen"):
        submit(engine, settings, ip="192.0.2.1", at=start + timedelta(minutes=10))
    assert count(engine, PartnerApplication) == 30


def test_approval_creates_partner_login_trial_month_reminder_and_mail(engine, settings):
    chef = admin(engine)
    result = approve(engine, settings, chef, submit(engine, settings))
    today = to_berlin(now()).date()
    with unit_of_work(engine) as s:
        partner = s.get(Partner, result.partner_id)
        assert (partner.name, partner.kind, partner.regions, partner.weekly_capacity, partner.commission_bp) == (
            "Autoglas Müller GmbH", PartnerKind.GLASS, "10,12", 12, 0)
        assert (partner.email, partner.city, partner.is_active) == ("jana@autoglas-mueller.example", "Berlin", True)
        assert partner.trial_until == result.trial_until == add_month(today)
        user = s.get(User, result.user_id)
        assert (user.username, user.role, user.partner_id) == ("autoglas-mueller-gmbh", Role.PARTNER, partner.id)
        task = s.scalar(select(Task).where(Task.partner_id == partner.id))
        assert (task.case_id, task.kind, task.title, task.assignee_id) == (
            None, "reminder", "Probemonat endet: Autoglas Müller GmbH", chef.user_id)
        assert task.due_at == datetime.combine(partner.trial_until, time(9), tzinfo=BERLIN)
        mail = s.scalar(select(OutboxMessage))
        assert (mail.template_key, mail.recipient) == ("partner_approved", "jana@autoglas-mueller.example")
        assert f"{settings.base_url}/passwort?token=" in mail.body and result.password_link in mail.body
        assert "autoglas-mueller-gmbh" in mail.body and "Jana Müller" in mail.body
        row = s.scalar(select(PartnerApplication))
        assert (row.status, row.decided_by_id, row.partner_id) == (ApplicationStatus.APPROVED, chef.user_id, partner.id)
        assert row.decided_at is not None


def test_appraisers_get_the_configured_commission(engine, settings):
    result = approve(engine, settings, admin(engine), submit(engine, settings, form=replace(FORM, kind="appraiser")))
    with unit_of_work(engine) as s:
        assert s.get(Partner, result.partner_id).commission_bp == settings.appraiser_commission_bp == 1000


def test_proposed_usernames_are_unique_and_an_admin_may_choose_one(engine, settings):
    chef = admin(engine)
    first = approve(engine, settings, chef, submit(engine, settings))
    second = approve(engine, settings, chef, submit(engine, settings))
    chosen = approve(engine, settings, chef, submit(engine, settings), username="  Glas-Mueller ")
    assert [first.username, second.username, chosen.username] == [
        "autoglas-mueller-gmbh", "autoglas-mueller-gmbh2", "glas-mueller"]


def test_a_taken_username_refuses_the_approval_and_writes_nothing(engine, settings):
    chef = admin(engine)
    app_id = submit(engine, settings)
    with pytest.raises(ValidationError, match="gibt es schon"):
        approve(engine, settings, chef, app_id, username="chef")
    assert (count(engine, Partner), count(engine, Task), count(engine, OutboxMessage)) == (0, 0, 0)
    with unit_of_work(engine) as s:
        assert s.get(PartnerApplication, app_id).status == ApplicationStatus.PENDING


def link_token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def test_the_link_sets_the_password_once(engine, settings):
    result = approve(engine, settings, admin(engine), submit(engine, settings))
    token = link_token(result.password_link)
    with unit_of_work(engine) as s:
        assert auth.set_password_with_token(s, settings=settings, token=token, new_password="Glas-Passwort 1") == (
            "autoglas-mueller-gmbh")
    with unit_of_work(engine) as s:
        login = auth.check_password_login(s, username=result.username, password="Glas-Passwort 1", settings=settings)
        assert login.user_id == result.user_id
    with pytest.raises(ValidationError, match="bereits benutzt"):
        with unit_of_work(engine) as s:
            auth.set_password_with_token(s, settings=settings, token=token, new_password="Noch-ein-Passwort 2")


def test_setting_the_password_ends_the_users_sessions(engine, settings):
    result = approve(engine, settings, admin(engine), submit(engine, settings))
    with unit_of_work(engine) as s:
        sid = auth.create_session(s, user_id=result.user_id, settings=settings).session_id
    with unit_of_work(engine) as s:
        auth.set_password_with_token(s, settings=settings, token=link_token(result.password_link),
                                     new_password="Glas-Passwort 1")
    with unit_of_work(engine) as s:
        assert s.get(UserSession, sid).revoke_reason == "password_set"


def test_a_short_password_is_refused_and_the_link_still_works(engine, settings):
    result = approve(engine, settings, admin(engine), submit(engine, settings))
    token = link_token(result.password_link)
    with pytest.raises(ValidationError, match="mindestens 8"):
        with unit_of_work(engine) as s:
            auth.set_password_with_token(s, settings=settings, token=token, new_password="kurz")
    with unit_of_work(engine) as s:
        auth.set_password_with_token(s, settings=settings, token=token, new_password="lang-genug-123")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda st, uid, pw: auth.password_link_token(st, user_id=uid, password_hash=pw, days=-1), "abgelaufen"),
        (lambda st, uid, pw: auth.password_link_token(replace(st, cookie_key="x" * 40), user_id=uid,
                                                      password_hash=pw), "ungültig"),
        (lambda st, uid, pw: auth.password_link_token(st, user_id=uid + 1000, password_hash=pw), "ungültig"),
        (lambda st, uid, pw: "kein.gueltiger.token", "ungültig"),
    ],
    ids=["expired", "forged", "unknown-user", "garbage"],
)
def test_expired_forged_or_broken_links_are_refused(engine, settings, make, message):
    result = approve(engine, settings, admin(engine), submit(engine, settings))
    with unit_of_work(engine) as s:
        token = make(settings, result.user_id, s.get(User, result.user_id).password_hash)
    with pytest.raises(ValidationError, match=message):
        with unit_of_work(engine) as s:
            auth.set_password_with_token(s, settings=settings, token=token, new_password="Glas-Passwort 1")


def test_a_login_cookie_is_not_a_password_link(engine, settings):
    import jwt

    result = approve(engine, settings, admin(engine), submit(engine, settings))
    cookie = jwt.encode({"username": result.username, "exp_date": 9e9, "uid": result.user_id,
                         "exp": now() + timedelta(days=1)}, settings.cookie_key, algorithm="HS256")
    with pytest.raises(ValidationError, match="ungültig"):
        with unit_of_work(engine) as s:
            auth.set_password_with_token(s, settings=settings, token=cookie, new_password="Glas-Passwort 1")


def test_reject_needs_a_reason_and_tells_the_applicant(engine, settings):
    chef = admin(engine)
    app_id = submit(engine, settings)
    with pytest.raises(ValidationError, match="Grund"), unit_of_work(engine) as s:
        reject_application(s, actor=chef, application_id=app_id, reason="  ")
    with unit_of_work(engine) as s:
        reject_application(s, actor=chef, application_id=app_id, reason="Region bereits gut versorgt")
    with unit_of_work(engine) as s:
        row = s.get(PartnerApplication, app_id)
        assert (row.status, row.reject_reason, row.decided_by_id) == (
            ApplicationStatus.REJECTED, "Region bereits gut versorgt", chef.user_id)
        mail = s.scalar(select(OutboxMessage))
        assert mail.template_key == "partner_rejected" and "Region bereits gut versorgt" in mail.body
    assert count(engine, Partner) == 0


@pytest.mark.parametrize("first", ["approve", "reject"])
def test_an_application_is_decided_once(engine, settings, first):
    chef = admin(engine)
    app_id = submit(engine, settings)
    decide = {
        "approve": lambda s: approve_application(s, actor=chef, settings=settings, application_id=app_id),
        "reject": lambda s: reject_application(s, actor=chef, application_id=app_id, reason="Passt nicht"),
    }
    with unit_of_work(engine) as s:
        decide[first](s)
    for again in decide.values():
        with pytest.raises(ValidationError, match="bereits entschieden"):
            with unit_of_work(engine) as s:
                again(s)
    assert count(engine, Partner) == (1 if first == "approve" else 0)


def test_list_applications_filters_by_status(engine, settings):
    chef = admin(engine)
    keep, decided = submit(engine, settings), submit(engine, settings)
    with unit_of_work(engine) as s:
        reject_application(s, actor=chef, application_id=decided, reason="Passt nicht")
    with unit_of_work(engine) as s:
        assert [r.id for r in applications.list_applications(s, actor=chef)] == [decided, keep]
        pending = applications.list_applications(s, actor=chef, status=ApplicationStatus.PENDING)
        assert [(r.id, r.decided_by) for r in pending] == [(keep, "")]
        assert applications.list_applications(s, actor=chef, status=ApplicationStatus.REJECTED)[0].decided_by == "chef"


@pytest.mark.parametrize("role", [Role.STAFF, Role.LAWYER, Role.MANAGER, Role.BROKER, Role.PARTNER])
def test_only_admins_see_and_decide_applications(engine, settings, role):
    app_id = submit(engine, settings)
    actor = Actor(user_id=None, username="x", display_name="X", role=role)
    calls = [
        lambda s: applications.list_applications(s, actor=actor),
        lambda s: approve_application(s, actor=actor, settings=settings, application_id=app_id),
        lambda s: reject_application(s, actor=actor, application_id=app_id, reason="Nein"),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
            call(s)
    assert count(engine, Partner) == 0
