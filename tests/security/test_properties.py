"""Property-based checks (hypothesis) of the validators and the import parser: for any input they either
return a value that validates again unchanged, or raise the documented ValidationError — never anything else.
(Plates, valid VINs, postal-code ranges and valid import rows: tests/unit/test_validation.py and
tests/unit/test_import_parser.py.)"""

from __future__ import annotations

import csv
import io
import string
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core import validation as v
from core.errors import ValidationError
from core.import_parse import REQUIRED, parse_rows
from core.money import format_eur, parse_eur

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TEXT = st.text(max_size=40)
IBAN_ALPHABET = string.ascii_uppercase + string.digits


def revalidates(check, value):
    """check(value) raises ValidationError, or returns a value that check() returns unchanged."""
    try:
        normal = check(value)
    except ValidationError as exc:
        assert str(exc)  # a message for the user
        return None
    assert check(normal) == normal
    return normal


@given(TEXT)
def test_vin_never_crashes_and_its_output_revalidates(text):
    revalidates(v.vin, text)


@given(st.one_of(TEXT, st.from_regex(r"\A\s?[0-9]{5}\s?\Z")))
def test_postal_code_never_crashes_and_its_output_revalidates(text):
    normal = revalidates(v.postal_code, text)
    assert normal is None or (len(normal) == 5 and normal.isdigit())


@given(st.one_of(TEXT, st.from_regex(r"\A[A-Z]{2}[0-9]{2}[A-Z0-9 ]{10,30}\Z")))
def test_iban_never_crashes_and_its_output_revalidates(text):
    normal = revalidates(v.iban, text)
    assert normal is None or " " not in normal


@st.composite
def ibans(draw):
    """A valid IBAN: country, computed mod-97 check digits, account part (German ones 18 digits)."""
    country = draw(st.sampled_from(["DE", "AT", "NL", "FR"]))
    if country == "DE":
        bban = draw(st.text(string.digits, min_size=18, max_size=18))
    else:
        bban = draw(st.text(IBAN_ALPHABET, min_size=12, max_size=26))
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


@given(ibans(), st.booleans())
def test_every_valid_iban_is_accepted_with_or_without_spaces(iban, spaced):
    shown = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if spaced else iban
    assert v.iban(shown.lower() if spaced else shown) == iban


@given(ibans(), st.data())
def test_a_changed_digit_in_a_valid_iban_is_refused(iban, data):
    """mod 97 catches every change of one digit into another digit."""
    position = data.draw(st.sampled_from([i for i, ch in enumerate(iban) if ch.isdigit() and i >= 2]))
    digit = data.draw(st.sampled_from([d for d in string.digits if d != iban[position]]))
    changed = iban[:position] + digit + iban[position + 1:]
    try:
        v.iban(changed)
    except ValidationError:
        return
    raise AssertionError(f"{changed} accepted")


@given(st.one_of(TEXT, st.from_regex(r"\A-?[0-9.,]{1,20}( ?€)?\Z"), st.sampled_from(
    ["1e999999", "1E+30", "NaN", "Infinity", "-0", "0,001", "9" * 40, "1.234,56", "1,2,3"])))
def test_amounts_never_crash_and_are_whole_non_negative_cents(text):
    try:
        cents = parse_eur(text)
    except ValidationError:
        return
    assert isinstance(cents, int) and cents >= 0


@given(st.integers(0, 10**15))
def test_amounts_round_trip_through_the_german_format(cents):
    shown = format_eur(cents)
    assert parse_eur(shown) == cents
    assert parse_eur(Decimal(cents) / 100) == cents
    assert parse_eur(f"{cents // 100}.{cents % 100:02d}", decimal_comma=False) == cents


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_the_import_parser_raises_nothing_but_validation_errors_on_any_file(data):
    try:
        rows, errors = parse_rows(data, now=NOW)
    except ValidationError:
        return
    assert all(e.line >= 2 and e.reason for e in errors)
    assert len({r.line for r in rows} & {e.line for e in errors}) == 0


CELL = st.one_of(TEXT, st.sampled_from(["", "2024-02-30T10:00:00Z", "2024-01-01T10:00:00", "1e999", "-1", "NaN",
                                        "glass", "accident", "=1+1", "10115", "０１２３４"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({c: CELL for c in REQUIRED}, optional={
    c: CELL for c in ("amount_claimed", "amount_paid", "paid_at", "closed_at", "nps_score", "callbacks", "plate",
                      "client_email", "claim_letter_sent_at", "cancelled_at")}), min_size=1, max_size=4))
def test_any_cell_values_give_rows_or_row_errors_never_a_crash(rows):
    columns = sorted({key for row in rows for key in row})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    try:
        parsed, errors = parse_rows(out.getvalue(), now=NOW)
    except ValidationError:
        return
    assert len(parsed) + len(errors) <= len(rows)
