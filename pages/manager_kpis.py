"""KPI dashboard (Kennzahlen): §5 figures vs. the period before, charts with tables (CSV/XLSX), board links."""

from datetime import date, timedelta
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import streamlit as st

from core import board, board_address, kpi_series, kpi_views, management_report
from core.enums import DamageType, PartnerKind
from core.i18n import label, t
from core.kpi_views import Narrowing, Preset
from core.kpis import KpiFilter
from core.permissions import Action, Actor, can
from core.timeutil import format_date, now, to_berlin
from core.ui.navigation import guard
from core.ui.resources import read_session, write_session
from reports import kpi_charts, kpi_tables
from reports.settlement import month_label

actor = guard(Action.VIEW_KPIS)

BOARD_PAGE = "pages/staff_board.py"
REGIONS = [str(digit) for digit in range(10)]
EARLIEST = date(2000, 1, 1)  # imported legacy files go back a long way
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@st.cache_data(ttl=60, show_spinner=False)
def load_dashboard(flt: KpiFilter, role: str, _actor: Actor) -> kpi_series.Dashboard:
    """The dashboard of a filter, shared by everyone with the same role for a minute (the key holds the role,
    see STYLE.md: cache_data is shared by all users)."""
    with read_session() as s:
        return kpi_series.dashboard(s, actor=_actor, flt=flt)


@st.cache_data(ttl=60, show_spinner=False)
def load_choices(role: str, _actor: Actor) -> board.BoardChoices:
    with read_session() as s:
        return board.board_choices(s, actor=_actor)


def or_all(names):
    return lambda value: t("kpi.all") if value is None else names(value)


def monthly_report() -> None:
    """The monthly management report of a chosen month (the previous calendar month first); logged."""
    months = kpi_views.recent_months(to_berlin(now()).date())
    with st.popover(t("kpi.report"), icon=":material/picture_as_pdf:"):
        month = st.selectbox(t("kpi.report_month"), months, key="kpi_report_month",
                             format_func=lambda m: month_label(management_report.month_ref(m)))

        def build() -> bytes:
            with write_session() as s:
                pdf = management_report.management_report_pdf(s, actor=actor, month=month)
                if can(actor, Action.EXPORT_DATA):
                    kpi_views.log_kpi_export(s, actor=actor, flt=management_report.month_filter(month),
                                             table="monatsbericht", rows=1, file_format="pdf")
            return pdf

        st.download_button(t("kpi.report_download"), data=build, file_name=f"monatsbericht-{month:%Y-%m}.pdf",
                           mime="application/pdf", on_click="ignore", key="kpi_report_download")


head, side = st.columns([4, 1], vertical_alignment="bottom")
head.title(t("kpi.title"))
with side:
    monthly_report()

# --- filters --------------------------------------------------------------------------------------------------

choices = load_choices(str(actor.role), actor)
insurers, clerks = dict(choices.insurers), dict(choices.clerks)
today = to_berlin(now()).date()

row = st.columns([2, 1, 1])
preset = row[0].selectbox(t("kpi.period"), list(Preset), index=1, format_func=lambda p: t(f"kpi.preset.{p}"),
                          key="kpi_preset")
if preset == Preset.CUSTOM:
    start = row[1].date_input(t("kpi.date_from"), value=today - timedelta(days=27), min_value=EARLIEST,
                              max_value=today, format="DD.MM.YYYY", key="kpi_from")
    last = row[2].date_input(t("kpi.date_to"), value=today, min_value=EARLIEST, max_value=today,
                             format="DD.MM.YYYY", key="kpi_to")
    if start is None or last is None:
        st.info(t("kpi.dates_missing"))
        st.stop()
    if last < start:
        st.error(t("kpi.period_order"))
        st.stop()
    date_from, date_to = start, last + timedelta(days=1)
else:
    date_from, date_to = kpi_views.preset_period(preset, today)

row = st.columns(5)
damage_type = row[0].selectbox(t("kpi.damage_type"), [None, *DamageType], format_func=or_all(label),
                               key="kpi_damage_type")
insurer_id = row[1].selectbox(t("kpi.insurer"), [None, *insurers], format_func=or_all(insurers.get),
                              key="kpi_insurer")
partner_kind = row[2].selectbox(t("kpi.partner_kind"), [None, *PartnerKind], format_func=or_all(label),
                                key="kpi_partner_kind")
region = row[3].selectbox(t("kpi.region"), [None, *REGIONS],
                          format_func=or_all(lambda digit: t("kpi.region_value", digit=digit)), key="kpi_region")
clerk_id = row[4].selectbox(t("kpi.clerk"), [None, *clerks], format_func=or_all(clerks.get), key="kpi_clerk")

flt = KpiFilter(date_from, date_to, damage_type=damage_type and str(damage_type), insurer_id=insurer_id,
                partner_kind=partner_kind and str(partner_kind), region=region, clerk_id=clerk_id)

# --- one core call ---------------------------------------------------------------------------------------------

data = load_dashboard(flt, str(actor.role), actor)

previous = flt.previous()
st.caption(t("kpi.scope", start=format_date(flt.date_from), end=format_date(flt.date_to - timedelta(days=1)),
             prev_start=format_date(previous.date_from), prev_end=format_date(previous.date_to - timedelta(days=1))))

if not data.current["cases"]:
    st.info(f"{t('kpi.empty')} {t('kpi.empty_next')}")
    st.stop()

# --- figures ---------------------------------------------------------------------------------------------------

tiles = kpi_tables.metric_tiles(data.current, data.previous)
for start_at in range(0, len(tiles), 4):
    for column, tile in zip(st.columns(4), tiles[start_at:start_at + 4]):
        column.metric(tile.label, tile.value, delta=tile.delta, delta_color=tile.delta_color)

# --- charts ----------------------------------------------------------------------------------------------------


def link(narrowing: Narrowing) -> str:
    """The board address of the cases behind a bar or point."""
    return board_address.board_url(kpi_views.board_filter(flt, narrowing))


def export_file(rows: list[dict], table: str, file_format: str):
    """The file, built (and its download logged) only when the button is clicked."""

    def build() -> bytes:
        with write_session() as s:
            kpi_views.log_kpi_export(s, actor=actor, flt=flt, table=table, rows=len(rows), file_format=file_format)
        if file_format == "csv":
            return kpi_tables.csv_bytes(rows)
        return kpi_tables.xlsx_bytes(rows, sheet=t("kpi.title"))

    return build


def selected_links(event, fig, *, with_trace: bool) -> None:
    """A link to the board for each selected bar or point."""
    points = event.selection.points if event else []
    shown: set[str] = set()
    for point in points:
        target = point.get("customdata")
        if not isinstance(target, str) or target in shown:
            continue
        shown.add(target)
        what = str(point.get("x", ""))
        if with_trace:
            what = f"{what} · {fig.data[point.get('curve_number', 0)].name}"
        st.page_link(BOARD_PAGE, label=t("kpi.open_selected", what=what), icon=":material/table_view:",
                     query_params=dict(parse_qsl(urlsplit(target).query)))


def chart(key: str, fig, rows: list[dict], *, links: list[str] | None = None, with_trace: bool = False) -> None:
    """A chart (or the hint that it has no values), then its table with the export buttons in an expander."""
    if fig is None:
        st.caption(t("kpi.no_data"))
        return
    if links is None:
        st.plotly_chart(fig, key=f"kpi_chart_{key}")
    else:
        event = st.plotly_chart(fig, key=f"kpi_chart_{key}", on_select="rerun", selection_mode="points")
        selected_links(event, fig, with_trace=with_trace)
    with st.expander(t("kpi.table")):
        frame = pd.DataFrame(rows)
        config = {}
        if links is not None:
            frame[t("kpi.col_link")] = links
            config[t("kpi.col_link")] = st.column_config.LinkColumn(t("kpi.col_link"), display_text=t("kpi.open_cases"))
        st.dataframe(frame, hide_index=True, column_config=config)
        if can(actor, Action.EXPORT_DATA):
            name = t("kpi.file_name", table=key, start=flt.date_from.isoformat(), end=flt.date_to.isoformat())
            csv_col, xlsx_col, hint = st.columns([1, 1, 2], vertical_alignment="center")
            csv_col.download_button(t("kpi.export_csv"), data=export_file(rows, key, "csv"), file_name=f"{name}.csv",
                                    mime="text/csv", on_click="ignore", key=f"kpi_csv_{key}")
            xlsx_col.download_button(t("kpi.export_xlsx"), data=export_file(rows, key, "xlsx"),
                                     file_name=f"{name}.xlsx", mime=XLSX, on_click="ignore", key=f"kpi_xlsx_{key}")
            hint.caption(t("kpi.export_hint"))


week_links = [link(kpi_views.week_narrowing(w.week)) for w in data.weeks]
st.caption(t("kpi.click_hint"))

st.subheader(t("kpi.section_throughput"))
chart("durchlaufzeit", kpi_charts.throughput_histogram_figure(data.histogram),
      kpi_tables.histogram_rows(data.histogram))
chart("durchlaufzeit-wochen", kpi_charts.throughput_weekly_figure(data.weeks, week_links),
      kpi_tables.week_rows(data.weeks, ["cases", "throughput_hours_median", "throughput_hours_p90",
                                        "within_48h_share"]), links=week_links)

st.subheader(t("kpi.section_cuts"))
insurer_links = [link(Narrowing(insurer_id=r.insurer_id)) for r in data.insurers]
chart("kuerzung-versicherungen", kpi_charts.cut_by_insurer_figure(data.insurers, insurer_links),
      kpi_tables.insurer_rows(data.insurers), links=insurer_links)
chart("kuerzung-wochen", kpi_charts.cut_weekly_figure(data.weeks, week_links),
      kpi_tables.week_rows(data.weeks, ["cut_rate", "cut_case_share"]), links=week_links)
chart("erfolg-wochen", kpi_charts.success_weekly_figure(data.weeks, week_links),
      kpi_tables.week_rows(data.weeks, ["success_rate"]), links=week_links)

st.subheader(t("kpi.section_clients"))
chart("nps-wochen", kpi_charts.nps_weekly_figure(data.weeks, week_links),
      kpi_tables.week_rows(data.weeks, ["nps", "nps_responses"]), links=week_links)
chart("rueckrufe-status", kpi_charts.callbacks_by_stage_figure(data.stages), kpi_tables.stage_rows(data.stages))

st.subheader(t("kpi.section_insurers"))
chart("rueckfragen-wochen", kpi_charts.query_response_figure(data.weeks, week_links),
      kpi_tables.week_rows(data.weeks, ["query_response_hours_median"]), links=week_links)

st.subheader(t("kpi.section_fairness"))
fair_links = [link(kpi_views.iso_week_narrowing(r.iso_week, partner_kind=r.kind, region=r.region))
              for r in data.fairness]
chart("fairness", kpi_charts.fairness_figure(data.fairness, fair_links), kpi_tables.fairness_rows(data.fairness),
      links=fair_links, with_trace=True)
