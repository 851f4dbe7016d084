"""The case board's address: a filter as URL parameters and back (/board?insurer=3&from=2026-11-02&to=2026-11-09),
so a KPI chart's bar, a mail or a bookmark opens the board filtered."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode

from core.board import BoardFilter
from core.enums import CaseStatus, DamageType, PartnerKind


def filter_to_query(filters: BoardFilter) -> dict[str, str]:
    """The URL parameters of a filter (never the search text: it may be a name, and URLs end up in logs)."""
    values = {
        "status": ",".join(filters.statuses), "damage_type": filters.damage_type or "",
        "insurer": "" if filters.insurer_id is None else str(filters.insurer_id),
        "partner": "" if filters.partner_id is None else str(filters.partner_id),
        "clerk": "" if filters.clerk_id is None else str(filters.clerk_id),
        "partner_kind": filters.partner_kind or "", "region": filters.region or "",
        "from": filters.received_from.isoformat() if filters.received_from else "",
        "to": filters.received_to.isoformat() if filters.received_to else "", "deadline": filters.deadline or "",
    }
    return {k: v for k, v in values.items() if v}


def board_url(filters: BoardFilter) -> str:
    """The board's address showing these filters."""
    query = urlencode(filter_to_query(filters), safe=",")
    return f"/board?{query}" if query else "/board"


def filter_from_query(params: Mapping[str, str]) -> tuple[BoardFilter, list[str]]:
    """The filter a board URL asks for, and the names of the parameters it ignored because their value is
    not valid (unknown parameters are no filter and are not reported)."""
    parsers = {
        "status": lambda v: {"statuses": tuple(CaseStatus(s) for s in v.split(",") if s)},
        "damage_type": lambda v: {"damage_type": DamageType(v)},
        "insurer": lambda v: {"insurer_id": _positive(v)},
        "partner": lambda v: {"partner_id": _positive(v)},
        "clerk": lambda v: {"clerk_id": _positive(v)},
        "partner_kind": lambda v: {"partner_kind": PartnerKind(v)},
        "region": lambda v: {"region": BoardFilter(region=v).region},
        "from": lambda v: {"received_from": date.fromisoformat(v)},
        "to": lambda v: {"received_to": date.fromisoformat(v)},
        "deadline": lambda v: {"deadline": BoardFilter(deadline=v).deadline},
    }
    fields: dict[str, object] = {}
    ignored: list[str] = []
    for name, parse in parsers.items():
        value = (params.get(name) or "").strip()
        if not value:
            continue
        try:
            fields |= parse(value)
        except ValueError:
            ignored.append(name)
    start, end = fields.get("received_from"), fields.get("received_to")
    if start and end and end <= start:
        del fields["received_to"]
        ignored.append("to")
    return BoardFilter(**fields), ignored


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number
