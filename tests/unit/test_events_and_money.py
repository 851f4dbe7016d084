"""The event hash chain (pure part) and money formatting/parsing."""

from datetime import UTC, datetime

import pytest

from core.errors import ValidationError
from core.events import GENESIS_HASH, event_hash
from core.money import format_eur, parse_eur

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
BASE = dict(prev_hash=GENESIS_HASH, case_number="SP-2026-000001", seq=1, at=AT, actor_name="A", actor_role="staff",
            action="case_created", details={"x": 1})


def test_hash_is_deterministic():
    assert event_hash(**BASE) == event_hash(**BASE)


@pytest.mark.parametrize(
    ("field", "value"),
    [("prev_hash", "1" * 64), ("case_number", "SP-2026-000002"), ("seq", 2), ("actor_name", "B"),
     ("actor_role", "lawyer"), ("action", "status_changed"), ("details", {"x": 2}),
     ("at", AT.replace(microsecond=0))],
)
def test_every_field_changes_the_hash(field, value):
    assert event_hash(**{**BASE, field: value}) != event_hash(**BASE)


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0,00 €"), (5, "0,05 €"), (123456, "1.234,56 €"), (100000000, "1.000.000,00 €"), (-250, "-2,50 €"), (None, "–")],
)
def test_format_eur(cents, text):
    assert format_eur(cents) == text


@pytest.mark.parametrize(("text", "cents"), [("1.234,56", 123456), ("0,5", 50), ("12", 1200), ("1 234,50 €", 123450)])
def test_parse_eur_german(text, cents):
    assert parse_eur(text) == cents


def test_parse_eur_decimal_point():
    assert parse_eur("1234.56", decimal_comma=False) == 123456


@pytest.mark.parametrize("bad", ["-1", "abc", "1,234", "nan", "inf"])
def test_parse_eur_refuses(bad):
    with pytest.raises(ValidationError):
        parse_eur(bad)
