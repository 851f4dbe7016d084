"""The KPI dashboard's plotly figures. Pure: the rows of core.kpi_series in, a Figure out (None when the rows
hold nothing to draw, so the page shows a hint instead of an empty frame).

`links`, where a builder takes them, are one board address per row (same order); they become the points'
customdata, which the page reads from a selection to open the case board for that bar or point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go

from core.i18n import label, t
from reports.kpi_tables import iso_week_label, kind_label, week_label

if TYPE_CHECKING:  # the row types only; reports never import the database layer at run time
    from core.kpi_series import FairnessRow, InsurerRow, StageRow, WeekRow

LETTER_DUE_HOURS = 48
HISTOGRAM_CAP = 240  # core.kpi_series.throughput_histogram puts every later letter into this bin
PERCENT_AXIS = {"tickformat": ".0%", "rangemode": "tozero"}
HOURS_AXIS = {"ticksuffix": " h", "rangemode": "tozero"}


def _figure(title: str, **layout) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title, separators=",.", margin={"t": 60, "b": 40, "l": 50, "r": 30}, clickmode="event+select",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0}, **layout,
    )
    return fig


def _has(values: Sequence[float | None]) -> bool:
    return any(v is not None for v in values)


def _custom(links: Sequence[str] | None, n: int) -> list[str] | None:
    if links is None:
        return None
    if len(links) != n:
        raise ValueError(f"{len(links)} links for {n} rows")
    return list(links)


def _week_line(fig: go.Figure, weeks: Sequence[WeekRow], key: str, name: str, *, links: Sequence[str] | None,
               hover: str, yaxis: str = "y") -> None:
    fig.add_trace(go.Scatter(
        x=[week_label(w.week) for w in weeks], y=[w.figures[key] for w in weeks], name=name, mode="lines+markers",
        customdata=_custom(links, len(weeks)), hovertemplate=f"%{{x}}<br>{name}: {hover}<extra></extra>",
        connectgaps=False, yaxis=yaxis,
    ))


def throughput_histogram_figure(histogram: Sequence[tuple[int, int]], *, width: int = 6) -> go.Figure | None:
    """Letters per `width`-hour bin of the throughput time, with the 48-hour promise as a vertical line."""
    if not any(n for _, n in histogram):
        return None
    names = [t("kpi.bin_open", start=h) if h >= HISTOGRAM_CAP else t("kpi.bin", start=h, end=h + width)
             for h, _ in histogram]
    fig = _figure(t("kpi.chart_histogram"), xaxis={"title": t("kpi.axis_hours"), "ticksuffix": " h"},
                  yaxis={"title": t("kpi.axis_letters")}, bargap=0.05)
    fig.add_trace(go.Bar(
        x=[h + width / 2 for h, _ in histogram], y=[n for _, n in histogram], width=[width] * len(histogram),
        name=t("kpi.axis_letters"), hovertext=names, hovertemplate="%{hovertext}: %{y}<extra></extra>",
        marker={"color": ["#2e7d32" if h + width <= LETTER_DUE_HOURS else "#c62828" for h, _ in histogram]},
    ))
    fig.add_vline(x=LETTER_DUE_HOURS, line_dash="dash", line_color="#333333",
                  annotation_text=t("kpi.due_line"), annotation_position="top right")
    return fig


def throughput_weekly_figure(weeks: Sequence[WeekRow], links: Sequence[str] | None = None) -> go.Figure | None:
    """Median and p90 of the throughput time per week (hours) and the share within 48 h (right axis)."""
    keys = ("throughput_hours_median", "throughput_hours_p90", "within_48h_share")
    if not weeks or not any(_has([w.figures[k] for w in weeks]) for k in keys):
        return None
    fig = _figure(t("kpi.chart_throughput_weekly"), yaxis={"title": t("kpi.axis_hours"), **HOURS_AXIS},
                  yaxis2={"title": t("kpi.within_48h"), "overlaying": "y", "side": "right", "range": [0, 1.05],
                          "tickformat": ".0%", "showgrid": False})
    _week_line(fig, weeks, "throughput_hours_median", t("kpi.throughput_median"), links=links, hover="%{y:.1f} h")
    _week_line(fig, weeks, "throughput_hours_p90", t("kpi.throughput_p90"), links=links, hover="%{y:.1f} h")
    _week_line(fig, weeks, "within_48h_share", t("kpi.within_48h"), links=links, hover="%{y:.1%}", yaxis="y2")
    fig.add_hline(y=LETTER_DUE_HOURS, line_dash="dot", line_color="#999999")
    return fig


def cut_by_insurer_figure(insurers: Sequence[InsurerRow], links: Sequence[str] | None = None) -> go.Figure | None:
    """Cut rate and cut-case share per insurer (bars, insurers with payments only)."""
    pairs = [(r, link) for r, link in zip(insurers, links or [None] * len(insurers), strict=True) if r.paid]
    if not pairs:
        return None
    rows = [r for r, _ in pairs]
    custom = [link for _, link in pairs] if links is not None else None
    fig = _figure(t("kpi.chart_cut_insurer"), barmode="group", yaxis=PERCENT_AXIS)
    for key, name in (("cut_rate", t("kpi.cut_rate")), ("cut_case_share", t("kpi.cut_case_share"))):
        fig.add_trace(go.Bar(
            x=[r.insurer for r in rows], y=[getattr(r, key) for r in rows], name=name, customdata=custom,
            hovertemplate=f"%{{x}}<br>{name}: %{{y:.1%}}<extra></extra>",
        ))
    return fig


def cut_weekly_figure(weeks: Sequence[WeekRow], links: Sequence[str] | None = None) -> go.Figure | None:
    """Cut rate and cut-case share per week of receipt."""
    if not weeks or not _has([w.figures["cut_rate"] for w in weeks]):
        return None
    fig = _figure(t("kpi.chart_cut_weekly"), yaxis=PERCENT_AXIS)
    _week_line(fig, weeks, "cut_rate", t("kpi.cut_rate"), links=links, hover="%{y:.1%}")
    _week_line(fig, weeks, "cut_case_share", t("kpi.cut_case_share"), links=links, hover="%{y:.1%}")
    return fig


def success_weekly_figure(weeks: Sequence[WeekRow], links: Sequence[str] | None = None) -> go.Figure | None:
    """Success rate (closed cases with a payment) per week of receipt."""
    if not weeks or not _has([w.figures["success_rate"] for w in weeks]):
        return None
    fig = _figure(t("kpi.chart_success"), yaxis={**PERCENT_AXIS, "range": [0, 1.05]})
    _week_line(fig, weeks, "success_rate", t("kpi.success_rate"), links=links, hover="%{y:.1%}")
    return fig


def nps_weekly_figure(weeks: Sequence[WeekRow], links: Sequence[str] | None = None) -> go.Figure | None:
    """NPS per week (line, −100 to 100) and the number of survey answers behind it (bars, right axis)."""
    if not weeks or not any(w.figures["nps_responses"] for w in weeks):
        return None
    fig = _figure(t("kpi.chart_nps"), yaxis={"title": t("kpi.nps"), "range": [-100, 100]},
                  yaxis2={"title": t("kpi.nps_responses"), "overlaying": "y", "side": "right", "showgrid": False,
                          "rangemode": "tozero"})
    fig.add_trace(go.Bar(
        x=[week_label(w.week) for w in weeks], y=[w.figures["nps_responses"] for w in weeks],
        name=t("kpi.nps_responses"), yaxis="y2", opacity=0.35, customdata=_custom(links, len(weeks)),
        hovertemplate=f"%{{x}}<br>{t('kpi.nps_responses')}: %{{y}}<extra></extra>",
    ))
    _week_line(fig, weeks, "nps", t("kpi.nps"), links=links, hover="%{y:.0f}")
    return fig


def callbacks_by_stage_figure(stages: Sequence[StageRow]) -> go.Figure | None:
    """Inbound status calls per case, by the status the case was in when the client called."""
    if not stages or not _has([r.rate for r in stages]):
        return None
    fig = _figure(t("kpi.chart_callbacks"), yaxis={"title": t("kpi.callback_rate"), "rangemode": "tozero"})
    fig.add_trace(go.Bar(
        x=[label(r.stage) for r in stages], y=[r.rate for r in stages], name=t("kpi.callback_rate"),
        customdata=[r.calls for r in stages],
        hovertemplate=f"%{{x}}<br>{t('kpi.callback_rate')}: %{{y:.2f}} (%{{customdata}})<extra></extra>",
    ))
    return fig


def query_response_figure(weeks: Sequence[WeekRow], links: Sequence[str] | None = None) -> go.Figure | None:
    """Median hours from an insurer query to its answer, per week of the case's receipt."""
    if not weeks or not _has([w.figures["query_response_hours_median"] for w in weeks]):
        return None
    fig = _figure(t("kpi.chart_query"), yaxis={"title": t("kpi.axis_hours"), **HOURS_AXIS})
    _week_line(fig, weeks, "query_response_hours_median", t("kpi.query_response"), links=links,
               hover="%{y:.1f} h")
    return fig


def fairness_figure(rows: Sequence[FairnessRow], links: Sequence[str] | None = None) -> go.Figure | None:
    """Per partner kind and region, one line: the spread (max − min orders per partner) per ISO week; the hover
    shows the orders per partner (average, min, max)."""
    if not rows:
        return None
    custom = _custom(links, len(rows))
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r.kind, r.region), []).append(i)
    weeks = list(dict.fromkeys(iso_week_label(r.iso_week) for r in rows))
    fig = _figure(t("kpi.chart_fairness"), yaxis={"title": t("kpi.col_spread"), "rangemode": "tozero"},
                  xaxis={"categoryorder": "array", "categoryarray": weeks})
    for (kind, region), indexes in sorted(groups.items()):
        name = t("kpi.fair_group", kind=kind_label(kind), region=region or "–")
        picked = [rows[i] for i in indexes]
        fig.add_trace(go.Scatter(
            x=[iso_week_label(r.iso_week) for r in picked], y=[r.spread for r in picked], name=name,
            mode="lines+markers", customdata=[custom[i] for i in indexes] if custom else None,
            hovertext=[t("kpi.fair_hover", partners=r.partners, mean=f"{r.orders / r.partners:.1f}".replace(".", ","),
                         min=r.min_orders, max=r.max_orders) if r.partners else "" for r in picked],
            hovertemplate=f"%{{x}} · {name}<br>{t('kpi.col_spread')}: %{{y}}<br>%{{hovertext}}<extra></extra>",
        ))
    return fig
