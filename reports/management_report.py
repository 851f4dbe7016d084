"""The monthly management report (Monatsbericht): the §5 figures of a month beside the previous month's, the
main charts (drawn with reportlab.graphics) and tables. Pure: data in, bytes out.

Numbers are German (`12,5 %`, `24,6 h`, `1.234`), a missing figure is `–`; text from the database (insurer
names) goes into Paragraphs only through `para_text`; chart labels are drawn as plain strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.units import cm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from core.i18n import t
from core.timeutil import format_dt
from reports.pdfkit import (
    CONTENT_WIDTH,
    EMPTY,
    FONT,
    GRID,
    SHADE,
    STYLES,
    build_pdf,
    para_text,
)
from reports.settlement import month_label

#: How each §5 figure is shown: a count, hours, a share (as percent), a ratio (calls per case) or the NPS.
FIGURE_KINDS: dict[str, str] = {
    "cases": "count", "throughput_hours_median": "hours", "throughput_hours_p90": "hours",
    "within_48h_share": "share", "cut_rate": "share", "cut_case_share": "share", "success_rate": "share",
    "nps": "nps", "nps_responses": "count", "callback_rate": "ratio", "query_response_hours_median": "hours",
}
TARGET_HOURS = 48
BLUE, ORANGE, RED, GREEN = (colors.HexColor(c) for c in ("#1f5f8b", "#e08a1e", "#b00020", "#3a8a4f"))
CHART_HEIGHT = 5.6 * cm
MAX_INSURER_BARS = 12
MAX_LABEL = 30


# --- German number formats --------------------------------------------------------------------------------------


def _decimal(value: float, places: int) -> str:
    """`1.234,5`: German separators; `-0,0` comes out as `0,0`."""
    text = f"{value:,.{places}f}"
    if text.lstrip("-").strip("0.,") == "":
        text = text.lstrip("-")
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def format_count(value: int | None) -> str:
    """`1.234`; `–` for None."""
    return EMPTY if value is None else _decimal(value, 0)


def format_percent(share: float | None) -> str:
    """`12,5 %` for 0.125; `–` for None."""
    return EMPTY if share is None else f"{_decimal(100 * share, 1)} %"


def format_hours(hours: float | None) -> str:
    """`24,6 h`; `–` for None."""
    return EMPTY if hours is None else f"{_decimal(hours, 1)} h"


def format_ratio(value: float | None) -> str:
    """`1,24` (e.g. status calls per case); `–` for None."""
    return EMPTY if value is None else _decimal(value, 2)


def format_nps(nps: float | None) -> str:
    """The NPS as a whole number (`33`, `-12`); `–` for None."""
    return EMPTY if nps is None else _decimal(nps, 0)


def format_figure(key: str, value: float | None) -> str:
    """A §5 figure as the report prints it."""
    kind = FIGURE_KINDS[key]
    if kind == "count":
        return format_count(None if value is None else int(value))
    if kind == "share":
        return format_percent(value)
    if kind == "hours":
        return format_hours(value)
    if kind == "ratio":
        return format_ratio(value)
    return format_nps(value)


def format_change(key: str, current: float | None, previous: float | None) -> str:
    """Month against previous month: `+2,1 Pp.` for shares, `-3,0 h`, `+12`; `–` if either is missing."""
    if current is None or previous is None:
        return EMPTY
    kind = FIGURE_KINDS[key]
    delta = (current - previous) * (100 if kind == "share" else 1)
    places = {"share": 1, "hours": 1, "ratio": 2}.get(kind, 0)
    text = _decimal(delta, places)
    if not text.startswith("-") and text.strip("0,.") != "":
        text = "+" + text
    unit = {"share": f" {t('mreport.points')}", "hours": " h"}.get(kind, "")
    return text + unit


def week_label(monday: date) -> str:
    """`KW 41` (ISO week of the Monday)."""
    return t("mreport.week", week=monday.isocalendar()[1])


# --- the data ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekLine:
    """The figures of the cases received in one week (Monday), within the month."""

    week: date
    cases: int
    throughput_median: float | None
    throughput_p90: float | None
    within_48h_share: float | None
    nps: float | None
    nps_responses: int


@dataclass(frozen=True)
class InsurerLine:
    insurer: str
    cases: int
    paid: int
    cut_rate: float | None
    cut_case_share: float | None
    success_rate: float | None


@dataclass(frozen=True)
class StageLine:
    stage: str  # the status label in German
    calls: int
    rate: float | None


@dataclass(frozen=True)
class FairnessLine:
    """The orders of one partner kind in one region over the month's ISO weeks (spread = max − min per week)."""

    kind: str  # the partner kind label in German
    region: str
    partners: int
    orders: int
    max_spread: int
    max_spread_week: str  # e.g. 2026-W41
    mean_spread: float


@dataclass(frozen=True)
class ManagementReportData:
    """One month's report; `month` is the first day of the month, the previous month is the calendar month."""

    month: date
    current: dict
    previous: dict
    weeks: tuple[WeekLine, ...]
    insurers: tuple[InsurerLine, ...]
    stages: tuple[StageLine, ...]
    fairness: tuple[FairnessLine, ...]
    generated_at: datetime


def _month_key(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def report_title(month: date) -> str:
    """`Monatsbericht Oktober 2026`."""
    return t("mreport.title", month=month_label(_month_key(month)))


# --- tables -----------------------------------------------------------------------------------------------------


def _table(head: Sequence[str], rows: list[list[str]], widths: Sequence[float], *, first_text: int = 1) -> Table:
    """A house table: shaded header row repeated on every page, numbers right-aligned from `first_text` on."""
    header = [Paragraph(para_text(h), STYLES["cell_head" if i < first_text else "cell_head_right"])
              for i, h in enumerate(head)]
    body = [[Paragraph(para_text(c), STYLES["cell"]) if i < first_text else c for i, c in enumerate(row)]
            for row in rows]
    table = Table([header, *body], colWidths=list(widths), repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 1), (-1, -1), FONT, 8),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, GRID),
        ("ALIGN", (first_text, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def _figures_table(data: ManagementReportData) -> Table:
    month, previous = month_label(_month_key(data.month)), month_label(_month_key(_previous_month(data.month)))
    rows = [[t(f"mreport.fig_{key}"), format_figure(key, data.current.get(key)),
             format_figure(key, data.previous.get(key)),
             format_change(key, data.current.get(key), data.previous.get(key))] for key in FIGURE_KINDS]
    label_width = CONTENT_WIDTH - 3 * 3.4 * cm
    return _table([t("mreport.col_figure"), month, previous, t("mreport.col_change")], rows,
                  [label_width, 3.4 * cm, 3.4 * cm, 3.4 * cm])


def _weeks_table(weeks: Sequence[WeekLine]) -> Table:
    rows = [[week_label(w.week), format_count(w.cases), format_hours(w.throughput_median),
             format_hours(w.throughput_p90), format_percent(w.within_48h_share), format_nps(w.nps),
             format_count(w.nps_responses)] for w in weeks]
    head = [t(f"mreport.col_{k}") for k in ("week", "cases", "median", "p90", "within_48h", "nps", "nps_n")]
    return _table(head, rows, [2.2 * cm] + [(CONTENT_WIDTH - 2.2 * cm) / 6] * 6)


def _insurers_table(insurers: Sequence[InsurerLine]) -> Table:
    rows = [[i.insurer, format_count(i.cases), format_count(i.paid), format_percent(i.cut_rate),
             format_percent(i.cut_case_share), format_percent(i.success_rate)] for i in insurers]
    head = [t(f"mreport.col_{k}") for k in ("insurer", "cases", "paid", "cut_rate", "cut_case_share",
                                            "success_rate")]
    return _table(head, rows, [CONTENT_WIDTH - 5 * 2.5 * cm] + [2.5 * cm] * 5)


def _stages_table(stages: Sequence[StageLine]) -> Table:
    rows = [[s.stage, format_count(s.calls), format_ratio(s.rate)] for s in stages]
    head = [t("mreport.col_stage"), t("mreport.col_calls"), t("mreport.col_callback_rate")]
    return _table(head, rows, [CONTENT_WIDTH - 2 * 3.4 * cm, 3.4 * cm, 3.4 * cm])


def _fairness_table(lines: Sequence[FairnessLine]) -> Table:
    rows = [[f.kind, f.region, format_count(f.partners), format_count(f.orders),
             f"{format_count(f.max_spread)} ({f.max_spread_week})" if f.max_spread else "0",
             _decimal(f.mean_spread, 1)] for f in lines]
    head = [t(f"mreport.col_{k}") for k in ("kind", "region", "partners", "orders", "max_spread", "mean_spread")]
    return _table(head, rows, [3.6 * cm, 1.8 * cm] + [(CONTENT_WIDTH - 5.4 * cm) / 4] * 4, first_text=2)


# --- charts -----------------------------------------------------------------------------------------------------


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def _axis_style(chart, labels: list[str]) -> None:
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = colors.HexColor("#dddddd")


def _legend(x: float, y: float, items: list[tuple[colors.Color, str]]) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.deltax = 110
    legend.fontName, legend.fontSize = FONT, 7
    legend.boxAnchor = "nw"
    legend.dx = legend.dy = 7
    legend.colorNamePairs = items
    return legend


def throughput_chart(weeks: Sequence[WeekLine]) -> Drawing:
    """Median and p90 of the throughput time per week, with the 48-hour promise as a dashed line."""
    drawing = Drawing(CONTENT_WIDTH, CHART_HEIGHT)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 36, 22, CONTENT_WIDTH - 46, CHART_HEIGHT - 48
    medians = [w.throughput_median for w in weeks]
    p90s = [w.throughput_p90 for w in weeks]
    chart.data = [medians, p90s, [TARGET_HOURS] * len(weeks)]
    _axis_style(chart, [week_label(w.week) for w in weeks])
    chart.valueAxis.valueMin = 0
    top = max([v for v in medians + p90s if v is not None] + [TARGET_HOURS])
    chart.valueAxis.valueMax = top * 1.15
    chart.valueAxis.labelTextFormat = lambda v: f"{_decimal(v, 0)} h"
    for i, (color, width) in enumerate(((BLUE, 1.6), (ORANGE, 1.6), (RED, 1.0))):
        chart.lines[i].strokeColor, chart.lines[i].strokeWidth = color, width
    chart.lines[2].strokeDashArray = (4, 3)
    drawing.add(chart)
    drawing.add(_legend(36, CHART_HEIGHT - 2, [(BLUE, t("mreport.legend_median")), (ORANGE, t("mreport.legend_p90")),
                                               (RED, t("mreport.legend_target"))]))
    return drawing


def cut_rate_chart(insurers: Sequence[InsurerLine]) -> Drawing | None:
    """Cut rate (percent) per insurer with payments, the insurers with the most cases; None if none was paid."""
    shown = [i for i in insurers if i.cut_rate is not None][:MAX_INSURER_BARS]
    if not shown:
        return None
    height = 30 + 14 * len(shown)
    drawing = Drawing(CONTENT_WIDTH, height)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 150, 16, CONTENT_WIDTH - 170, height - 24
    chart.data = [[100 * i.cut_rate for i in reversed(shown)]]
    _axis_style(chart, [_short(i.insurer) for i in reversed(shown)])
    chart.valueAxis.valueMin = min(0, *chart.data[0])
    chart.valueAxis.labelTextFormat = lambda v: f"{_decimal(v, 0)} %"
    chart.bars[0].fillColor, chart.bars[0].strokeColor = BLUE, None
    chart.barLabelFormat = lambda v: f"{_decimal(v, 1)} %"
    chart.barLabels.fontName, chart.barLabels.fontSize = FONT, 6.5
    chart.barLabels.boxAnchor, chart.barLabels.dx = "w", 3
    drawing.add(chart)
    return drawing


def nps_chart(weeks: Sequence[WeekLine]) -> Drawing:
    """The NPS per week (weeks without answers stay empty)."""
    drawing = Drawing(CONTENT_WIDTH, CHART_HEIGHT)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 36, 22, CONTENT_WIDTH - 46, CHART_HEIGHT - 34
    chart.data = [[w.nps for w in weeks]]
    _axis_style(chart, [week_label(w.week) for w in weeks])
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = -100, 100
    chart.valueAxis.valueStep = 50
    chart.categoryAxis.labelAxisMode = "low"  # week labels below the chart, not on the zero line
    chart.bars[0].fillColor, chart.bars[0].strokeColor = GREEN, None
    chart.barLabelFormat = lambda v: format_nps(v)
    chart.barLabels.fontName, chart.barLabels.fontSize = FONT, 6.5
    chart.barLabels.nudge = 6
    drawing.add(chart)
    return drawing


# --- the document -----------------------------------------------------------------------------------------------


def _section(title: str, *body: Flowable) -> list[Flowable]:
    """A heading kept with the start of its content."""
    head = Paragraph(para_text(title), STYLES["heading"])
    return [KeepTogether([head, body[0]]), *body[1:]]


def _none(key: str) -> Paragraph:
    return Paragraph(para_text(t(key)), STYLES["body"])


def management_report_pdf(data: ManagementReportData) -> bytes:
    """The report as A4 PDF: figures with previous month, charts, tables; `Seite x von y` and the generation time."""
    month = month_label(_month_key(data.month))
    has_letters = any(w.throughput_median is not None for w in data.weeks)
    has_nps = any(w.nps is not None for w in data.weeks)
    cut_chart = cut_rate_chart(data.insurers)
    story: list[Flowable] = [
        Paragraph(para_text(report_title(data.month)), STYLES["title"]),
        Paragraph(para_text(t("mreport.scope", month=month,
                              previous=month_label(_month_key(_previous_month(data.month))))), STYLES["body"]),
        Paragraph(para_text(t("mreport.generated", at=format_dt(data.generated_at))), STYLES["small"]),
        *_section(t("mreport.figures"), _figures_table(data)),
        *_section(t("mreport.chart_throughput"),
                  throughput_chart(data.weeks) if has_letters else _none("mreport.no_letters")),
        *_section(t("mreport.chart_nps"), nps_chart(data.weeks) if has_nps else _none("mreport.no_nps")),
        *_section(t("mreport.weeks"), _weeks_table(data.weeks) if data.weeks else _none("mreport.no_cases")),
        *_section(t("mreport.chart_cut_rate"), cut_chart if cut_chart is not None else _none("mreport.no_payments")),
        *_section(t("mreport.insurers"), _insurers_table(data.insurers) if data.insurers
                  else _none("mreport.no_cases")),
        *_section(t("mreport.stages"), _stages_table(data.stages) if data.stages else _none("mreport.no_cases")),
        *_section(t("mreport.fairness"), Paragraph(para_text(t("mreport.fairness_note")), STYLES["small"]),
                  Spacer(1, 4), _fairness_table(data.fairness) if data.fairness else _none("mreport.no_partners")),
    ]
    footer = t("mreport.footer", month=month, at=format_dt(data.generated_at))
    return build_pdf(story, title=report_title(data.month), footer=footer, page_label=t("mreport.page_of"))

