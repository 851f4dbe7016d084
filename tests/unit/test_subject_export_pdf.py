"""The data-subject export PDF (reports.subject_export): what it shows, read back with pypdf."""

import io

import pypdf

from core.i18n import t
from reports.subject_export import subject_export_pdf, value_text

AT = "2026-12-04T09:30:00+00:00"


def export_data(*, events: int = 3, **case) -> dict:
    return {
        "format": "schadenportal-subject-export/1", "generated_at": AT, "generated_by": "admin1",
        "request": {"email": "erika@example.org", "person_ids": [7]},
        "persons": [{"id": 7, "first_name": "Erika", "last_name": "Mustermann", "email": "erika@example.org",
                     "phone": "", "street": "Musterweg 1", "postal_code": "10115", "city": "Berlin",
                     "legal_basis": "consent", "legal_basis_at": "2026-01-31T23:00:00+00:00",
                     "pseudonymised_at": None, "created_at": AT}],
        "cases": [{
            "number": "SP-2026-000123", "status": "closed", "damage_type": "glass", "plate": "B-EM 4711",
            "amount_claimed_cents": 123456, "legal_hold": False, "incident_date": "2026-02-28",
            "events": [{"seq": i, "at": AT, "actor_name": "Clara Clerk", "actor_role": "staff",
                        "action": "status_changed", "details": {"from": "received", "to": "review"},
                        "redacted_at": None} for i in range(1, events + 1)],
            "notes": [{"visibility": "internal", "body": "Frau Mustermann rief an", "created_at": AT,
                       "author": "clerk"}],
            "documents": [{"kind": "photo", "title": "", "created_at": AT, "versions": [
                {"version": 1, "original_name": "Scheibe.png", "mime": "image/png", "size": 2048, "sha256": "ab",
                 "uploaded_at": AT, "uploaded_by": "clerk"}]}],
            "survey": None, "mails": [], "recipients": [], "access_log": [],
            **case,
        }],
        "other_mails": [], "client_links": "Links werden nicht gespeichert.",
    }


def pdf_text(data: dict) -> tuple[str, int]:
    reader = pypdf.PdfReader(io.BytesIO(subject_export_pdf(data)))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_shows_person_case_and_lists_in_german():
    text, _ = pdf_text(export_data())
    assert t("subject.pdf_title") in text
    assert "Mustermann" in text and "Musterweg 1" in text
    assert "Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)" in text  # the legal basis by its label
    assert "01.02.2026 00:00" in text  # dates in Berlin time
    assert "Fall SP-2026-000123" in text and "1.234,56 €" in text and "28.02.2026" in text
    assert "Frau Mustermann rief an" in text and "Scheibe.png" in text
    assert t("subject.sec_survey") in text and t("subject.pdf_none") in text


def test_every_page_says_page_x_of_y():
    text, pages = pdf_text(export_data(events=300))
    assert pages > 3
    for page in range(1, pages + 1):
        assert t("subject.pdf_page").format(page=page, pages=pages) in text


def test_user_text_is_escaped_not_markup():
    text, _ = pdf_text(export_data(notes=[{"visibility": "internal", "body": "<b>fett</b> & <font size=40>x</font>",
                                           "created_at": AT, "author": "clerk"}]))
    assert "<b>fett</b> & <font size=40>x</font>" in text


def test_event_details_and_redactions_read_as_text():
    details = {"from": "claim_sent", "to": "closed", "reason": "[gelöscht]"}
    assert value_text("details", details) == "Forderung versendet → Abgeschlossen; reason: [gelöscht]"
    assert value_text("amount_paid_cents", None) == "–"
    assert value_text("legal_hold", True) == "ja"
