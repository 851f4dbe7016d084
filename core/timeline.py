"""How events read in the timeline and in the chronicle: German labels, details as plain text."""

from __future__ import annotations

from core.enums import CaseStatus, Role
from core.i18n import CATALOGS, DEFAULT_LANGUAGE, label
from core.money import format_eur

_STATUS_KEYS = ("from", "to")


def event_label(action: str) -> str:
    """The German label of an event action (the action itself if the catalog has none)."""
    return CATALOGS[DEFAULT_LANGUAGE].get(f"event.{action}", action)


def role_label(role: str) -> str:
    return label(Role(role)) if role in Role._value2member_map_ else role


def event_details(details: dict) -> str:
    """One line of details: statuses as labels, cents as euros, everything else as given."""
    parts: list[str] = []
    if all(k in details for k in _STATUS_KEYS):
        parts.append(f"{_status(details['from'])} → {_status(details['to'])}")
    for key, value in details.items():
        if key in _STATUS_KEYS:
            continue
        if key.endswith("_cents") and isinstance(value, int):
            value = format_eur(value)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def _status(value: str) -> str:
    return label(CaseStatus(value)) if value in CaseStatus._value2member_map_ else value
