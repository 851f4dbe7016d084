"""The client's name key on the case (core.client_names) on SQLite and PostgreSQL: written for every new case
however it is made, moved with a case given another client, renamed with the client, in the same transaction."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.board import BoardFilter, list_board
from core.client_names import name_key
from core.enums import CaseStatus, DamageType, Role
from core.permissions import Actor
from db.engine import read_only, unit_of_work
from db.models import Case, Insurer, Person
from tests.factories import make_case

STAFF = Actor(user_id=None, username="clerk", display_name="Clara Clerk", role=Role.STAFF)


def keys(engine) -> dict[str, str]:
    with Session(engine) as s:
        return dict(s.execute(select(Case.number, Case.client_name_key)).all())


def found(engine, text) -> list[str]:
    with read_only(engine) as s:
        return [r.number for r in list_board(s, actor=STAFF, filters=BoardFilter(text=text)).rows]


def orm_case(s, number, **client) -> Case:
    """A case written straight through the ORM, as the CSV import does (not through the intake service)."""
    insurer = s.scalar(select(Insurer)) or Insurer(name="HUK-COBURG")
    return Case(number=number, status=CaseStatus.RECEIVED, damage_type=DamageType.GLASS, insurer=insurer,
                received_at=s.scalar(select(Case.received_at)), **client)


def test_key_is_the_last_name_lower_cased_by_python():
    assert name_key("  Özdemir ") == "özdemir"  # SQL's lower() on SQLite would keep the Ö
    assert name_key("ÆØÅ-Straße") == "æøå-straße"
    assert len(name_key("X" * 150)) == 100


def test_intake_writes_the_key(engine):
    number = make_case(engine, last_name="Özdemir")
    assert keys(engine)[number] == "özdemir"
    assert found(engine, "ÖZD") == [number]


def test_orm_case_with_a_new_client_or_an_existing_one_gets_the_key(engine):
    first = make_case(engine, last_name="Muster")
    with unit_of_work(engine) as s:
        existing = s.scalar(select(Case.client_id))
        s.add(orm_case(s, "IMP-1", client=Person(id=9001, last_name="Ärmel")))  # pending person, id given
        s.add(orm_case(s, "IMP-2", client_id=existing))  # only the id: read from the database
    assert keys(engine) == {first: "muster", "IMP-1": "ärmel", "IMP-2": "muster"}


def test_a_case_given_another_client_takes_its_name(engine):
    first, second = make_case(engine, last_name="Albers"), make_case(engine, last_name="Brandt")
    with unit_of_work(engine) as s:
        albers = s.scalar(select(Case.client_id).where(Case.number == first))
        s.scalar(select(Case).where(Case.number == second)).client_id = albers
    assert keys(engine) == {first: "albers", second: "albers"}
    assert found(engine, "brandt") == []


def test_a_renamed_client_renames_all_its_cases_in_the_same_transaction(engine):
    first, second = make_case(engine, last_name="Albers"), make_case(engine, last_name="Brandt")
    with unit_of_work(engine) as s:
        cases = s.scalars(select(Case).order_by(Case.id)).all()
        cases[1].client_id = cases[0].client_id
    with unit_of_work(engine) as s:
        s.get(Person, s.scalar(select(Case.client_id))).last_name = "Öztürk"
    assert keys(engine) == {first: "öztürk", second: "öztürk"}
    assert found(engine, "öztü") == [second, first]
    try:
        with unit_of_work(engine) as s:
            s.get(Person, s.scalar(select(Case.client_id))).last_name = "Zander"
            s.flush()
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert keys(engine) == {first: "öztürk", second: "öztürk"}


def test_migration_fills_the_key_of_existing_cases(engine):
    from alembic import command
    from sqlalchemy import text

    from db.migrate import alembic_config

    names = {make_case(engine, last_name=n): n for n in ("Muster", "Özdemir", " Ärmel ", "ÉCLAIR")}
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "8b0c4b6b0a8b")
    with engine.begin() as conn:
        assert "client_name_key" not in conn.execute(text("SELECT * FROM cases")).keys()  # noqa: SIM118
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert keys(engine) == {number: name_key(name) for number, name in names.items()}
    assert found(engine, "éc") == [number for number, name in names.items() if name == "ÉCLAIR"]
