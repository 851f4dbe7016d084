"""The retention purge's calendar (§10): months in Berlin days, legal periods from the end of the calendar year."""

from datetime import UTC, date, datetime, timedelta

import pytest

from core.enums import CaseStatus
from core.errors import ConfigurationError
from core.retention_periods import (
    BOOKING_RECORD_YEARS,
    BUSINESS_LETTER_YEARS,
    add_months,
    deletable_from,
    ended_before,
    erasure_day,
    is_due,
    year_of,
)
from core.settings import Settings
from core.timeutil import BERLIN


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2024, 3, 16), 24, date(2026, 3, 16)),
    (date(2024, 2, 29), 24, date(2026, 2, 28)),  # no 29 February: the month's last day
    (date(2024, 8, 31), 1, date(2024, 9, 30)),
    (date(2024, 12, 15), 1, date(2025, 1, 15)),
    (date(2026, 3, 31), -1, date(2026, 2, 28)),
])
def test_add_months_keeps_the_day_number_or_takes_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


def test_erasure_day_counts_from_the_berlin_closing_day():
    # 23:30 UTC on 15 March is 00:30 on 16 March in Berlin
    assert erasure_day(datetime(2024, 3, 15, 23, 30, tzinfo=UTC), 24) == date(2026, 3, 16)


def test_erasure_day_in_summer_time():
    # 22:30 UTC on 30 June is 00:30 on 1 July in Berlin (CEST)
    assert erasure_day(datetime(2024, 6, 30, 22, 30, tzinfo=UTC), 24) == date(2026, 7, 1)


@pytest.mark.parametrize("months", [1, 12, 24, 25])
def test_sql_cutoff_agrees_with_the_exact_rule_on_every_day(months):
    """A case is due on `today` exactly when it ended before `ended_before(today)`, for every closing day."""
    start = date(2023, 1, 1)
    closings = [datetime.combine(start + timedelta(days=i), datetime.min.time(), tzinfo=BERLIN) + timedelta(hours=h)
                for i in range(800) for h in (0, 23)]
    for today in (date(2025, 2, 28), date(2025, 3, 31), date(2024, 2, 29), date(2025, 12, 31), date(2025, 7, 1)):
        cutoff = ended_before(today, months)
        assert [c for c in closings if erasure_day(c, months) <= today] == [c for c in closings if c < cutoff]


def test_booking_records_go_on_the_first_day_after_eight_full_years():
    assert BOOKING_RECORD_YEARS == 8
    assert deletable_from(2024, BOOKING_RECORD_YEARS) == date(2033, 1, 1)


def test_business_letters_go_on_the_first_day_after_six_full_years():
    assert BUSINESS_LETTER_YEARS == 6
    assert deletable_from(2024, BUSINESS_LETTER_YEARS) == date(2031, 1, 1)


def test_retention_months_defaults_to_24(tmp_path):
    assert Settings.load(env={}, secrets_path=tmp_path / "none.toml").retention_months == 24


@pytest.mark.parametrize("raw", ["0", "-3", "1201", "zwei"])
def test_retention_months_out_of_range_is_refused(tmp_path, raw):
    with pytest.raises(ConfigurationError, match="RETENTION_MONTHS"):
        Settings.load(env={"RETENTION_MONTHS": raw}, secrets_path=tmp_path / "none.toml")


def test_a_case_is_due_from_its_erasure_day_on_by_the_end_that_counts_for_its_status():
    ended = datetime(2024, 8, 30, 22, 30, tzinfo=UTC)  # 31.08.2024 00:30 in Berlin
    assert erasure_day(ended, 24) == date(2026, 8, 31)
    for status, closed, cancelled in ((CaseStatus.CLOSED, ended, None), (CaseStatus.CANCELLED, None, ended)):
        assert not is_due(status, closed, cancelled, today=date(2026, 8, 30), months=24)
        assert is_due(status, closed, cancelled, today=date(2026, 8, 31), months=24)
    later = datetime(2026, 1, 1, tzinfo=UTC)
    assert not is_due(CaseStatus.CLOSED, None, ended, today=later.date(), months=0)  # a closed case counts closed_at
    assert not is_due(CaseStatus.PAID, ended, ended, today=date(2030, 1, 1), months=24)  # open: never
    assert year_of(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == 2026  # New Year in Berlin already
