"""Mein Betrieb: a partner edits its own profile; a bad IBAN is refused; a pause stops new orders."""

from sqlalchemy import select

from core.assignment import candidates
from core.enums import PartnerKind, Role
from core.i18n import t
from core.timeutil import now
from db.engine import unit_of_work
from db.models import Partner
from tests.app.conftest import texts


def fill(at, values):
    for label, value in values.items():
        next(w for w in at.text_input if w.label == label).input(value)


def save(at):
    next(b for b in at.button if b.label == t("profile.save")).click()
    at.run()


def test_bad_iban_is_refused_and_nothing_saved(world):
    at = world.app(Role.PARTNER, page="pages/partner_profile.py")
    fill(at, {t("intake.email"): "info@glas.example", t("intake.postal_code"): "10115",
              t("profile.iban"): "DE89 3704 0044 0532 0130 01"})
    save(at)
    assert "Prüfsumme der IBAN" in texts(at)
    with unit_of_work(world.engine) as s:
        assert s.get(Partner, world.partner_id).iban == ""


def test_profile_saved_and_pause_stops_new_orders(world):
    at = world.app(Role.PARTNER, page="pages/partner_profile.py")
    fill(at, {t("intake.email"): "info@glas.example", t("intake.postal_code"): "10115",
              t("profile.iban"): "DE89 3704 0044 0532 0130 00"})
    at.toggle[0].set_value(True)
    save(at)
    assert t("profile.saved") in texts(at)
    with unit_of_work(world.engine) as s:
        partner = s.get(Partner, world.partner_id)
        assert (partner.iban, partner.paused) == ("DE89370400440532013000", True)
        eligible = [c.partner_id for c in candidates(s, kind=PartnerKind.GLASS, postal_code="10115", at=now())]
        assert world.partner_id not in eligible and world.other_partner_id in eligible
        assert s.scalar(select(Partner.paused).where(Partner.id == world.other_partner_id)) is False
