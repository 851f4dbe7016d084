"""The monthly management report PDF (Monatsbericht): title, every §5 figure with the previous month, German
number formats, escaping, charts, `Seite x von y` and the generation time; an empty month prints `–`."""

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime

from pypdf import PdfReader

from core.i18n import t
from core.kpis import KPI_KEYS
from reports.management_report import (
    FairnessLine,
    InsurerLine,
    ManagementReportData,
    StageLine,
    WeekLine,
    format_change,
    format_count,
    format_hours,
    format_nps,
    format_percent,
    format_ratio,
    management_report_pdf,
)

GENERATED = datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 06:00 in Berlin
MALICIOUS = '<b>Müller & Söhne</b> <font color="red">X</font>'
CURRENT = {
    "cases": 1234, "throughput_hours_median": 24.6, "throughput_hours_p90": 71.25, "within_48h_share": 0.875,
    "cut_rate": 0.125, "cut_case_share": 0.4, "success_rate": 0.9, "nps": 33.3, "nps_responses": 12,
    "callback_rate": 0.25, "query_response_hours_median": 30.0,
}
PREVIOUS = {**CURRENT, "cases": 1100, "throughput_hours_median": 27.6, "within_48h_share": 0.854, "nps": None}
NONE = dict.fromkeys(KPI_KEYS) | {"cases": 0, "nps_responses": 0}


def week(day: int, median: float | None, nps: float | None) -> WeekLine:
    return WeekLine(week=date(2026, 10, day), cases=300, throughput_median=median,
                    throughput_p90=None if median is None else median * 2, within_48h_share=0.8, nps=nps,
                    nps_responses=3)


DATA = ManagementReportData(
    month=date(2026, 10, 1), current=CURRENT, previous=PREVIOUS,
    weeks=(week(5, 22.5, 50), week(12, 30.0, None), week(19, None, -25), week(26, 26.0, 10)),
    insurers=(InsurerLine("HUK-COBURG", 600, 400, 0.125, 0.4, 0.95), InsurerLine(MALICIOUS, 34, 0, None, None, None)),
    stages=(StageLine(t("CaseStatus.received"), 12, 0.0097), StageLine(t("CaseStatus.paid"), 0, 0.0)),
    fairness=(FairnessLine("Autoglaserei", "1", 4, 120, 3, "2026-W42", 1.5),),
    generated_at=GENERATED,
)
EMPTY_MONTH = ManagementReportData(
    month=date(2026, 10, 1), current=NONE, previous=NONE,
    weeks=tuple(replace(week(d, None, None), cases=0, within_48h_share=None, nps_responses=0) for d in (5, 12)),
    insurers=(), stages=(StageLine(t("CaseStatus.received"), 0, None),), fairness=(), generated_at=GENERATED,
)


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(pdf: bytes) -> str:
    """All pages' text with line breaks as spaces (table cells may wrap)."""
    return re.sub(r"\s+", " ", "\n".join(pages_text(pdf)))


def test_german_number_formats():
    assert (format_percent(0.125), format_hours(24.6), format_count(1234), format_nps(-12.4), format_ratio(1.2414)) == \
        ("12,5 %", "24,6 h", "1.234", "-12", "1,24")


def test_a_missing_figure_is_a_dash():
    assert {format_percent(None), format_hours(None), format_count(None), format_nps(None), format_ratio(None)} == {"–"}


def test_changes_are_signed_in_points_and_hours():
    assert format_change("within_48h_share", 0.875, 0.854) == "+2,1 Pp."
    assert format_change("throughput_hours_median", 24.6, 27.6) == "-3,0 h"
    assert format_change("cases", 1100, 1100) == "0"
    assert format_change("callback_rate", 1.24, 1.0) == "+0,24"
    assert format_change("nps", 10, None) == "–"


def test_title_names_the_month_on_the_first_page():
    assert pages_text(management_report_pdf(DATA))[0].startswith("Monatsbericht Oktober 2026")


def test_every_figure_is_labelled_with_month_and_previous_month():
    text = flat(management_report_pdf(DATA))
    for key in KPI_KEYS:
        assert t(f"mreport.fig_{key}") in text, key
    assert "Oktober 2026 September 2026" in text


def test_figures_are_printed_in_german_formats_with_the_change():
    text = flat(management_report_pdf(DATA))
    assert "24,6 h 27,6 h -3,0 h" in text
    assert "87,5 % 85,4 % +2,1 Pp." in text
    assert "1.234 1.100 +134" in text
    assert "12,5 %" in text and "33 – –" in text


def test_every_page_says_page_x_of_n_and_the_generation_time():
    pages = pages_text(management_report_pdf(DATA))
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert f"Seite {number} von {len(pages)}" in text
        assert "erstellt am 01.11.2026 06:00" in text


def test_charts_and_tables_are_in_the_report():
    text = flat(management_report_pdf(DATA))
    for key in ("chart_throughput", "chart_nps", "chart_cut_rate", "insurers", "stages", "fairness", "weeks"):
        assert t(f"mreport.{key}") in text, key
    assert "48-Stunden-Versprechen" in text and "KW 41" in text
    assert "Autoglaserei 1 4 120 3 (2026-W42) 1,5" in text
    assert "Eingang 12 0,01" in text


def test_insurer_names_are_escaped_not_interpreted():
    assert MALICIOUS in flat(management_report_pdf(DATA))


def test_empty_month_prints_dashes_without_crashing():
    pdf = management_report_pdf(EMPTY_MONTH)
    text = flat(pdf)
    assert text.startswith("Monatsbericht Oktober 2026")
    assert f"{t('mreport.fig_throughput_hours_median')} – – –" in text
    assert f"{t('mreport.fig_cases')} 0 0 0" in text
    assert t("mreport.no_letters") in text and t("mreport.no_payments") in text
    assert "Seite 1 von 1" in text
