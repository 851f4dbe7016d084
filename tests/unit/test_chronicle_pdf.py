"""The case chronicle PDF (Fallchronik, §11): events in order, page x of y, chain head, escaping, German details."""

import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pypdf import PdfReader

from core.chronicle import describe_details, parse_case_numbers, zip_name
from reports.chronicle import ChronicleData, ChronicleEvent, chronicle_pdf

HEAD = "3f" * 32
START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def event(seq: int, *, details: str = "", actor: str = "Clara Clerk", at: datetime | None = None) -> ChronicleEvent:
    return ChronicleEvent(seq=seq, at=at or START + timedelta(minutes=seq), actor=actor, role="Sachbearbeitung",
                          action="Status geändert", details=details or f"Schritt-{seq:03d}")


DATA = ChronicleData(
    number="SP-2026-000123", status="Prüfung", damage_type="Glasschaden", insurer="HUK-COBURG",
    insurer_claim_number="KS-99-1", policy_number="VS-4711", client="Jörg Weiß", plate="M-ÄB 123",
    broker="Büro Eins", partner="Glas Özdemir GmbH", clerk="Clara Clerk", received_at=START,
    claim_letter_sent_at=START + timedelta(hours=20), paid_at=None, closed_at=None, cancelled_at=None,
    amount_claimed_cents=123_456, amount_paid_cents=None, status_reason="",
    events=tuple(event(n) for n in range(1, 6)), chain_ok=True, chain_broken_at=None, chain_head=HEAD,
    generated_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
)


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_every_event_is_printed_in_order():
    text = "".join(pages_text(chronicle_pdf(DATA)))
    positions = [text.index(f"Schritt-{n:03d}") for n in range(1, 6)]
    assert positions == sorted(positions)


def test_header_shows_the_case_facts():
    text = pages_text(chronicle_pdf(DATA))[0]
    for value in ("Fallchronik SP-2026-000123", "Prüfung", "Glasschaden", "HUK-COBURG", "KS-99-1", "Jörg Weiß",
                  "M-ÄB 123", "Glas Özdemir GmbH", "Clara Clerk", "Büro Eins", "1.234,56 €",
                  "01.03.2026 09:00:00", "02.03.2026 05:00:00"):
        assert value in text, value


def test_times_are_shown_in_berlin_time():
    late = replace(DATA, events=(event(1, at=datetime(2026, 7, 1, 22, 30, tzinfo=UTC)),))
    assert "02.07.2026 00:30:00" in pages_text(chronicle_pdf(late))[0]


def test_actor_role_and_action_are_printed():
    text = pages_text(chronicle_pdf(DATA))[0]
    assert "Clara Clerk" in text and "(Sachbearbeitung)" in text and "Status geändert" in text


def test_intact_chain_is_stated_in_the_header():
    assert "Ereigniskette geprüft: intakt" in pages_text(chronicle_pdf(DATA))[0]


def test_broken_chain_names_the_first_broken_event():
    broken = replace(DATA, chain_ok=False, chain_broken_at=4)
    text = pages_text(chronicle_pdf(broken))[0]
    assert "Ereigniskette geprüft: unterbrochen bei Ereignis 4" in text
    assert "intakt" not in text


def test_markup_in_user_text_is_printed_literally():
    hostile = '<b>fett</b> & <font color="red">rot</font>'
    data = replace(DATA, events=(event(1, details=f"Begründung: {hostile}", actor="<i>Eve</i>"),),
                   client="<b>Kunde</b>")
    text = " ".join(pages_text(chronicle_pdf(data))[0].split())  # a long cell wraps
    assert hostile in text
    assert "<i>Eve</i>" in text and "<b>Kunde</b>" in text


def test_300_events_span_several_pages_with_page_x_of_n_on_each():
    data = replace(DATA, events=tuple(event(n) for n in range(1, 301)))
    pages = pages_text(chronicle_pdf(data))
    assert len(pages) > 3
    for number, text in enumerate(pages, start=1):
        assert f"Seite {number} von {len(pages)}" in text


def test_300_events_are_all_printed_in_order():
    data = replace(DATA, events=tuple(event(n) for n in range(1, 301)))
    text = "".join(pages_text(chronicle_pdf(data)))
    assert re.findall(r"Schritt-(\d{3})", text) == [f"{n:03d}" for n in range(1, 301)]


def test_every_page_carries_the_chain_head_and_the_generation_time():
    data = replace(DATA, events=tuple(event(n) for n in range(1, 120)))
    pages = pages_text(chronicle_pdf(data))
    assert len(pages) > 1
    for text in pages:
        assert f"Kettenkopf: {HEAD}" in text
        assert "Fallchronik SP-2026-000123 · erstellt am 02.11.2026 10:30:00" in text


def test_overlong_details_are_cut_so_the_row_fits_a_page():
    data = replace(DATA, events=(event(1, details="x " * 20_000),))
    text = "".join(pages_text(chronicle_pdf(data)))
    assert "…" in text


def test_details_with_more_lines_than_a_page_holds_are_cut_so_the_row_fits_a_page():
    data = replace(DATA, events=(event(1, details="Zeile\n" * 1_000), event(2)))
    text = "".join(pages_text(chronicle_pdf(data)))
    assert "Zeile …" in text
    assert "Schritt-002" in text


def test_2500_events_print_every_sequence_number_in_order():
    data = replace(DATA, events=tuple(event(n, details="Schritt") for n in range(1, 2_501)))
    text = "\n".join(pages_text(chronicle_pdf(data)))
    # each row begins with its number, then its time
    assert re.findall(r"(?m)^(\d+)\s+\d\d\.\d\d\.\d{4} ", text) == [str(n) for n in range(1, 2_501)]


def test_a_case_without_events_says_so():
    assert "Keine Ereignisse." in pages_text(chronicle_pdf(replace(DATA, events=())))[0]


def test_status_change_details_read_in_german():
    text = describe_details("status_changed", {"from": "claim_sent", "to": "paid", "amount_paid_cents": 98_765})
    assert text == "Status: Forderung versendet → Zahlung eingegangen\nGezahlt: 987,65 €"


def test_upload_details_use_labels_and_sizes():
    text = describe_details("document_uploaded", {"kind": "invoice", "version": 2, "name": "r.pdf", "size": 20480})
    assert text == "Art: Rechnung\nVersion: 2\nDatei: r.pdf\nGröße: 20 KB"


def test_flags_and_visibility_read_in_german():
    assert describe_details("invoice_submitted", {"workshop_bond": True}) == "Werkstattbindung: ja"
    assert describe_details("note_added", {"visibility": "legal"}) == "Sichtbarkeit: Juristisch"
    assert describe_details("partner_assigned", {"origin": "override"}) == (
        "Zuweisung: manuell durch die Sachbearbeitung")


def test_unknown_detail_keys_are_kept_as_they_are():
    assert describe_details("custom", {"foo": "bar"}) == "foo: bar"


def test_pasted_case_numbers_are_split_and_deduplicated_in_order():
    assert parse_case_numbers(" SP-2026-000002\nSP-2026-000001, SP-2026-000002;az-7/2019  ") == [
        "SP-2026-000002", "SP-2026-000001", "az-7/2019"]


def test_zip_names_are_the_case_number_with_unsafe_characters_replaced():
    assert zip_name("SP-2026-000123") == "SP-2026-000123.pdf"
    assert zip_name("../AZ 12/2019") == ".._AZ_12_2019.pdf"
