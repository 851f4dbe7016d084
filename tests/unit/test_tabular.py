"""CSV and XLSX builders: German Excel conventions, readable files, formula cells neutralised (§10)."""

import csv
import io

import openpyxl
import pytest

from reports.tabular import neutralise, to_csv, to_xlsx

ROWS = [
    {"Fallnummer": "SP-2026-000001", "Mandant/in": "Erika Müller", "Forderung": "1.234,56 €"},
    {"Fallnummer": "SP-2026-000002", "Mandant/in": "Jörg Öztürk; GmbH", "Forderung": ""},
]
DANGEROUS = [
    "=1+1", "+49 30 123", "-2+3", "@SUM(A1:A2)", "  =HYPERLINK(\"http://x\")", "\t=1", "\r=1", "\tplain", "\rplain",
    "\n=cmd|' /C calc'!A0", "\u00a0=1+1",
]
HARMLESS = ["Müller", "SP-2026-000001", "1.234,56 €", "a=b", "E-Mail", "", "'=schon neutral"]


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))


def read_xlsx(data: bytes, sheet: str = "Fälle") -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(data))[sheet].iter_rows(values_only=True))


def test_csv_has_bom_semicolons_and_crlf():
    data = to_csv(ROWS)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data[3:].decode("utf-8").split("\r\n")
    assert lines[0] == "Fallnummer;Mandant/in;Forderung"
    assert lines[1] == "SP-2026-000001;Erika Müller;1.234,56 €"
    assert lines[2] == 'SP-2026-000002;"Jörg Öztürk; GmbH";' and lines[3] == ""
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_csv_round_trips_through_a_csv_reader():
    assert read_csv(to_csv(ROWS)) == [list(ROWS[0]), *[list(r.values()) for r in ROWS]]


def test_xlsx_is_readable_with_header_and_rows():
    rows = read_xlsx(to_xlsx(ROWS))
    assert rows[0] == ("Fallnummer", "Mandant/in", "Forderung")
    assert rows[1] == ("SP-2026-000001", "Erika Müller", "1.234,56 €")
    assert rows[2][:2] == ("SP-2026-000002", "Jörg Öztürk; GmbH")


def test_xlsx_sheet_name_can_be_chosen():
    assert read_xlsx(to_xlsx(ROWS, sheet="Export"), sheet="Export")[0][0] == "Fallnummer"


def test_empty_export_has_only_the_given_header():
    assert read_csv(to_csv([], columns=["Fallnummer", "Status"])) == [["Fallnummer", "Status"]]
    assert read_xlsx(to_xlsx([], columns=["Fallnummer", "Status"])) == [("Fallnummer", "Status")]


@pytest.mark.parametrize("value", DANGEROUS, ids=repr)
def test_dangerous_text_gets_a_leading_quote(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS, ids=repr)
def test_harmless_text_is_unchanged(value):
    assert neutralise(value) == value


def test_numbers_are_not_text_and_stay_numbers():
    assert neutralise(-5) == -5 and neutralise(1.5) == 1.5 and neutralise(None) is None


@pytest.mark.parametrize("value", DANGEROUS, ids=repr)
def test_csv_neutralises_every_dangerous_prefix(value):
    cells = read_csv(to_csv([{"Mandant/in": value}]))[1]
    assert cells == ["'" + value]


@pytest.mark.parametrize("value", DANGEROUS, ids=repr)
def test_xlsx_neutralises_every_dangerous_prefix(value):
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx([{"Mandant/in": value}])))
    cell = book["Fälle"]["A2"]
    assert cell.data_type == "s"  # text, never a formula
    assert cell.value == "'" + value


def test_header_cells_are_neutralised_too():
    assert read_csv(to_csv([{"=Kopf": "x"}]))[0] == ["'=Kopf"]
    assert read_xlsx(to_xlsx([{"=Kopf": "x"}]))[0] == ("'=Kopf",)


def test_xlsx_drops_control_characters_before_neutralising():
    cell = read_xlsx(to_xlsx([{"a": "\x01=1+1", "b": "Zeile\x0bzwei"}]))[1]
    assert cell == ("'=1+1", "Zeilezwei")
