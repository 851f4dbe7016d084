"""The claim letter PDF: references, amount lines in German format, the approver, escaped user text."""

import io
from datetime import date

from pypdf import PdfReader

from reports.claim_letter import ClaimLetterData, claim_letter_pdf


def letter(**changes) -> ClaimLetterData:
    base = {
        "sender": "Schadenportal", "insurer_name": "HUK-COBURG", "insurer_address": "schaden@huk.example",
        "letter_date": date(2026, 11, 23), "case_number": "SP-2026-000123", "claim_number": "KS-4711",
        "policy_number": "VS-123456", "client_name": "Erika Mustermann", "plate": "B-AB 1234",
        "incident_date": date(2026, 11, 20), "damage_type": "Glasschaden", "partner": "Autoglas Nord",
        "subject": "Forderung zum Schaden KS-4711", "paragraphs": ("Sehr geehrte Damen und Herren,", "wir fordern."),
        "amount_claimed_cents": 123_456, "invoice_gross_cents": 138_456, "deductible_cents": 15_000,
        "signer_name": "Sven Sachbearbeiter", "signer_role": "Sachbearbeitung",
    }
    return ClaimLetterData(**{**base, **changes})


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_letter_shows_references_client_and_amount():
    text = text_of(claim_letter_pdf(letter()))
    for expected in ("SP-2026-000123", "KS-4711", "VS-123456", "Erika Mustermann", "B-AB 1234", "20.11.2026",
                     "HUK-COBURG", "Autoglas Nord", "Sven Sachbearbeiter"):
        assert expected in text


def test_amount_lines_are_formatted_in_german():
    text = text_of(claim_letter_pdf(letter()))
    assert "1.384,56 €" in text
    assert "-150,00 €" in text
    assert "1.234,56 €" in text


def test_without_invoice_only_the_claimed_amount_is_listed():
    text = text_of(claim_letter_pdf(letter(invoice_gross_cents=None, deductible_cents=None)))
    assert "1.234,56 €" in text
    assert "Rechnungsbetrag" not in text


def test_page_x_of_y_in_the_footer():
    pdf = claim_letter_pdf(letter(paragraphs=tuple(f"Absatz {i} " + "Text " * 80 for i in range(30))))
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) > 1
    assert [f"Seite {i} von {len(pages)}" in p.extract_text() for i, p in enumerate(pages, 1)] == [True] * len(pages)


def test_short_letter_is_one_page():
    assert "Seite 1 von 1" in text_of(claim_letter_pdf(letter()))


def test_lawyers_approval_is_marked_as_signed():
    assert "gezeichnet" in text_of(claim_letter_pdf(letter(signed=True)))
    assert "gezeichnet" not in text_of(claim_letter_pdf(letter(signed=False)))


def test_markup_in_user_text_is_shown_literally():
    pdf = claim_letter_pdf(letter(client_name="<b>Erika</b> & Co", paragraphs=("<font size=40>laut</font>",)))
    text = text_of(pdf)
    assert "<b>Erika</b> & Co" in text
    assert "<font size=40>laut</font>" in text


def test_same_data_gives_the_same_bytes():
    assert claim_letter_pdf(letter()) == claim_letter_pdf(letter())
