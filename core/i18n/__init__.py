"""All user-facing strings in one catalog per language (German now; English can be added as en.py)."""

from __future__ import annotations

from enum import StrEnum

from core.i18n import de

CATALOGS: dict[str, dict[str, str]] = {"de": de.STRINGS}
DEFAULT_LANGUAGE = "de"


def t(key: str, /, lang: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The text for `key`, formatted with `values`; a missing key raises (a test checks the catalog)."""
    text = CATALOGS[lang][key]
    return text.format(**values) if values else text


def label(member: StrEnum, lang: str = DEFAULT_LANGUAGE) -> str:
    """The display label of an enum member, e.g. CaseStatus.PAID -> "Zahlung eingegangen"."""
    return CATALOGS[lang][f"{type(member).__name__}.{member.value}"]
