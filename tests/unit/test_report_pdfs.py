"""Assignment declaration and settlement statement PDFs: content, escaping, umlauts, page numbers (§11)."""

import io
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

from pypdf import PdfReader

from core.i18n import CATALOGS
from reports.declaration import DeclarationData, assignment_declaration_pdf
from reports.settlement import (
    SettlementLineData,
    SettlementStatementData,
    settlement_pdf,
)

MALICIOUS = '<b>Müller & Söhne</b> <font color="red">X</font>'

DECLARATION = DeclarationData(
    case_number="SP-2026-000123",
    client_name="Jörg Weiß",
    client_address="Hauptstraße 5\n80331 München",
    plate="M-ÄB 123",
    vin="WVWZZZ1JZXW000001",
    insurer="Allianz Versicherungs-AG",
    policy_number="VS-4711-0815",
    claim_number="KS-99-123456",
    incident_date=date(2026, 9, 28),
    damage_type="Glasschaden",
    partner_name="Glas Özdemir GmbH",
    partner_address="Ringstraße 1\n80333 München",
    created_on=date(2026, 10, 5),
)


def line(number: int) -> SettlementLineData:
    return SettlementLineData(
        case_number=f"SP-2026-{number:06d}", paid_on=date(2026, 10, 1 + number % 28), invoice_gross_cents=50_000,
        deductible_cents=15_000, paid_cents=35_000, commission_cents=3_500, payout_cents=31_500,
    )


STATEMENT = SettlementStatementData(
    statement_number="A-2026-10-0007",
    month="2026-10",
    partner_name="Glas Özdemir GmbH",
    partner_address="Ringstraße 1\n80333 München",
    iban="de89370400440532013000",
    commission_bp=1000,
    lines=(line(1), line(2), line(3)),
    paid_in_cents=123_456,
    commission_cents=12_346,
    payout_cents=111_110,
    created_on=date(2026, 11, 2),
)


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_declaration_shows_the_case_facts_and_the_partner():
    text = pages_text(assignment_declaration_pdf(DECLARATION))[0]
    for value in ("Jörg Weiß", "KS-99-123456", "SP-2026-000123", "M-ÄB 123", "Allianz Versicherungs-AG",
                  "Glas Özdemir GmbH", "VS-4711-0815", "28.09.2026", "WVWZZZ1JZXW000001"):
        assert value in text


def test_declaration_is_one_page_with_title_signature_fields_and_footer():
    pages = pages_text(assignment_declaration_pdf(DECLARATION))
    assert len(pages) == 1
    assert "Abtretungserklärung" in pages[0]
    assert "erfüllungshalber" in pages[0]
    assert "Ort, Datum" in pages[0] and "Unterschrift Mandant/in" in pages[0]
    assert "Fall SP-2026-000123 · erstellt am 05.10.2026" in pages[0]


def test_declaration_keeps_umlauts():
    text = pages_text(assignment_declaration_pdf(DECLARATION))[0]
    assert "Hauptstraße 5" in text and "80331 München" in text and "Schadenart" in text
    assert "Betrieb (Abtretungsempfänger)" in text


def test_declaration_shows_empty_values_as_dash():
    data = replace(DECLARATION, claim_number="", incident_date=None)
    text = pages_text(assignment_declaration_pdf(data))[0]
    assert "Schadennummer\n–" in text and "Schadentag\n–" in text


def test_declaration_prints_markup_in_names_literally():
    data = replace(DECLARATION, client_name=MALICIOUS, partner_name=MALICIOUS, insurer="A & B <i>Versicherung</i>")
    text = pages_text(assignment_declaration_pdf(data))[0]
    assert MALICIOUS in text
    assert "A & B <i>Versicherung</i>" in text


def test_declaration_is_byte_identical_for_the_same_data():
    assert assignment_declaration_pdf(DECLARATION) == assignment_declaration_pdf(DECLARATION)


def test_settlement_lists_each_case_number():
    text = pages_text(settlement_pdf(STATEMENT))[0]
    for number in ("SP-2026-000001", "SP-2026-000002", "SP-2026-000003"):
        assert number in text


def test_settlement_shows_header_month_and_date():
    text = pages_text(settlement_pdf(STATEMENT))[0]
    assert "Abrechnung Oktober 2026" in text
    assert "A-2026-10-0007" in text and "02.11.2026" in text and "Glas Özdemir GmbH" in text


def test_settlement_shows_line_amounts_in_euro():
    text = pages_text(settlement_pdf(STATEMENT))[0]
    for amount in ("500,00 €", "150,00 €", "350,00 €", "35,00 €", "315,00 €"):
        assert amount in text


def test_settlement_shows_totals_formatted_in_euro():
    text = pages_text(settlement_pdf(STATEMENT))[0]
    assert "Von Versicherungen gezahlt\n1.234,56 €" in text
    assert "123,46 €" in text
    assert "Auszahlung an Sie\n1.111,10 €" in text


def test_settlement_shows_the_commission_percent():
    text = pages_text(settlement_pdf(replace(STATEMENT, commission_bp=1250)))[0]
    assert "Provision Schadenportal (12,50 %)" in text


def test_settlement_shows_the_iban_in_groups_of_four():
    text = pages_text(settlement_pdf(STATEMENT))[0]
    assert "DE89 3704 0044 0532 0130 00" in text


def test_settlement_shows_a_missing_iban_as_dash():
    text = pages_text(settlement_pdf(replace(STATEMENT, iban="")))[0]
    assert "IBAN –" in text


def test_settlement_numbers_every_page_of_a_long_statement():
    pages = pages_text(settlement_pdf(replace(STATEMENT, lines=tuple(line(n) for n in range(120)))))
    total = len(pages)
    assert total > 1
    for number, text in enumerate(pages, start=1):
        assert f"Seite {number} von {total}" in text
    assert pages[-1].rstrip().endswith(f"Seite {total} von {total}")


def test_settlement_repeats_the_table_header_on_every_page_with_lines():
    pages = pages_text(settlement_pdf(replace(STATEMENT, lines=tuple(line(n) for n in range(120)))))
    with_lines = [text for text in pages if "SP-2026-" in text]
    assert len(with_lines) > 1
    for text in with_lines:
        assert "Fallnummer" in text and "Selbstbeteiligung" in text and "Auszahlung" in text


def test_settlement_lists_all_of_many_lines():
    text = "".join(pages_text(settlement_pdf(replace(STATEMENT, lines=tuple(line(n) for n in range(120))))))
    assert all(f"SP-2026-{n:06d}" in text for n in range(120))


def test_settlement_without_lines_says_there_were_no_payments():
    pages = pages_text(settlement_pdf(replace(STATEMENT, lines=(), paid_in_cents=0, commission_cents=0,
                                              payout_cents=0)))
    assert len(pages) == 1
    assert "Keine Zahlungen in diesem Monat" in pages[0]
    assert "Auszahlung an Sie\n0,00 €" in pages[0]
    assert "Seite 1 von 1" in pages[0]


def test_settlement_prints_markup_in_the_partner_name_literally():
    text = pages_text(settlement_pdf(replace(STATEMENT, partner_name=MALICIOUS, partner_address="A & B\n<br/>")))[0]
    assert MALICIOUS in text
    assert "A & B\n<br/>" in text


def test_every_pdf_catalog_key_used_in_reports_exists():
    keys = set()
    for path in (Path(__file__).resolve().parents[2] / "reports").glob("*.py"):
        keys |= set(re.findall(r"""\bt\(\s*["'](pdf\.[a-z_.]+)["']""", path.read_text(encoding="utf-8")))
    assert keys
    assert keys <= CATALOGS["de"].keys()
    assert all(f"pdf.month.{n}" in CATALOGS["de"] for n in range(1, 13))
