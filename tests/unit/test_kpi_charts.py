"""The KPI dashboard's pure parts: the figure builders (traces, the 48 h line, nothing to draw gives None), the
German number formats and tables, and the period presets."""

import io
from datetime import date

import openpyxl
import pytest

from core.enums import CaseStatus
from core.i18n import t
from core.kpi_series import FairnessRow, InsurerRow, StageRow, WeekRow
from core.kpi_views import Preset, preset_period, recent_months
from core.kpis import KPI_KEYS
from reports import kpi_charts, kpi_tables

NOTHING = dict.fromkeys(KPI_KEYS) | {"cases": 0, "nps_responses": 0}


def week(monday: date, **figures) -> WeekRow:
    return WeekRow(monday, NOTHING | figures)


WEEKS = [
    week(date(2026, 11, 2), cases=10, throughput_hours_median=20.0, throughput_hours_p90=50.0, within_48h_share=0.9,
         cut_rate=0.05, cut_case_share=0.3, success_rate=0.8, nps=40.0, nps_responses=5,
         query_response_hours_median=70.0),
    week(date(2026, 11, 9), cases=0),
    week(date(2026, 11, 16), cases=4, throughput_hours_median=30.0, throughput_hours_p90=60.0, within_48h_share=0.5,
         cut_rate=0.1, cut_case_share=0.5, success_rate=1.0, nps=-20.0, nps_responses=2),
]
LINKS = ["/board?from=2026-11-02", "/board?from=2026-11-09", "/board?from=2026-11-16"]


def test_histogram_has_one_bar_per_bin_and_the_48_hour_line():
    fig = kpi_charts.throughput_histogram_figure([(0, 3), (6, 0), (12, 5), (48, 2)])
    (bars,) = fig.data
    assert bars.type == "bar"
    assert list(bars.y) == [3, 0, 5, 2]
    assert list(bars.x) == [3, 9, 15, 51]  # bin centres, 6 h wide
    (line,) = fig.layout.shapes
    assert (line.x0, line.x1, line.line.dash) == (48, 48, "dash")


def test_histogram_names_the_last_open_bin():
    fig = kpi_charts.throughput_histogram_figure([(0, 1), (240, 2)])
    assert list(fig.data[0].hovertext) == [t("kpi.bin", start=0, end=6), t("kpi.bin_open", start=240)]


def test_histogram_without_letters_is_none():
    assert kpi_charts.throughput_histogram_figure([]) is None


def test_weekly_throughput_has_median_p90_and_share_on_the_right_axis():
    fig = kpi_charts.throughput_weekly_figure(WEEKS, LINKS)
    assert [tr.name for tr in fig.data] == [t("kpi.throughput_median"), t("kpi.throughput_p90"), t("kpi.within_48h")]
    assert list(fig.data[0].x) == ["KW 45/2026", "KW 46/2026", "KW 47/2026"]
    assert list(fig.data[0].y) == [20.0, None, 30.0]
    assert [tr.yaxis for tr in fig.data] == ["y", "y", "y2"]
    assert list(fig.data[2].customdata) == LINKS
    assert fig.layout.separators == ",."


def test_weekly_figures_need_one_link_per_week():
    with pytest.raises(ValueError):
        kpi_charts.throughput_weekly_figure(WEEKS, LINKS[:2])


@pytest.mark.parametrize("builder", [
    kpi_charts.throughput_weekly_figure, kpi_charts.cut_weekly_figure, kpi_charts.success_weekly_figure,
    kpi_charts.nps_weekly_figure, kpi_charts.query_response_figure,
])
def test_weekly_figure_of_weeks_without_values_is_none(builder):
    assert builder([week(date(2026, 11, 2)), week(date(2026, 11, 9))]) is None
    assert builder([]) is None


def test_cut_by_insurer_shows_both_rates_for_insurers_with_payments_only():
    rows = [InsurerRow(1, "HUK-COBURG", 10, 6, 0.05, 0.5, 0.9), InsurerRow(2, "Allianz", 3, 0, None, None, None)]
    fig = kpi_charts.cut_by_insurer_figure(rows, ["/board?insurer=1", "/board?insurer=2"])
    assert [tr.name for tr in fig.data] == [t("kpi.cut_rate"), t("kpi.cut_case_share")]
    assert [(tr.type, list(tr.x), list(tr.y)) for tr in fig.data] == [
        ("bar", ["HUK-COBURG"], [0.05]), ("bar", ["HUK-COBURG"], [0.5])]
    assert list(fig.data[0].customdata) == ["/board?insurer=1"]


def test_cut_by_insurer_without_payments_is_none():
    assert kpi_charts.cut_by_insurer_figure([InsurerRow(2, "Allianz", 3, 0, None, None, None)]) is None


def test_cut_weekly_has_rate_and_case_share():
    fig = kpi_charts.cut_weekly_figure(WEEKS)
    assert [list(tr.y) for tr in fig.data] == [[0.05, None, 0.1], [0.3, None, 0.5]]


def test_success_weekly_is_one_line():
    fig = kpi_charts.success_weekly_figure(WEEKS)
    assert [(tr.type, list(tr.y)) for tr in fig.data] == [("scatter", [0.8, None, 1.0])]


def test_nps_has_responses_as_bars_and_the_score_as_line():
    fig = kpi_charts.nps_weekly_figure(WEEKS)
    bars, line = fig.data
    assert (bars.type, list(bars.y), bars.yaxis) == ("bar", [5, 0, 2], "y2")
    assert (line.type, list(line.y)) == ("scatter", [40.0, None, -20.0])
    assert tuple(fig.layout.yaxis.range) == (-100, 100)


def test_callbacks_by_stage_is_one_bar_per_status():
    stages = [StageRow(CaseStatus.RECEIVED, 2, 0.1), StageRow(CaseStatus.CLAIM_SENT, 8, 0.4)]
    fig = kpi_charts.callbacks_by_stage_figure(stages)
    assert [(tr.type, list(tr.x), list(tr.y)) for tr in fig.data] == [("bar", ["Eingang", "Forderung versendet"],
                                                                        [0.1, 0.4])]


def test_callbacks_without_cases_is_none():
    assert kpi_charts.callbacks_by_stage_figure([StageRow(CaseStatus.RECEIVED, 0, None)]) is None


def test_query_response_is_the_weekly_median():
    fig = kpi_charts.query_response_figure(WEEKS)
    assert list(fig.data[0].y) == [70.0, None, None]


def test_fairness_has_one_spread_line_per_kind_and_region():
    rows = [FairnessRow("2026-W45", "glass", "1", 2, 7, 3, 4), FairnessRow("2026-W45", "workshop", "2", 1, 2, 2, 2),
            FairnessRow("2026-W46", "glass", "1", 2, 6, 1, 5), FairnessRow("2026-W46", "workshop", "2", 1, 0, 0, 0)]
    fig = kpi_charts.fairness_figure(rows, ["a", "b", "c", "d"])
    assert [tr.name for tr in fig.data] == ["Autoglaserei · PLZ 1", "Werkstatt · PLZ 2"]
    assert [list(tr.y) for tr in fig.data] == [[1, 4], [0, 0]]
    assert [list(tr.customdata) for tr in fig.data] == [["a", "c"], ["b", "d"]]
    assert list(fig.layout.xaxis.categoryarray) == ["KW 45/2026", "KW 46/2026"]


def test_fairness_without_partners_is_none():
    assert kpi_charts.fairness_figure([]) is None


@pytest.mark.parametrize(("value", "kind", "text"), [
    (0.125, "share", "12,5 %"), (24.56, "hours", "24,6 h"), (1234, "count", "1.234"), (0.904, "rate", "0,90"),
    (44.1, "nps", "44"), (None, "share", "–"), (1234.5, "hours", "1.234,5 h"),
])
def test_german_formats(value, kind, text):
    assert kpi_tables.fmt(value, kind) == text


@pytest.mark.parametrize(("current", "previous", "kind", "text"), [
    (0.85, 0.84, "share", "+1,0 %-Pkt."), (24.0, 24.9, "hours", "-0,9 h"), (550, 509, "count", "+41"),
    (0.90, 0.9001, "rate", "±0,00"), (None, 3.0, "hours", None), (3.0, None, "hours", None),
])
def test_deltas_carry_their_sign_and_unit(current, previous, kind, text):
    assert kpi_tables.fmt_delta(current, previous, kind) == text


def test_tiles_show_every_figure_and_an_unchanged_one_in_grey():
    current = NOTHING | {"cases": 10, "callback_rate": 0.5, "throughput_hours_median": 20.0}
    previous = NOTHING | {"cases": 8, "callback_rate": 0.5, "throughput_hours_median": 22.0}
    tiles = {tile.key: tile for tile in kpi_tables.metric_tiles(current, previous)}
    assert list(tiles) == list(KPI_KEYS)
    assert (tiles["cases"].value, tiles["cases"].delta) == ("10", "+2")
    assert (tiles["throughput_hours_median"].delta, tiles["throughput_hours_median"].delta_color) == ("-2,0 h",
                                                                                                    "inverse")
    assert (tiles["callback_rate"].delta, tiles["callback_rate"].delta_color) == ("±0,00", "off")
    assert (tiles["nps"].value, tiles["nps"].delta) == ("–", None)


def test_week_table_has_percent_and_hours_columns():
    rows = kpi_tables.week_rows(WEEKS[:1], ["throughput_hours_median", "within_48h_share"])
    assert rows == [{"Woche": "KW 45/2026", "Woche ab": date(2026, 11, 2), "Durchlaufzeit Median (h)": 20.0,
                     "Forderung in 48 h (%)": 90.0}]


def test_csv_uses_decimal_commas_and_german_dates_and_neutralises_formulas():
    rows = [{"Versicherung": "=HYPERLINK(1)", "Woche ab": date(2026, 11, 2), "Quote (%)": 12.5}]
    text = kpi_tables.csv_bytes(rows).decode("utf-8-sig")
    assert text.splitlines()[1] == "'=HYPERLINK(1);02.11.2026;12,5"


def test_xlsx_keeps_numbers_as_numbers():
    data = kpi_tables.xlsx_bytes([{"Versicherung": "HUK", "Quote (%)": 12.5}], sheet="Kennzahlen")
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    assert [c.value for c in sheet[2]] == ["HUK", 12.5]


@pytest.mark.parametrize(("preset", "period"), [
    (Preset.LAST_4_WEEKS, (date(2026, 10, 27), date(2026, 11, 24))),
    (Preset.LAST_13_WEEKS, (date(2026, 8, 25), date(2026, 11, 24))),
    (Preset.LAST_52_WEEKS, (date(2025, 11, 25), date(2026, 11, 24))),
    (Preset.LAST_MONTH, (date(2026, 10, 1), date(2026, 11, 1))),
    (Preset.THIS_YEAR, (date(2026, 1, 1), date(2026, 11, 24))),
])
def test_presets_end_after_today_except_the_last_month(preset, period):
    assert preset_period(preset, date(2026, 11, 23)) == period


def test_last_month_in_january_is_december():
    assert preset_period(Preset.LAST_MONTH, date(2027, 1, 15)) == (date(2026, 12, 1), date(2027, 1, 1))


def test_report_months_start_with_the_previous_month():
    assert recent_months(date(2026, 1, 20), 3) == [date(2025, 12, 1), date(2025, 11, 1), date(2025, 10, 1)]
