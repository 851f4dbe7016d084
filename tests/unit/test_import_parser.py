"""The import file parser (pure): columns, field rules, consistency rules, line numbers, derived timeline."""

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.enums import CaseStatus as S
from core.enums import DamageType, PartnerKind
from core.importer import OPTIONAL, REQUIRED, ImportFileError, parse_rows, transitions
from core.lifecycle import TRANSITIONS

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
COLUMNS = [*REQUIRED, *OPTIONAL]
BASE = {
    "received_at": "2026-03-02T09:00:00+01:00", "damage_type": "glass", "insurer": "HUK-COBURG",
    "client_name": "Erika Mustermann", "postal_code": "10115",
}
LETTER = {**BASE, "claim_letter_sent_at": "2026-03-03T10:00:00Z", "amount_claimed": "812.40"}
PAID = {**LETTER, "paid_at": "2026-03-20T10:00:00Z", "amount_paid": "800.05"}
CLOSED = {**PAID, "closed_at": "2026-03-25T10:00:00Z"}
QUERY = {**LETTER, "query_received_at": "2026-03-05T10:00:00Z"}


def csv_text(*rows: dict, columns: list[str] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def parse(*rows: dict, columns: list[str] = COLUMNS):
    return parse_rows(csv_text(*rows, columns=columns), now=NOW)


def only_error(row: dict):
    """The single error of a file whose first row is good and whose second row is `row` (line 3)."""
    rows, errors = parse(BASE, row)
    assert [r.line for r in rows] == [2]
    assert len(errors) == 1
    assert errors[0].line == 3
    return errors[0].reason


# --- the file as a whole ----------------------------------------------------------------------


def test_good_file_parses_completely():
    rows, errors = parse(
        BASE, LETTER, QUERY, {**QUERY, "query_answered_at": "2026-03-06T10:00:00Z"}, PAID,
        {**CLOSED, "nps_score": "9", "callbacks": "2"},
        {**QUERY, "closed_at": "2026-04-01T10:00:00Z", "amount_paid": "0"},
        {**LETTER, "cancelled_at": "2026-03-04T10:00:00Z"}, {**BASE, "cancelled_at": "2026-03-02T10:00:00Z"},
    )
    assert errors == []
    assert [r.line for r in rows] == list(range(2, 11))
    assert [r.status for r in rows] == [
        S.RECEIVED, S.CLAIM_SENT, S.INSURER_QUERY, S.CLAIM_SENT, S.PAID, S.CLOSED, S.CLOSED, S.CANCELLED,
        S.CANCELLED,
    ]


def test_typed_values():
    (row,), _ = parse({**CLOSED, "nps_score": "10", "callbacks": "3", "client_email": "erika@example.org",
                       "plate": "b-ab 123", "case_number": "AKTE 2019/42"})
    assert row.received_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert (row.amount_claimed_cents, row.amount_paid_cents) == (81240, 80005)
    assert (row.nps_score, row.callbacks, row.plate, row.case_number) == (10, 3, "B-AB 123", "AKTE 2019/42")
    assert (row.first_name, row.last_name, row.postal_code) == ("Erika", "Mustermann", "10115")
    assert row.damage_type == DamageType.GLASS and row.partner_kind == PartnerKind.GLASS


@pytest.mark.parametrize(
    ("name", "first", "last"), [("Max von Muster", "Max von", "Muster"), ("Cher", "", "Cher"), ("  A   B ", "A", "B")]
)
def test_client_name_is_split_at_the_last_space(name, first, last):
    (row,), _ = parse({**BASE, "client_name": name})
    assert (row.first_name, row.last_name) == (first, last)


@pytest.mark.parametrize(
    ("damage", "kind"),
    [("glass", PartnerKind.GLASS), ("accident", PartnerKind.APPRAISER), ("other", PartnerKind.WORKSHOP)],
)
def test_partner_kind_defaults_from_the_damage_type(damage, kind):
    (row,), _ = parse({**BASE, "damage_type": damage})
    assert row.partner_kind == kind


def test_partner_kind_given_wins():
    (row,), _ = parse({**BASE, "damage_type": "accident", "partner_kind": "workshop"})
    assert row.partner_kind == PartnerKind.WORKSHOP


def test_only_the_required_columns_are_enough():
    rows, errors = parse(BASE, columns=list(REQUIRED))
    assert errors == [] and len(rows) == 1


@pytest.mark.parametrize("bom", ["\ufeff", b"\xef\xbb\xbf"])
def test_a_bom_is_accepted(bom):
    text = csv_text(BASE)
    data = bom + text if isinstance(bom, str) else bom + text.encode()
    rows, errors = parse_rows(data, now=NOW)
    assert errors == [] and len(rows) == 1


def test_lines_are_accepted_as_well_as_text():
    rows, errors = parse_rows(csv_text(BASE, LETTER).splitlines(keepends=True), now=NOW)
    assert errors == [] and [r.status for r in rows] == [S.RECEIVED, S.CLAIM_SENT]


def test_crlf_line_endings():
    rows, errors = parse_rows(csv_text(BASE, LETTER).replace("\n", "\r\n"), now=NOW)
    assert errors == [] and len(rows) == 2


def test_missing_required_column_is_a_file_error():
    with pytest.raises(ImportFileError, match="Pflichtspalte fehlt: postal_code"):
        parse(BASE, columns=[c for c in COLUMNS if c != "postal_code"])


def test_unknown_column_is_a_file_error():
    with pytest.raises(ImportFileError, match="unbekannte Spalte: policy_number"):
        parse_rows(csv_text(BASE).replace("postal_code", "postal_code,policy_number", 1), now=NOW)


def test_duplicate_column_is_a_file_error():
    header = ",".join([*REQUIRED, "insurer"])
    with pytest.raises(ImportFileError, match="doppelte Spalte: insurer"):
        parse_rows(header + "\n", now=NOW)


def test_semicolon_separated_file_gets_a_clear_message():
    with pytest.raises(ImportFileError, match="Kommas"):
        parse_rows(";".join(REQUIRED) + "\n", now=NOW)


def test_empty_file_is_a_file_error():
    with pytest.raises(ImportFileError, match="leer"):
        parse_rows("", now=NOW)


def test_not_utf8_is_a_file_error_with_its_line():
    data = csv_text(BASE).encode() + "2026-03-02T09:00:00Z,glass,Württembergische,A B,10115\n".encode("latin-1")
    with pytest.raises(ImportFileError, match=r"nicht UTF-8.*Zeile 3"):
        parse_rows(data, now=NOW)


def test_header_only_gives_no_rows():
    assert parse_rows(",".join(REQUIRED) + "\n", now=NOW) == ([], [])


# --- line numbers -----------------------------------------------------------------------------


def test_blank_lines_are_skipped_and_line_numbers_stay_physical():
    text = csv_text(BASE) + "\n,,,,,,,,,,,,,,,,,,\n" + csv_text({**BASE, "postal_code": "1"}).split("\n", 1)[1]
    rows, errors = parse_rows(text, now=NOW)
    assert [r.line for r in rows] == [2]
    assert [e.line for e in errors] == [5]


def test_a_quoted_field_over_two_lines_counts_both():
    text = csv_text({**BASE, "insurer": "HUK\nCOBURG"}, {**BASE, "postal_code": "1"})
    rows, errors = parse_rows(text, now=NOW)
    assert [r.line for r in rows] == [2] and rows[0].insurer == "HUK COBURG"
    assert [e.line for e in errors] == [4]


def test_wrong_number_of_fields():
    text = ",".join(REQUIRED) + "\n2026-03-02T09:00:00Z,glass,HUK,A B\n"
    assert parse_rows(text, now=NOW)[1][0].reason == "Die Zeile hat 4 statt 5 Feldern."


def test_all_problems_of_a_row_are_reported_together():
    reason = only_error({**BASE, "postal_code": "1234", "damage_type": "fire"})
    assert "damage_type: „fire“ ist unbekannt" in reason and "postal_code: „1234“" in reason


# --- timestamps -------------------------------------------------------------------------------


def test_naive_timestamp_is_refused():
    assert only_error({**BASE, "received_at": "2026-03-02T09:00:00"}) == (
        "received_at: „2026-03-02T09:00:00“ hat keine Zeitzone (z. B. Z oder +01:00 anhängen)."
    )


def test_z_and_offset_are_both_accepted_and_stored_as_utc():
    rows, errors = parse({**BASE, "received_at": "2026-03-02T08:00:00Z"},
                         {**BASE, "received_at": "2026-03-02T10:00:00+02:00"})
    assert errors == []
    assert rows[0].received_at == rows[1].received_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert rows[0].received_at.utcoffset() == rows[1].received_at.utcoffset() == timedelta(0)


# --- one rule each ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({**BASE, "received_at": ""}, "received_at: Pflichtfeld ist leer."),
        ({**BASE, "received_at": "02.03.2026 09:00"},
         "received_at: „02.03.2026 09:00“ ist kein Zeitpunkt nach ISO 8601"),
        ({**BASE, "damage_type": "fire"}, "damage_type: „fire“ ist unbekannt (erlaubt: glass, accident, other)."),
        ({**BASE, "damage_type": ""}, "damage_type: Pflichtfeld ist leer."),
        ({**BASE, "partner_kind": "garage"},
         "partner_kind: „garage“ ist unbekannt (erlaubt: glass, appraiser, workshop)."),
        ({**BASE, "insurer": " "}, "insurer: Pflichtfeld ist leer."),
        ({**BASE, "client_name": ""}, "client_name: Pflichtfeld ist leer."),
        ({**BASE, "postal_code": "1011"}, "postal_code: „1011“ ist keine fünfstellige Postleitzahl."),
        ({**BASE, "postal_code": "1011A"}, "postal_code: „1011A“ ist keine fünfstellige Postleitzahl."),
        ({**BASE, "postal_code": ""}, "postal_code: Pflichtfeld ist leer."),
        ({**BASE, "client_email": "erika@"}, "client_email: „erika@“ ist keine gültige E-Mail-Adresse."),
        ({**BASE, "client_email": "erika mustermann@example.org"}, "ist keine gültige E-Mail-Adresse."),
        ({**BASE, "callbacks": "-1"}, "callbacks: „-1“ ist keine ganze Zahl von 0 bis 1000."),
        ({**BASE, "callbacks": "1.5"}, "callbacks: „1.5“ ist keine ganze Zahl"),
        ({**CLOSED, "nps_score": "11"}, "nps_score: „11“ ist keine ganze Zahl von 0 bis 10."),
        ({**CLOSED, "nps_score": "nine"}, "nps_score: „nine“ ist keine ganze Zahl von 0 bis 10."),
        ({**LETTER, "amount_claimed": "-5"}, "amount_claimed: Der Betrag darf nicht negativ sein."),
        ({**LETTER, "amount_claimed": "12.345"}, "amount_claimed: Ein Betrag hat höchstens zwei Nachkommastellen."),
        ({**LETTER, "amount_claimed": "12,50"},
         "amount_claimed: „12,50“ ist kein Betrag (Dezimalpunkt, z. B. 1234.56)."),
        ({**LETTER, "amount_claimed": "1e3"}, "amount_claimed: „1e3“ ist kein Betrag"),
        ({**BASE, "case_number": "X" * 33}, "case_number: zu lang (höchstens 32 Zeichen)."),
        ({**BASE, "received_at": "2026-06-01T12:00:01Z"}, "received_at: „2026-06-01T12:00:01Z“ liegt in der Zukunft."),
        ({**LETTER, "claim_letter_sent_at": "2026-07-01T10:00:00+02:00"},
         "claim_letter_sent_at: „2026-07-01T10:00:00+02:00“ liegt in der Zukunft."),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_field_rule(row, reason):
    assert reason in only_error(row)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({**LETTER, "claim_letter_sent_at": "2026-03-02T07:59:59Z"},
         "claim_letter_sent_at liegt vor dem Eingang (received_at)."),
        ({**QUERY, "query_received_at": "2026-03-03T09:00:00Z"}, "query_received_at liegt vor claim_letter_sent_at."),
        ({**QUERY, "query_answered_at": "2026-03-04T10:00:00Z"}, "query_answered_at liegt vor query_received_at."),
        ({**PAID, "paid_at": "2026-03-03T09:59:00Z"}, "paid_at liegt vor claim_letter_sent_at."),
        ({**CLOSED, "closed_at": "2026-03-19T10:00:00Z"}, "closed_at liegt vor paid_at."),
        ({**PAID, "amount_paid": ""}, "paid_at braucht amount_paid."),
        ({**PAID, "amount_claimed": ""}, "paid_at braucht amount_claimed."),
        ({**LETTER, "query_answered_at": "2026-03-06T10:00:00Z"}, "query_answered_at braucht query_received_at."),
        ({**BASE, "query_received_at": "2026-03-05T10:00:00Z"},
         "query_received_at braucht ein Forderungsschreiben (claim_letter_sent_at)."),
        ({**BASE, "paid_at": "2026-03-20T10:00:00Z", "amount_paid": "1", "amount_claimed": "1"},
         "paid_at braucht ein Forderungsschreiben (claim_letter_sent_at)."),
        ({**BASE, "closed_at": "2026-03-20T10:00:00Z"},
         "closed_at braucht ein Forderungsschreiben (claim_letter_sent_at)."),
        ({**CLOSED, "cancelled_at": "2026-03-26T10:00:00Z"},
         "closed_at und cancelled_at schließen sich aus (abgeschlossen oder storniert)."),
        ({**LETTER, "cancelled_at": "2026-03-03T09:00:00Z"}, "cancelled_at liegt vor claim_letter_sent_at."),
        ({**BASE, "cancelled_at": "2026-03-01T10:00:00Z"}, "cancelled_at liegt vor dem Eingang (received_at)."),
        ({**LETTER, "closed_at": "2026-04-01T10:00:00Z", "amount_paid": "10.00"},
         "Abgeschlossen ohne paid_at heißt: die Versicherung hat abgelehnt; amount_paid muss leer oder 0 sein."),
        ({**LETTER, "amount_paid": "10.00"}, "amount_paid ohne paid_at."),
        ({**PAID, "nps_score": "8"}, "nps_score nur bei abgeschlossenen Fällen (closed_at)."),
        ({**QUERY, "paid_at": "2026-03-20T10:00:00Z", "amount_paid": "1"},
         "Zahlung bei offener Rückfrage: query_answered_at fehlt."),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_consistency_rule(row, reason):
    assert only_error(row) == reason


@pytest.mark.parametrize(
    "row",
    [
        {**LETTER, "closed_at": "2026-04-01T10:00:00Z"},
        {**LETTER, "closed_at": "2026-04-01T10:00:00Z", "amount_paid": "0"},
        {**LETTER, "closed_at": "2026-04-01T10:00:00Z", "amount_paid": "0.00", "nps_score": "0"},
        {**BASE, "cancelled_at": "2026-03-02T08:00:00Z"},
        {**QUERY, "cancelled_at": "2026-03-05T10:00:00Z"},
        {**PAID, "cancelled_at": "2026-03-21T10:00:00Z"},
        {**LETTER, "claim_letter_sent_at": BASE["received_at"]},
        {**BASE, "received_at": "2026-06-01T12:00:00Z"},
    ],
    ids=["refused", "refused-0", "refused-survey", "cancel-at-intake", "cancel-in-query", "cancel-after-payment",
         "letter-at-intake", "received-now"],
)
def test_consistent_edge_cases_pass(row):
    rows, errors = parse(row)
    assert errors == [] and len(rows) == 1


# --- the derived timeline ---------------------------------------------------------------------


def test_refusal_closes_with_reason_and_cancellation_with_its_reason():
    (refused, cancelled), _ = parse({**QUERY, "closed_at": "2026-04-01T10:00:00Z"},
                                    {**LETTER, "cancelled_at": "2026-03-04T10:00:00Z"})
    assert [(t.src, t.dst, t.details) for t in transitions(refused)][-1] == (
        S.INSURER_QUERY, S.CLOSED, {"reason": "Versicherung hat abgelehnt"})
    assert transitions(cancelled)[-1].details == {"reason": "Import: storniert"}


def test_payment_step_carries_the_amount():
    (row,), _ = parse(CLOSED)
    assert [(t.dst, t.details) for t in transitions(row)] == [
        (S.REVIEW, {}), (S.CLAIM_SENT, {}), (S.PAID, {"amount_paid_cents": 80005}), (S.CLOSED, {}),
    ]


_OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=2)),
                            timezone(timedelta(hours=-5))])
_GAPS = st.integers(min_value=0, max_value=40 * 24 * 3600)
_MONEY = st.integers(min_value=0, max_value=10**9).map(lambda c: f"{c // 100}.{c % 100:02d}")


@st.composite
def valid_rows(draw):
    """A consistent row: milestones in lifecycle order, each with any time-zone offset, ending anywhere."""
    t = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 600 * 24 * 3600)))

    def stamp():
        nonlocal t
        t += timedelta(seconds=draw(_GAPS))
        return t.astimezone(draw(_OFFSETS)).isoformat().replace("+00:00", draw(st.sampled_from(["Z", "+00:00"])))

    row = {**BASE, "received_at": stamp(), "damage_type": draw(st.sampled_from(list(DamageType))),
           "callbacks": draw(st.sampled_from(["", "0", "3"]))}
    end = draw(st.sampled_from(["received", "claim_sent", "query", "answered", "paid", "closed", "refused"]))
    if end != "received":
        row |= {"claim_letter_sent_at": stamp(), "amount_claimed": draw(_MONEY)}
    if end in ("query", "answered", "paid", "closed", "refused") and draw(st.booleans()):
        row["query_received_at"] = stamp()
        if end != "query" and (end != "refused" or draw(st.booleans())):
            row["query_answered_at"] = stamp()
    if end in ("paid", "closed"):
        row |= {"paid_at": stamp(), "amount_paid": draw(_MONEY)}
    if end in ("closed", "refused"):
        row["closed_at"] = stamp()
        row["nps_score"] = draw(st.sampled_from(["", "0", "7", "10"]))
    if end == "refused":
        row["amount_paid"] = draw(st.sampled_from(["", "0", "0.00"]))
    elif end != "closed" and draw(st.booleans()):
        row["cancelled_at"] = stamp()
    return row


@settings(max_examples=300, deadline=None)
@given(st.lists(valid_rows(), min_size=1, max_size=5))
def test_valid_generated_rows_always_parse_and_follow_the_lifecycle(rows):
    parsed, errors = parse_rows(csv_text(*rows), now=datetime(2030, 1, 1, tzinfo=UTC))
    assert errors == []
    assert [r.line for r in parsed] == list(range(2, len(rows) + 2))
    for row in parsed:
        steps = transitions(row)
        assert all((t.src, t.dst) in TRANSITIONS for t in steps)
        assert [t.at for t in steps] == sorted(t.at for t in steps)
        assert all(t.at.utcoffset() == timedelta(0) for t in steps)
        assert row.status == (steps[-1].dst if steps else S.RECEIVED)
