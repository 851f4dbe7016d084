"""User administration on SQLite and PostgreSQL."""

import pytest

from core import users
from core.enums import Role
from core.errors import PermissionDenied, ValidationError
from core.permissions import SYSTEM, Actor
from db.engine import unit_of_work
from tests.factories import make_broker, make_partner, make_user


def admin_actor(engine) -> Actor:
    uid = make_user(engine, "chef", Role.ADMIN)
    return Actor(user_id=uid, username="chef", display_name="Chef", role=Role.ADMIN)


def test_create_and_list(engine):
    admin = admin_actor(engine)
    pid = make_partner(engine)
    with unit_of_work(engine) as s:
        users.create_user(s, actor=admin, username="Glas9", display_name="Glas 9", email="g@x.de", role=Role.PARTNER,
                          password="passwort-123", partner_id=pid)
    with unit_of_work(engine) as s:
        rows = {r.username: r for r in users.list_users(s, actor=admin)}
    assert rows["glas9"].partner == "Autoglas Nord" and rows["glas9"].role == Role.PARTNER


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "a b"}, "Benutzername"),
        ({"username": "chef"}, "gibt es schon"),
        ({"display_name": " "}, "Namen"),
        ({"email": "kein-at"}, "E-Mail"),
        ({"role": Role.PARTNER}, "Partnerbetrieb"),
        ({"role": Role.BROKER}, "Vermittler"),
        ({"password": "kurz"}, "mindestens"),
    ],
)
def test_create_refuses_bad_input(engine, kwargs, message):
    admin = admin_actor(engine)
    args = dict(username="neu", display_name="Neu", email="n@x.de", role=Role.STAFF, password="passwort-123")
    with pytest.raises(ValidationError, match=message), unit_of_work(engine) as s:
        users.create_user(s, actor=admin, **{**args, **kwargs})


def test_only_admins_manage_users(engine):
    uid = make_user(engine, "clara", Role.STAFF)
    staff = Actor(user_id=uid, username="clara", display_name="Clara", role=Role.STAFF)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as s:
        users.list_users(s, actor=staff)


def test_last_admin_cannot_be_deactivated_or_demoted(engine):
    admin = admin_actor(engine)
    with pytest.raises(ValidationError, match="letzte aktive Administrator"):
        with unit_of_work(engine) as s:
            users.set_role(s, actor=SYSTEM, user_id=admin.user_id, role=Role.STAFF)
    with pytest.raises(ValidationError), unit_of_work(engine) as s:
        users.set_active(s, actor=admin, user_id=admin.user_id, active=False)


def test_link_broker_login(engine):
    admin = admin_actor(engine)
    uid = make_user(engine, "makler", Role.STAFF)
    bid = make_broker(engine)
    with unit_of_work(engine) as s:
        users.set_role(s, actor=admin, user_id=uid, role=Role.BROKER, broker_id=bid)
    with unit_of_work(engine) as s:
        row = next(r for r in users.list_users(s, actor=admin) if r.id == uid)
    assert row.role == Role.BROKER and row.broker == "Versicherungsbüro Test"


def test_reset_totp_forgets_the_secret(engine, settings):
    from core import auth

    admin = admin_actor(engine)
    uid = make_user(engine, "clara", Role.STAFF)
    with unit_of_work(engine) as s:
        auth.start_totp_enrolment(s, user_id=uid, settings=settings)
        users.reset_totp(s, actor=admin, user_id=uid)
    with unit_of_work(engine) as s:
        assert auth.totp_status(s, user_id=uid) == auth.TotpStatus("clara", True, False)
