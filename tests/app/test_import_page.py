"""The import page (admin): check a CSV without writing, import it in one transaction, all-or-nothing."""

import pytest
from sqlalchemy import func, select

from core.cases import get_case
from core.enums import Role
from core.errors import PermissionDenied
from core.i18n import t
from core.importer import EXAMPLE_CSV, import_text, parse_rows, preview_import
from core.permissions import Actor
from db.engine import unit_of_work
from db.models import Case
from tests.app.conftest import texts

PAGE = "pages/admin_import.py"
HEADER = "received_at,damage_type,insurer,client_name,postal_code,case_number\n"
GOOD = (
    HEADER
    + "2025-03-02T09:00:00+01:00,glass,HUK-COBURG,Erika Mustermann,10115,ALT-1\n"
    + "2025-03-03T10:00:00Z,accident,Neue Versicherung AG,Max Muster,80331,ALT-2\n"
    + "2025-03-04T11:30:00+01:00,other,Allianz,Eva Beispiel,50667,ALT-3\n"
).encode()
BAD_LINE_3 = GOOD.replace(b"Max Muster,80331", b"Max Muster,803")
BAD_REASON = "postal_code: „803“ ist keine fünfstellige Postleitzahl."


def uploaded(world, data: bytes, *, skip_bad: bool = False):
    """The import page as admin with the file chosen (and the skip-bad box ticked if asked)."""
    at = world.app(Role.ADMIN, page=PAGE)
    at.file_uploader[0].upload("altbestand.csv", data, "text/csv")
    at.run()
    if skip_bad:
        at.checkbox[0].check().run()
    return at


def case_exists(world, number: str) -> bool:
    with unit_of_work(world.engine) as s:
        return get_case(s, number=number) is not None


def case_count(world) -> int:
    with unit_of_work(world.engine) as s:
        return s.scalar(select(func.count()).select_from(Case))


def rejected_rows(at) -> list[tuple[int, str]]:
    frame = at.dataframe[0].value
    return list(zip(frame[t("import.col_line")], frame[t("import.col_reason")]))


def test_page_explains_the_format(world):
    at = world.app(Role.ADMIN, page=PAGE)
    assert not at.exception
    shown = texts(at)
    assert "ISO-8601 mit Zeitzone" in shown and "Dezimalpunkt" in shown
    assert "`received_at`" in shown and "`callbacks`" in shown
    assert at.code[0].value == EXAMPLE_CSV.strip()
    assert at.checkbox[0].label == "Fehlerhafte Zeilen überspringen (--skip-bad)"


def test_the_example_on_the_page_is_a_valid_file():
    rows, errors = parse_rows(EXAMPLE_CSV)
    assert (len(rows), errors) == (2, [])


def test_check_counts_the_good_rows_and_writes_nothing(world):
    before = case_count(world)
    at = uploaded(world, GOOD)
    at.button(key="import_check").click().run()
    assert not at.exception
    assert t("import.preview", ok=3, bad=0) in texts(at)
    assert not at.dataframe
    assert case_count(world) == before


def test_check_lists_the_rejected_rows_with_line_and_reason(world):
    at = uploaded(world, BAD_LINE_3)
    at.button(key="import_check").click().run()
    assert t("import.preview", ok=2, bad=1) in texts(at)
    assert t("import.preview_blocked") in texts(at)
    assert rejected_rows(at) == [(3, BAD_REASON)]


def test_import_creates_the_cases(world):
    at = uploaded(world, GOOD)
    at.button(key="import_run").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["3 Fälle importiert"]
    assert all(case_exists(world, number) for number in ("ALT-1", "ALT-2", "ALT-3"))


def test_the_same_upload_cannot_be_imported_twice(world):
    at = uploaded(world, GOOD)
    at.button(key="import_run").click().run()
    at.run()
    assert at.button(key="import_run").disabled
    assert [s.value for s in at.success] == ["3 Fälle importiert"]


def test_a_bad_row_imports_nothing_and_shows_its_line(world):
    before = case_count(world)
    at = uploaded(world, BAD_LINE_3)
    at.button(key="import_run").click().run()
    assert t("import.nothing_imported", n=1) in texts(at)
    assert rejected_rows(at) == [(3, BAD_REASON)]
    assert case_count(world) == before
    assert not at.button(key="import_run").disabled


def test_skip_bad_imports_the_good_rows_and_lists_the_bad_one(world):
    at = uploaded(world, BAD_LINE_3, skip_bad=True)
    at.button(key="import_run").click().run()
    assert [s.value for s in at.success] == ["2 Fälle importiert"]
    assert t("import.nothing_imported", n=1) not in texts(at)
    assert rejected_rows(at) == [(3, BAD_REASON)]
    assert (case_exists(world, "ALT-1"), case_exists(world, "ALT-2"), case_exists(world, "ALT-3")) == (
        True, False, True)


@pytest.mark.parametrize("button", ["import_check", "import_run"])
def test_a_file_that_is_not_utf8_shows_why_and_writes_nothing(world, button):
    before = case_count(world)
    at = uploaded(world, GOOD.decode().replace("Erika", "Jörg").encode("cp1252"))
    at.button(key=button).click().run()
    assert [e.value for e in at.error] == [t("import.bad_encoding", line=2)]
    assert case_count(world) == before


def test_a_missing_column_shows_the_header_problem(world):
    at = uploaded(world, GOOD.replace(b",postal_code,", b",plz,"))
    at.button(key="import_run").click().run()
    assert "Pflichtspalte fehlt: postal_code" in at.error[0].value
    assert not at.dataframe


@pytest.mark.parametrize("role", [Role.STAFF, Role.MANAGER])
def test_core_refuses_preview_and_import_without_the_import_right(world, role):
    actor = Actor(user_id=world.users[role], username="x", display_name="x", role=role)
    with unit_of_work(world.engine) as s, pytest.raises(PermissionDenied):
        preview_import(s, actor=actor, data=GOOD)
    with unit_of_work(world.engine) as s, pytest.raises(PermissionDenied):
        import_text(s, actor=actor, data=GOOD, source_name="f.csv", skip_bad=False)
    assert not case_exists(world, "ALT-1")
