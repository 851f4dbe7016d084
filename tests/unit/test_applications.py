"""The public application form's rules without a database: captcha, regions, field checks, dates, IP hash."""

import random
import re
from dataclasses import replace
from datetime import date

import pytest

from core.applications import (
    ApplicationForm,
    add_month,
    clean_text,
    ip_hash,
    make_captcha,
    normalise_regions,
    validate_application,
)
from core.enums import PartnerKind
from core.errors import ValidationError
from core.settings import Settings

QUESTION = re.compile(r"Wie viel ist (\d) ([+−]) (\d)\?$")
FORM = ApplicationForm(
    business_name="Autoglas Müller GmbH", kind=PartnerKind.GLASS, street="Hauptstraße 1", postal_code="10115",
    city="Berlin", regions="10, 12 13", contact_name="Jana Müller", email="jana@autoglas-mueller.example",
    weekly_capacity=12, consent=True, phone="+49 30 1234567", message="Wir haben zwei Mobilteams.",
)


def test_captcha_asks_small_sums_and_differences_with_the_right_answer():
    rng = random.Random(1)
    seen = set()
    for _ in range(200):
        captcha = make_captcha(rng)
        a, op, b = QUESTION.search(captcha.question).groups()
        seen.add(op)
        assert captcha.answer == (int(a) + int(b) if op == "+" else int(a) - int(b))
        assert captcha.answer >= 0
    assert seen == {"+", "−"}


def test_captcha_is_reproducible_from_its_random_source():
    assert make_captcha(random.Random(7)) == make_captcha(random.Random(7))


@pytest.mark.parametrize(
    ("given", "expected"),
    [("10, 12 13", "10,12,13"), ("13,10", "10,13"), (" 01 ;99 ", "01,99"), ("20\n21", "20,21")],
)
def test_regions_are_normalised_to_sorted_two_digit_prefixes(given, expected):
    assert normalise_regions(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "mindestens ein PLZ-Gebiet"),
        (" , ", "mindestens ein PLZ-Gebiet"),
        ("1", "„1“ ist kein PLZ-Gebiet"),
        ("101", "„101“ ist kein PLZ-Gebiet"),
        ("00", "„00“ ist kein PLZ-Gebiet"),
        ("1a", "„1a“ ist kein PLZ-Gebiet"),
        ("١٠", "ist kein PLZ-Gebiet"),  # Arabic-Indic digits are digits to Python, not to a postal code
        ("10, 12, 10", "„10“ ist doppelt"),
    ],
)
def test_bad_regions_are_refused_in_german(given, message):
    with pytest.raises(ValidationError, match=message) as caught:
        normalise_regions(given)
    assert caught.value.field == "regions"


def test_a_valid_form_is_cleaned_and_normalised():
    values = validate_application(replace(FORM, business_name="  Autoglas \t Müller  GmbH ", kind="glass"))
    assert values["business_name"] == "Autoglas Müller GmbH"
    assert values["kind"] is PartnerKind.GLASS
    assert values["regions"] == "10,12,13"
    assert values["phone"] == "+49 30 1234567"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"business_name": "  "}, "business_name", "Namen des Betriebs"),
        ({"business_name": "x" * 201}, "business_name", "höchstens 200 Zeichen"),
        ({"kind": None}, "kind", "Betriebsart wählen"),
        ({"kind": "bakery"}, "kind", "Betriebsart wählen"),
        ({"street": ""}, "street", "Straße und Hausnummer"),
        ({"postal_code": "1011"}, "postal_code", "fünfstellig"),
        ({"city": ""}, "city", "Ort angeben"),
        ({"regions": "Berlin"}, "regions", "kein PLZ-Gebiet"),
        ({"contact_name": ""}, "contact_name", "Ansprechpartner"),
        ({"email": ""}, "email", "E-Mail-Adresse angeben"),
        ({"email": "jana@example"}, "email", "keine gültige E-Mail-Adresse"),
        ({"email": "a@b.de\r\nBcc: x@y.de"}, "email", "keine gültige E-Mail-Adresse"),
        ({"phone": "030 <script>"}, "phone", "Telefonnummer"),
        ({"weekly_capacity": 0}, "weekly_capacity", "zwischen 1 und 500"),
        ({"weekly_capacity": 501}, "weekly_capacity", "zwischen 1 und 500"),
        ({"consent": False}, "consent", "Datenschutzhinweise"),
    ],
)
def test_each_bad_field_gets_a_german_message(changes, field, message):
    with pytest.raises(ValidationError, match=message) as caught:
        validate_application(replace(FORM, **changes))
    assert caught.value.field == field


def test_control_characters_never_reach_the_database():
    assert clean_text("Auto\x00glas\x07 Nord\r\n") == "Auto glas Nord"
    assert clean_text("Zeile 1\n\n Zeile\x002 ", keep_lines=True) == "Zeile 1\n\nZeile 2"


def test_an_overlong_message_is_cut_not_refused():
    assert len(validate_application(replace(FORM, message="ä" * 5000))["message"]) == 1000


@pytest.mark.parametrize(
    ("day", "expected"),
    [(date(2026, 11, 23), date(2026, 12, 23)), (date(2026, 12, 15), date(2027, 1, 15)),
     (date(2027, 1, 31), date(2027, 2, 28)), (date(2028, 1, 31), date(2028, 2, 29))],
)
def test_trial_month_is_one_calendar_month(day, expected):
    assert add_month(day) == expected


def test_ip_hash_is_keyed_and_never_the_address(tmp_path):
    settings = Settings.load(env={}, secrets_path=tmp_path / "none.toml")
    other = Settings.load(env={"COOKIE_KEY": "another-key-" + "x" * 40}, secrets_path=tmp_path / "none.toml")
    hashed = ip_hash(settings, "203.0.113.7")
    assert re.fullmatch(r"[0-9a-f]{64}", hashed) and "203" not in hashed
    assert hashed == ip_hash(settings, "203.0.113.7") != ip_hash(settings, "203.0.113.8")
    assert hashed != ip_hash(other, "203.0.113.7")
