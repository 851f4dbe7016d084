"""Field validators with German messages: plate, VIN, postal code, e-mail, dates, IBAN.

Each returns the normalised value or raises ValidationError(field=...).
"""

from __future__ import annotations

import re
from datetime import date

from core.errors import ValidationError

_PLATE = re.compile(r"^([A-ZÄÖÜ]{1,3})[- ]+([A-Z]{1,2})[- ]*([1-9][0-9]{0,3})([EH]?)$")
_VIN_CHARS = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_VIN_VALUES = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))),
               **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[A-Za-z]{2,}$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def plate(value: str, *, field: str = "plate") -> str:
    """A German plate like `B-AB 1234` or `M-XY 77E` (normalised to that form); empty stays empty."""
    raw = " ".join(value.strip().upper().split())
    if not raw:
        return ""
    m = _PLATE.match(raw)
    if not m or len(m.group(1) + m.group(2) + m.group(3) + m.group(4)) > 8:
        raise ValidationError(
            "Das Kennzeichen hat nicht das deutsche Format (z. B. „B-AB 1234“ oder „M-XY 77E“).", field=field
        )
    return f"{m.group(1)}-{m.group(2)} {m.group(3)}{m.group(4)}"


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 check digit of a 17-character VIN ('0'–'9' or 'X')."""
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def vin(value: str, *, field: str = "vin") -> str:
    """A 17-character FIN without I, O, Q; the check digit (position 9) is verified where it is
    mandatory (North American and Chinese VINs: first character 1–5 or L). Empty stays empty."""
    raw = value.strip().upper().replace(" ", "")
    if not raw:
        return ""
    if len(raw) != 17:
        raise ValidationError(f"Die FIN muss genau 17 Zeichen haben (eingegeben: {len(raw)}).", field=field)
    if not _VIN_CHARS.match(raw):
        raise ValidationError("Die FIN enthält unzulässige Zeichen (erlaubt: A–Z ohne I, O, Q und 0–9).", field=field)
    if raw[0] in "12345L" and raw[8] != vin_check_digit(raw):
        raise ValidationError("Die Prüfziffer der FIN (9. Stelle) stimmt nicht.", field=field)
    return raw


def postal_code(value: str, *, field: str = "postal_code") -> str:
    """A five-digit German postal code (01001–99998)."""
    raw = value.strip()
    if not (len(raw) == 5 and raw.isdigit()) or not ("01001" <= raw <= "99998"):
        raise ValidationError("Die Postleitzahl muss fünfstellig sein (z. B. 10115).", field=field)
    return raw


def email(value: str, *, field: str = "email", required: bool = False) -> str:
    """An e-mail address (no spaces, no header characters); empty allowed unless required."""
    raw = value.strip()
    if not raw:
        if required:
            raise ValidationError("Bitte eine E-Mail-Adresse angeben.", field=field)
        return ""
    if len(raw) > 254 or not _EMAIL.match(raw) or any(ch in raw for ch in "\r\n"):
        raise ValidationError(f"„{raw}“ ist keine gültige E-Mail-Adresse.", field=field)
    return raw


def past_date(value: date | None, *, today: date, field: str, required: bool = False) -> date | None:
    """A date that is not in the future."""
    if value is None:
        if required:
            raise ValidationError("Bitte ein Datum angeben.", field=field)
        return None
    if value > today:
        raise ValidationError("Das Datum darf nicht in der Zukunft liegen.", field=field)
    return value


def iban(value: str, *, field: str = "iban") -> str:
    """An IBAN with a valid mod-97 checksum (German IBANs: 22 characters); normalised without spaces."""
    raw = value.replace(" ", "").upper()
    if not _IBAN.match(raw) or (raw.startswith("DE") and len(raw) != 22):
        raise ValidationError("Die IBAN hat nicht das richtige Format (z. B. DE89 3704 0044 0532 0130 00).", field=field)
    digits = "".join(str(int(ch, 36)) for ch in raw[4:] + raw[:4])
    if int(digits) % 97 != 1:
        raise ValidationError("Die Prüfsumme der IBAN stimmt nicht – bitte Tippfehler prüfen.", field=field)
    return raw


def required_text(value: str, *, field: str, label: str, max_len: int = 200) -> str:
    """Non-empty single-line text of limited length."""
    raw = " ".join(value.split())
    if not raw:
        raise ValidationError(f"Bitte {label} angeben.", field=field)
    if len(raw) > max_len:
        raise ValidationError(f"{label} ist zu lang (höchstens {max_len} Zeichen).", field=field)
    return raw
