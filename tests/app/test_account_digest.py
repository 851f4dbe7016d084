"""Account page: the daily digest instead of single reminder mails, switched on and off by the user."""

from core.enums import Role
from core.i18n import t
from db.engine import unit_of_work
from db.models import User
from tests.app.conftest import texts


def digest_mode(world, role: Role) -> bool:
    with unit_of_work(world.engine) as s:
        return s.get(User, world.users[role]).digest_mode


def digest_box(at):
    return next(c for c in at.checkbox if c.label == t("account.digest"))


def test_account_page_switches_the_digest_on_and_off(world):
    at = world.app(Role.STAFF, page="pages/account_settings.py")
    assert digest_box(at).value is False
    digest_box(at).check().run()
    assert not at.exception
    assert t("account.digest_on") in texts(at) and digest_mode(world, Role.STAFF) is True
    at.run()
    assert digest_box(at).value is True
    digest_box(at).uncheck().run()
    assert t("account.digest_off") in texts(at) and digest_mode(world, Role.STAFF) is False
    assert digest_mode(world, Role.ADMIN) is False  # only the user's own choice changes
