"""Field validators: plate, VIN, postal code, e-mail, dates, IBAN (examples and properties)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import validation as v
from core.errors import ValidationError


@pytest.mark.parametrize(
    ("raw", "normal"),
    [("B-AB 1234", "B-AB 1234"), ("b ab 1234", "B-AB 1234"), ("M-XY 77E", "M-XY 77E"), ("HH-A 1", "HH-A 1"),
     ("KÖN-AB 12", "KÖN-AB 12"), ("", "")],
)
def test_plate_accepts_and_normalises(raw, normal):
    assert v.plate(raw) == normal


@pytest.mark.parametrize("raw", ["B-ABC 123", "B-AB 0123", "B AB", "1234", "ABCD-A 1", "B-AB 12345", "HH-AB 1234E"])
def test_plate_refuses(raw):
    with pytest.raises(ValidationError, match="Kennzeichen"):
        v.plate(raw)


def test_vin_accepts_european_vin_without_check_digit():
    assert v.vin("wvwzzz1jzxw000001") == "WVWZZZ1JZXW000001"


def test_vin_checks_the_north_american_check_digit():
    assert v.vin("1M8GDM9AXKP042788") == "1M8GDM9AXKP042788"
    with pytest.raises(ValidationError, match="Prüfziffer"):
        v.vin("1M8GDM9A1KP042788")


@pytest.mark.parametrize(("raw", "message"), [("WVWZZZ1JZXW00000", "17 Zeichen"), ("WVWZZZ1JZXW00000I", "unzulässige")])
def test_vin_refuses(raw, message):
    with pytest.raises(ValidationError, match=message):
        v.vin(raw)


@pytest.mark.parametrize("raw", ["1011", "123456", "abcde", "00000", "99999"])
def test_postal_code_refuses(raw):
    with pytest.raises(ValidationError, match="fünfstellig"):
        v.postal_code(raw)


@pytest.mark.parametrize("raw", ["a@b", "a b@c.de", "x@y.de\r\nBcc: z@w.de", "<a@b.de>", "a@b.d"])
def test_email_refuses(raw):
    with pytest.raises(ValidationError):
        v.email(raw)


def test_future_date_refused():
    with pytest.raises(ValidationError, match="Zukunft"):
        v.past_date(date(2030, 1, 1), today=date(2026, 1, 1), field="d")


def test_iban_checksum():
    assert v.iban("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    with pytest.raises(ValidationError, match="Prüfsumme"):
        v.iban("DE89 3704 0044 0532 0130 01")


@given(st.text(max_size=30))
def test_plate_never_crashes_and_output_revalidates(text):
    try:
        normal = v.plate(text)
    except ValidationError:
        return
    assert v.plate(normal) == normal


@given(st.text(alphabet="ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=17, max_size=17))
def test_vin_with_computed_check_digit_is_accepted(body):
    vin = "1" + body[1:8] + "0" + body[9:]
    vin = vin[:8] + v.vin_check_digit(vin) + vin[9:]
    assert v.vin(vin) == vin


@given(st.integers(min_value=1001, max_value=99998))
def test_every_real_postal_code_range_is_accepted(n):
    assert v.postal_code(f"{n:05d}") == f"{n:05d}"
