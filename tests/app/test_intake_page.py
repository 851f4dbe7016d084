"""The intake page: a valid case is saved, bad fields get German messages, duplicates are shown first."""

from datetime import date

from sqlalchemy import func, select

from core.enums import DamageType, Role
from core.i18n import label, t
from db.engine import unit_of_work
from db.models import Case
from tests.app.conftest import texts


def fill(at, **values):
    for lbl, value in values.items():
        next(w for w in at.text_input if w.label == lbl).input(value)


def base_form(at, plate="B-CD 77", claim="ALZ-1"):
    next(s for s in at.selectbox if s.label == t("field.damage_type")).set_value(DamageType.GLASS)
    next(s for s in at.selectbox if s.label == t("field.insurer")).set_value("HUK-COBURG")
    next(d for d in at.date_input if d.label == t("field.incident_date")).set_value(date.today())
    fill(at, **{t("intake.last_name_label"): "Neumann", t("intake.postal_code"): "10115",
                t("intake.email"): "n@example.org", t("field.plate"): plate,
                t("field.insurer_claim_number"): claim})


def cases_count(world):
    with unit_of_work(world.engine) as s:
        return s.scalar(select(func.count()).select_from(Case))


def submit(at):
    next(b for b in at.button if b.label == t("intake.save")).click()
    at.run()


def test_staff_takes_in_a_case(world):
    at = world.app(Role.STAFF, page="pages/staff_intake.py")
    base_form(at)
    submit(at)
    assert not at.exception
    assert any("angelegt" in s.value for s in at.success)
    assert cases_count(world) == 3


def test_bad_fields_are_listed_and_nothing_is_saved(world):
    at = world.app(Role.STAFF, page="pages/staff_intake.py")
    fill(at, **{t("intake.postal_code"): "123", t("field.plate"): "QQQQ"})
    submit(at)
    shown = texts(at)
    assert "Postleitzahl" in shown and "Kennzeichen" in shown and label(DamageType.GLASS) not in shown
    assert cases_count(world) == 2


def test_duplicate_is_shown_before_saving(world):
    at = world.app(Role.STAFF, page="pages/staff_intake.py")
    base_form(at)
    submit(at)
    first = cases_count(world)
    at = world.app(Role.STAFF, page="pages/staff_intake.py")
    base_form(at, plate="X-Y 1", claim="ALZ-1")
    submit(at)
    assert t("intake.duplicates") in texts(at)
    assert cases_count(world) == first
    next(b for b in at.button if b.label == t("intake.save_anyway")).click()
    at.run()
    assert cases_count(world) == first + 1


def test_broker_form_has_no_broker_choice(world):
    at = world.app(Role.BROKER, page="pages/broker_submit.py")
    assert t("field.broker") not in [s.label for s in at.selectbox]
    base_form(at)
    submit(at)
    assert any("angelegt" in s.value for s in at.success)
