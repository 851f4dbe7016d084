"""What the KPI dashboard needs around core.kpi_series: its period presets, the case-board filter behind a bar
or point (the click-through), and the access-log record of a chart table's export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from core.audit import log_access
from core.board import BoardFilter
from core.enums import CaseStatus
from core.kpis import KpiFilter
from core.permissions import Action, Actor, require

#: The board shows a KPI scope's cases with every status but this one (§5 leaves cancelled cases out).
SCOPE_STATUSES = tuple(s for s in CaseStatus if s != CaseStatus.CANCELLED)
WEEK = timedelta(days=7)


class Preset(StrEnum):
    """The period choices of the dashboard; every period ends after `today` (exclusive), except the month."""

    LAST_4_WEEKS = "last_4_weeks"
    LAST_13_WEEKS = "last_13_weeks"
    LAST_52_WEEKS = "last_52_weeks"
    LAST_MONTH = "last_month"
    THIS_YEAR = "this_year"
    CUSTOM = "custom"  # free from/to dates


def preset_period(preset: Preset, today: date) -> tuple[date, date]:
    """[from, to) of a preset (Berlin dates): the last n weeks and this year up to and including today, the
    last month as the whole previous calendar month."""
    end = today + timedelta(days=1)
    weeks = {Preset.LAST_4_WEEKS: 4, Preset.LAST_13_WEEKS: 13, Preset.LAST_52_WEEKS: 52}
    if preset in weeks:
        return end - weeks[preset] * WEEK, end
    if preset == Preset.LAST_MONTH:
        this_month = today.replace(day=1)
        return previous_month(this_month), this_month
    if preset == Preset.THIS_YEAR:
        return today.replace(month=1, day=1), end
    raise ValueError(f"{preset!r} has no fixed period")


def previous_month(day: date) -> date:
    """The first day of the calendar month before `day`'s month."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def recent_months(today: date, count: int = 12) -> list[date]:
    """The first days of the `count` whole months before `today`'s month, newest first (for the monthly
    report: the previous month comes first)."""
    months, month = [], today.replace(day=1)
    for _ in range(count):
        month = previous_month(month)
        months.append(month)
    return months


# --- click-through to the case board ------------------------------------------------------------------------


@dataclass(frozen=True)
class Narrowing:
    """What a bar or point adds to the dashboard's filter: a part of the period and/or one group."""

    date_from: date | None = None
    date_to: date | None = None
    insurer_id: int | None = None
    partner_kind: str | None = None
    region: str | None = None


def board_filter(flt: KpiFilter, narrowing: Narrowing | None = None) -> BoardFilter:
    """The case-board filter showing exactly the cases a KPI figure counts: received in the (narrowed) period,
    not cancelled, with the dashboard's filters and the bar's or point's group."""
    narrowing = narrowing or Narrowing()
    date_from = max(flt.date_from, narrowing.date_from or flt.date_from)
    date_to = max(min(flt.date_to, narrowing.date_to or flt.date_to), date_from + timedelta(days=1))
    return BoardFilter(
        statuses=SCOPE_STATUSES, damage_type=flt.damage_type, clerk_id=flt.clerk_id,
        insurer_id=narrowing.insurer_id if narrowing.insurer_id is not None else flt.insurer_id,
        partner_kind=narrowing.partner_kind or flt.partner_kind, region=narrowing.region or flt.region,
        received_from=date_from, received_to=date_to,
    )


def week_narrowing(monday: date) -> Narrowing:
    """The cases received in the week starting `monday` (clipped to the period by board_filter)."""
    return Narrowing(date_from=monday, date_to=monday + WEEK)


def iso_week_narrowing(iso_week: str, *, partner_kind: str | None = None, region: str | None = None) -> Narrowing:
    """The cases received in an ISO week such as `2026-W45`, for one partner kind and postal-code region."""
    year, week = iso_week.split("-W")
    monday = date.fromisocalendar(int(year), int(week), 1)
    return Narrowing(date_from=monday, date_to=monday + WEEK, partner_kind=partner_kind or None,
                     region=region or None)


# --- exports ----------------------------------------------------------------------------------------------------


def log_kpi_export(session: Session, *, actor: Actor, flt: KpiFilter, table: str, rows: int, file_format: str) -> None:
    """Record that a KPI chart table was exported (which table, which filters, how many rows; no content)."""
    require(actor, Action.VIEW_KPIS)
    require(actor, Action.EXPORT_DATA)
    dims = "; ".join(f"{k}={v}" for k, v in flt.dims().items())
    detail = f"from={flt.date_from.isoformat()}; to={flt.date_to.isoformat()}; format={file_format}; rows={rows}"
    log_access(session, actor=actor, action="export", object_type="kpi", object_ref=table,
               detail=f"{detail}; {dims}" if dims else detail)
