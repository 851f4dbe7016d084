"""Manipulationsprüfung: the admin starts the check and sees the result; a changed event names case and seq."""

from sqlalchemy import select, text

from core.enums import Role
from core.i18n import t
from db.engine import unit_of_work
from db.models import Case
from tests.app.conftest import texts

PAGE = "pages/admin_verify.py"


def start(at):
    next(b for b in at.button if b.label == t("verify.start")).click().run()
    assert not at.exception, at.exception
    return at


def test_intact_chains_are_reported_ok(world):
    at = start(world.app(Role.ADMIN, page=PAGE))
    assert t("verify.ok") in [s.value for s in at.success]
    assert [bar.proto.text for bar in at.get("progress")] == [t("verify.progress", done=2, total=2)]
    assert not at.dataframe


def test_a_changed_event_is_shown_with_its_case_and_seq(world):
    with unit_of_work(world.engine) as s:
        case_id = s.scalar(select(Case.id).where(Case.number == world.foreign_case))
        s.execute(text("UPDATE case_events SET actor_name = 'Mallory' WHERE case_id = :c AND seq = 1"), {"c": case_id})
    at = start(world.app(Role.ADMIN, page=PAGE))
    assert [e.value for e in at.error] == [t("verify.broken", n="1")]
    frame = at.dataframe[0].value
    assert list(frame[t("verify.col_case")]) == [world.foreign_case]
    assert list(frame[t("verify.col_seq")]) == ["1"]


def test_one_case_can_be_checked(world):
    at = world.app(Role.ADMIN, page=PAGE)
    at.text_input(key="verify_case").input(world.own_case).run()
    start(at)
    assert t("verify.ok") in [s.value for s in at.success]
    assert "Geprüft: 1 Fälle" in texts(at)


def test_an_unknown_case_is_named(world):
    at = world.app(Role.ADMIN, page=PAGE)
    at.text_input(key="verify_case").input("SP-1999-000001").run()
    start(at)
    assert [e.value for e in at.error] == [t("verify.unknown_case", number="SP-1999-000001")]
