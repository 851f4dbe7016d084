"""Money is integer cents; shown German style as `1.234,56 €`."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import ValidationError


def format_eur(cents: int | None) -> str:
    """`1.234,56 €` for 123456; `–` for None."""
    if cents is None:
        return "–"
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{euros:,}".replace(",", ".") + f",{rest:02d} €"


def parse_eur(text: str | Decimal | float, *, field: str | None = None, decimal_comma: bool = True) -> int:
    """Parse an amount (`1.234,56`, `1234.56` with decimal_comma=False, Decimal) into cents; must be ≥ 0."""
    if isinstance(text, (int, Decimal)):
        value = Decimal(text)
    elif isinstance(text, float):
        value = Decimal(str(text))
    else:
        raw = text.strip().replace("€", "").replace(" ", "")
        if decimal_comma:
            raw = raw.replace(".", "").replace(",", ".")
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:
            raise ValidationError(f"„{text}“ ist kein gültiger Betrag.", field=field) from exc
    if not value.is_finite():
        raise ValidationError("Der Betrag ist ungültig.", field=field)
    if value < 0:
        raise ValidationError("Der Betrag darf nicht negativ sein.", field=field)
    try:  # an exponent such as 1e999999 is finite but too large to quantize
        if value != value.quantize(Decimal("0.01")):
            raise ValidationError("Ein Betrag hat höchstens zwei Nachkommastellen.", field=field)
        return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:
        raise ValidationError("Der Betrag ist ungültig.", field=field) from exc
