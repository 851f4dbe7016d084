"""Account page (password change) and admin user management through the UI."""

from core import auth
from core.enums import Role
from core.i18n import t
from db.engine import unit_of_work
from tests.app.conftest import table_text, texts
from tests.factories import PASSWORD


def fill(at, labels_values: dict) -> None:
    for label, value in labels_values.items():
        next(w for w in at.text_input if w.label == label).input(value)


def press(at, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()


def test_password_change_with_wrong_current_password_is_refused(world):
    at = world.app(Role.STAFF, page="pages/account_settings.py")
    fill(at, {t("account.current_password"): "falsch-falsch", t("account.new_password"): "neues-Passwort-9",
              t("account.repeat_password"): "neues-Passwort-9"})
    press(at, t("account.save"))
    assert t("account.wrong_password") in texts(at)


def test_password_change_works_and_keeps_this_session(world):
    at = world.app(Role.STAFF, page="pages/account_settings.py")
    fill(at, {t("account.current_password"): PASSWORD, t("account.new_password"): "neues-Passwort-9",
              t("account.repeat_password"): "neues-Passwort-9"})
    press(at, t("account.save"))
    assert t("account.password_changed") in texts(at)
    with unit_of_work(world.engine) as s:
        assert auth.check_password_login(s, username="t_staff", password="neues-Passwort-9",
                                         settings=world.settings).user_id == world.users[Role.STAFF]
    at.run()
    assert t("account.title") in texts(at)
    assert t("login.username") not in [w.label for w in at.text_input]


def test_admin_creates_a_partner_login_linked_to_its_business(world):
    at = world.app(Role.ADMIN, page="pages/admin_users.py")
    next(s for s in at.selectbox if s.label == t("users.role")).set_value(Role.PARTNER)
    at.run()
    fill(at, {t("users.username"): "Glas3", t("users.display_name"): "Glas Drei", t("users.email"): "g3@x.de",
              t("users.password"): "start-passwort-1"})
    next(s for s in at.selectbox if s.label == t("users.partner")).set_value(world.other_partner_id)
    press(at, t("users.create"))
    assert not at.exception
    assert t("users.created", username="glas3") in texts(at)
    assert "Autoglas Zwei" in table_text(at)


def test_admin_create_with_bad_username_shows_german_error(world):
    at = world.app(Role.ADMIN, page="pages/admin_users.py")
    fill(at, {t("users.username"): "x", t("users.display_name"): "X", t("users.password"): "start-passwort-1"})
    press(at, t("users.create"))
    assert t("users.bad_username") in texts(at)


def test_admin_deactivates_a_user_and_the_session_ends(world):
    staff_app = world.app(Role.STAFF)
    at = world.app(Role.ADMIN, page="pages/admin_users.py")
    select = next(s for s in at.selectbox if s.label == t("users.select"))
    select.set_value(world.users[Role.STAFF])
    at.run()
    press(at, t("users.deactivate"))
    assert t("users.done") in texts(at)
    staff_app.run()
    assert t("login.session_ended") in texts(staff_app)
