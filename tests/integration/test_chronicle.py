"""Case chronicles (§11) on SQLite and PostgreSQL: who may export, the access log, the ZIP, tampering, the CLI."""

import io
import os
import subprocess
import sys
import zipfile
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text

from core import cases, chronicle, notes
from core.enums import CaseStatus, NoteVisibility, PartnerKind, Role
from core.errors import PermissionDenied, ValidationError
from core.permissions import SYSTEM, Actor
from core.settings import ROOT
from core.timeutil import now
from db.engine import unit_of_work
from db.models import AccessLog
from tests.factories import make_broker, make_case, make_partner, make_user

LEGAL_TEXT = "Vergleichsangebot streng vertraulich"


def actor(role: Role, user_id: int = 1, **links) -> Actor:
    return Actor(user_id=user_id, username=f"u_{role}", display_name=f"{role} user", role=role, **links)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def export(engine, who: Actor, number: str) -> bytes | None:
    with unit_of_work(engine) as s:
        return chronicle.case_chronicle(s, actor=who, number=number)


def log_rows(engine) -> list[tuple[str, str, str, str]]:
    with unit_of_work(engine) as s:
        rows = s.scalars(select(AccessLog).where(AccessLog.object_type == "chronicle").order_by(AccessLog.id))
        return [(r.username, r.role, r.action, r.object_ref) for r in rows]


@pytest.fixture
def world(engine):
    partner_id = make_partner(engine, "Autoglas Eins", PartnerKind.GLASS)
    broker_id = make_broker(engine, "Büro Eins")
    users = {role: make_user(engine, f"t_{role}", role) for role in (Role.ADMIN, Role.STAFF, Role.LAWYER, Role.MANAGER)}
    users[Role.PARTNER] = make_user(engine, "t_partner", Role.PARTNER, partner_id=partner_id)
    users[Role.BROKER] = make_user(engine, "t_broker", Role.BROKER, broker_id=broker_id)
    number = make_case(engine, partner_id=partner_id, broker_id=broker_id)
    lawyer = actor(Role.LAWYER, users[Role.LAWYER])
    with unit_of_work(engine) as s:
        cases.change_status(s, actor=lawyer, number=number, to=CaseStatus.REVIEW)
        notes.add_note(s, actor=lawyer, number=number, visibility=NoteVisibility.LEGAL, body=LEGAL_TEXT)
        cases.change_status(s, actor=lawyer, number=number, to=CaseStatus.CANCELLED, reason="<b>doppelt</b> & erfasst")
    return {
        "number": number,
        "actors": {
            role: actor(role, uid, partner_id=partner_id if role == Role.PARTNER else None,
                        broker_id=broker_id if role == Role.BROKER else None)
            for role, uid in users.items()
        },
    }


@pytest.mark.parametrize("role", [Role.ADMIN, Role.STAFF, Role.LAWYER])
def test_back_office_gets_the_chronicle(engine, world, role):
    pdf = export(engine, world["actors"][role], world["number"])
    assert pdf.startswith(b"%PDF")
    assert f"Fallchronik {world['number']}" in pdf_text(pdf)


@pytest.mark.parametrize("role", [Role.PARTNER, Role.BROKER, Role.MANAGER])
def test_partner_broker_and_manager_are_refused(engine, world, role):
    # the partner's own order and the broker's own case: they may view it, not export its chronicle
    assert export(engine, world["actors"][role], world["number"]) is None


@pytest.mark.parametrize("role", [Role.PARTNER, Role.BROKER, Role.MANAGER])
def test_a_refusal_is_logged(engine, world, role):
    export(engine, world["actors"][role], world["number"])
    assert log_rows(engine) == [(f"u_{role}", str(role), "refused", world["number"])]


def test_an_unknown_case_is_refused_and_logged(engine, world):
    assert export(engine, world["actors"][Role.STAFF], "SP-1999-999999") is None
    assert log_rows(engine) == [("u_staff", "staff", "refused", "SP-1999-999999")]


def test_the_export_is_logged_with_who_and_which_case(engine, world):
    export(engine, world["actors"][Role.STAFF], world["number"])
    assert log_rows(engine) == [("u_staff", "staff", "export", world["number"])]


def test_staff_sees_the_events_of_the_case_page(engine, world):
    staff = world["actors"][Role.STAFF]
    with unit_of_work(engine) as s:
        view = cases.open_case(s, actor=staff, number=world["number"])
    text = pdf_text(export(engine, staff, world["number"]))
    assert f"Ereignisse ({len(view.events)})" in text
    for label in ("Fall angelegt", "Status geändert", "Notiz hinzugefügt"):
        assert label in text


def test_legal_note_text_is_never_in_the_chronicle(engine, world):
    text = pdf_text(export(engine, world["actors"][Role.LAWYER], world["number"]))
    assert "Sichtbarkeit: Juristisch" in text
    assert LEGAL_TEXT not in " ".join(text.split())


def test_user_text_in_details_is_printed_literally(engine, world):
    text = " ".join(pdf_text(export(engine, world["actors"][Role.STAFF], world["number"])).split())
    assert "Begründung: <b>doppelt</b> & erfasst" in text
    assert "Status: Prüfung → Storniert" in text


def test_intact_chain_and_its_head_are_printed(engine, world):
    with unit_of_work(engine) as s:
        head = cases.get_case(s, number=world["number"]).last_event_hash
    text = pdf_text(export(engine, world["actors"][Role.ADMIN], world["number"]))
    assert "Ereigniskette geprüft: intakt" in text
    assert f"Kettenkopf: {head}" in text


def test_a_tampered_event_shows_as_broken(engine, world):
    with unit_of_work(engine) as s:
        case_id = cases.get_case(s, number=world["number"]).id
    with engine.begin() as conn:  # bypass the ORM, as an attacker with database access would
        conn.execute(text("UPDATE case_events SET actor_name = 'Mallory' WHERE case_id = :c AND seq = 2"),
                     {"c": case_id})
    text_ = pdf_text(export(engine, world["actors"][Role.ADMIN], world["number"]))
    assert "Ereigniskette geprüft: unterbrochen bei Ereignis 2" in text_
    assert "Mallory" in text_


# --- the batch as ZIP (admins) --------------------------------------------------------------------


def test_zip_holds_one_pdf_per_case_named_by_number(engine, world):
    numbers = [world["number"], make_case(engine), make_case(engine)]
    data = chronicle.chronicles_zip(engine, actor=world["actors"][Role.ADMIN], numbers=numbers)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.namelist() == [f"{n}.pdf" for n in numbers]
    for number in numbers:
        assert f"Fallchronik {number}" in pdf_text(archive.read(f"{number}.pdf"))


def test_zip_reports_progress_after_each_case(engine, world):
    numbers = [world["number"], make_case(engine), make_case(engine)]
    calls = []
    chronicle.chronicles_zip(engine, actor=world["actors"][Role.ADMIN], numbers=numbers,
                             progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_zip_logs_every_case(engine, world):
    other = make_case(engine)
    chronicle.chronicles_zip(engine, actor=world["actors"][Role.ADMIN], numbers=[world["number"], other])
    assert log_rows(engine) == [("u_admin", "admin", "export", world["number"]), ("u_admin", "admin", "export", other)]


def test_a_legacy_number_is_found_ignoring_case_and_named_safely(engine, world):
    legacy = make_case(engine)
    with unit_of_work(engine) as s:  # an imported legacy file number is kept as it was
        cases.get_case(s, number=legacy).number = "az-7/2019"
    data = chronicle.chronicles_zip(engine, actor=world["actors"][Role.ADMIN], numbers=["AZ-7/2019"])
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["az-7_2019.pdf"]


def test_zip_with_an_unknown_number_builds_and_logs_nothing(engine, world):
    with pytest.raises(ValidationError, match="SP-1999-000001"):
        chronicle.chronicles_zip(engine, actor=world["actors"][Role.ADMIN],
                                 numbers=[world["number"], "SP-1999-000001"])
    assert log_rows(engine) == []


def test_zip_needs_at_least_one_case(engine, world):
    with pytest.raises(ValidationError, match="mindestens einen Fall"):
        chronicle.chronicles_zip(engine, actor=world["actors"][Role.ADMIN], numbers=[" "])


@pytest.mark.parametrize("role", [Role.STAFF, Role.LAWYER, Role.MANAGER])
def test_zip_is_for_admins_only(engine, world, role):
    with pytest.raises(PermissionDenied):
        chronicle.chronicles_zip(engine, actor=world["actors"][role], numbers=[world["number"]])


def test_select_cases_by_status_and_intake_date(engine, world):
    today = now()
    old = make_case(engine, received_at=today - timedelta(days=40))
    recent = make_case(engine, received_at=today - timedelta(days=2))
    admin = world["actors"][Role.ADMIN]
    with unit_of_work(engine) as s:
        received = chronicle.select_cases(s, actor=admin, statuses=(CaseStatus.RECEIVED,),
                                          received_from=(today - timedelta(days=10)).date())
        everything = chronicle.select_cases(s, actor=admin)
    assert (received.total, received.numbers) == (1, [recent])
    assert everything.total == 3 and old in everything.numbers and world["number"] in everything.numbers


def test_select_cases_refuses_a_range_that_ends_before_it_starts(engine, world):
    with pytest.raises(ValidationError, match="Ende des Zeitraums"), unit_of_work(engine) as s:
        chronicle.select_cases(s, actor=world["actors"][Role.ADMIN], received_from=date(2026, 5, 2),
                               received_to=date(2026, 5, 1))


# --- the command line, end to end (SQLite file) -------------------------------------------------


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "DATA_DIR": str(tmp_path / "data"),
           "APP_MODE": "demo", "SECRETS_PATH": str(tmp_path / "none.toml")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    assert run("init-db").returncode == 0
    run.url = env["DATABASE_URL"]
    return run


@pytest.fixture
def cli_case(cli):
    from db.engine import make_engine

    engine = make_engine(cli.url)
    number = make_case(engine)
    yield engine, number
    engine.dispose()


def test_cli_writes_the_chronicle(cli, cli_case, tmp_path):
    _, number = cli_case
    target = tmp_path / "out.pdf"
    result = cli("chronicle", number, "-o", str(target))
    assert (result.returncode, result.stderr) == (0, "")
    assert f"Fallchronik {number}" in pdf_text(target.read_bytes())


def test_cli_export_is_logged_as_system(cli, cli_case, tmp_path):
    engine, number = cli_case
    cli("chronicle", number, "-o", str(tmp_path / "out.pdf"))
    assert log_rows(engine) == [(SYSTEM.username, "admin", "export", number)]


def test_cli_unknown_case_exits_2_and_writes_nothing(cli, cli_case, tmp_path):
    target = tmp_path / "out.pdf"
    result = cli("chronicle", "SP-1999-999999", "-o", str(target))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "Fehler: Fall SP-1999-999999 nicht gefunden.\n"
    assert list(tmp_path.glob("out.pdf*")) == []


def test_cli_unwritable_target_is_a_clear_error(cli, cli_case, tmp_path):
    engine, number = cli_case
    result = cli("chronicle", number, "-o", str(tmp_path / "missing" / "out.pdf"))
    assert result.returncode == 1
    assert result.stderr.startswith("Fehler: Die Datei ") and "kann nicht geschrieben werden" in result.stderr
    assert log_rows(engine) == []
