"""The KPI dashboard's numbers as German text (12,5 %, 24,6 h, – for none) and its chart tables as rows for
CSV/XLSX. Pure: the rows of core.kpi_series in, strings and dicts out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

from core.enums import PartnerKind
from core.i18n import label, t
from reports.tabular import Cell, to_csv, to_xlsx

if TYPE_CHECKING:  # the row types only; reports never import the database layer at run time
    from core.kpi_series import FairnessRow, InsurerRow, StageRow, WeekRow

NONE = "–"
Kind = Literal["count", "hours", "share", "rate", "nps"]

#: Each §5 figure: its label, how it is shown, and whether a rise is good ("normal"), bad ("inverse") or
#: neither ("off") — st.metric's delta_color.
FIGURES: dict[str, tuple[str, Kind, str]] = {
    "cases": ("kpi.cases", "count", "off"),
    "throughput_hours_median": ("kpi.throughput_median", "hours", "inverse"),
    "throughput_hours_p90": ("kpi.throughput_p90", "hours", "inverse"),
    "within_48h_share": ("kpi.within_48h", "share", "normal"),
    "cut_rate": ("kpi.cut_rate", "share", "inverse"),
    "cut_case_share": ("kpi.cut_case_share", "share", "inverse"),
    "success_rate": ("kpi.success_rate", "share", "normal"),
    "nps": ("kpi.nps", "nps", "normal"),
    "nps_responses": ("kpi.nps_responses", "count", "off"),
    "callback_rate": ("kpi.callback_rate", "rate", "inverse"),
    "query_response_hours_median": ("kpi.query_response", "hours", "inverse"),
}
#: Digits shown (and kept in the tables) per kind.
DIGITS: dict[str, int] = {"count": 0, "hours": 1, "share": 1, "rate": 2, "nps": 0}


def german(value: float, digits: int) -> str:
    """`1234.5` -> `1.234,5` (thousands dot, decimal comma)."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def fmt(value: float | None, kind: Kind) -> str:
    """A figure as German text: `12,5 %`, `24,6 h`, `0,42`, `1.234`; `–` for none."""
    if value is None:
        return NONE
    digits = DIGITS[kind]
    if kind == "share":
        return f"{german(value * 100, digits)} %"
    if kind == "hours":
        return f"{german(value, digits)} h"
    return german(value, digits)


def fmt_delta(current: float | None, previous: float | None, kind: Kind) -> str | None:
    """The change against the previous period as text with its sign (`+1,2 %-Pkt.`, `-0,3 h`, `±0`); None
    when either side has no value. A leading ASCII minus is what st.metric reads as "down"."""
    if current is None or previous is None:
        return None
    change = current - previous
    if kind == "share":
        change *= 100
    digits = DIGITS[kind]
    if round(change, digits) == 0:
        sign, change = "±", 0.0
    else:
        sign = "+" if change > 0 else "-"
    text = sign + german(abs(change), digits)
    unit = {"share": " %-Pkt.", "hours": " h"}.get(kind, "")
    return text + unit


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: str
    delta: str | None
    delta_color: str


def metric_tiles(current: Mapping[str, float | None], previous: Mapping[str, float | None]) -> list[Tile]:
    """One metric per §5 figure: label, value and change against the previous period."""
    tiles = []
    for key, (label_key, kind, color) in FIGURES.items():
        delta = fmt_delta(current[key], previous[key], kind)
        if delta is not None and delta.startswith("±"):
            color = "off"  # unchanged: neither good nor bad
        tiles.append(Tile(key, t(label_key), fmt(current[key], kind), delta, color))
    return tiles


# --- tables ---------------------------------------------------------------------------------------------------


def table_value(value: float | None, kind: Kind) -> float | int | None:
    """A figure as a table cell: shares in percent, rounded as shown."""
    if value is None:
        return None
    if kind == "count":
        return int(value)
    return round(value * 100 if kind == "share" else value, DIGITS[kind])


def week_label(monday: date) -> str:
    """`KW 45/2026` for the ISO week starting on `monday`."""
    year, week, _ = monday.isocalendar()
    return t("kpi.week_label", week=week, year=year)


def iso_week_label(iso_week: str) -> str:
    """`2026-W45` -> `KW 45/2026`."""
    year, week = iso_week.split("-W")
    return t("kpi.week_label", week=int(week), year=int(year))


def header(key: str) -> str:
    """The column header of a figure, with its unit."""
    label_key, kind, _ = FIGURES[key]
    unit = {"share": " (%)", "hours": " (h)"}.get(kind, "")
    return t(label_key) + unit


def week_rows(weeks: Sequence[WeekRow], keys: Sequence[str]) -> list[dict[str, Cell]]:
    """Per week: its label, its Monday and the figures `keys`."""
    return [
        {t("kpi.col_week"): week_label(w.week), t("kpi.col_week_start"): w.week,
         **{header(k): table_value(w.figures[k], FIGURES[k][1]) for k in keys}}
        for w in weeks
    ]


def histogram_rows(histogram: Sequence[tuple[int, int]], *, width: int = 6) -> list[dict[str, Cell]]:
    """Per bin: from and to hours, letters."""
    last = histogram[-1][0] if histogram else None
    return [{t("kpi.col_hours_from"): start, t("kpi.col_hours_to"): None if start == last else start + width,
             t("kpi.col_letters"): n} for start, n in histogram]


def insurer_rows(insurers: Sequence[InsurerRow]) -> list[dict[str, Cell]]:
    return [
        {t("kpi.col_insurer"): r.insurer, header("cases"): r.cases, t("kpi.col_paid"): r.paid,
         header("cut_rate"): table_value(r.cut_rate, "share"),
         header("cut_case_share"): table_value(r.cut_case_share, "share"),
         header("success_rate"): table_value(r.success_rate, "share")}
        for r in insurers
    ]


def stage_rows(stages: Sequence[StageRow]) -> list[dict[str, Cell]]:
    return [{t("kpi.col_stage"): label(r.stage), t("kpi.col_calls"): r.calls,
             header("callback_rate"): table_value(r.rate, "rate")} for r in stages]


def kind_label(kind: str) -> str:
    """The German name of a partner kind code (the code itself if unknown)."""
    return label(PartnerKind(kind)) if kind in {k.value for k in PartnerKind} else kind


def fairness_rows(rows: Sequence[FairnessRow]) -> list[dict[str, Cell]]:
    return [
        {t("kpi.col_week"): iso_week_label(r.iso_week), t("kpi.col_kind"): kind_label(r.kind),
         t("kpi.col_region"): r.region or NONE, t("kpi.col_partners"): r.partners, t("kpi.col_orders"): r.orders,
         t("kpi.col_min"): r.min_orders, t("kpi.col_max"): r.max_orders, t("kpi.col_spread"): r.spread,
         t("kpi.col_mean"): round(r.orders / r.partners, 1) if r.partners else None}
        for r in rows
    ]


# --- files ----------------------------------------------------------------------------------------------------


def csv_bytes(rows: Sequence[dict[str, Cell]]) -> bytes:
    """CSV for German Excel: decimals with a comma, dates as 23.11.2026."""
    def cell(value: Cell) -> Cell:
        if isinstance(value, float):
            return f"{value}".replace(".", ",")
        if isinstance(value, date):
            return value.strftime("%d.%m.%Y")
        return value

    return to_csv([{k: cell(v) for k, v in row.items()} for row in rows])


def xlsx_bytes(rows: Sequence[dict[str, Cell]], *, sheet: str) -> bytes:
    """An XLSX sheet; numbers stay numbers."""
    return to_xlsx(rows, sheet=sheet)
