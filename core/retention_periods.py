"""The retention purge's calendar (§10): how long personal data, booking records and business letters are kept.

Pure date arithmetic on Europe/Berlin calendar days; core.retention and core.case_erasure apply it.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

from core.enums import CaseStatus
from core.timeutil import berlin_midnight_utc, to_berlin

#: Booking records (Buchungsbelege: invoices, settlements, payment records): 8 years from the end of the calendar
#: year they arose in — §147 Abs. 1 Nr. 4, Abs. 3, 4 AO, §257 Abs. 1 Nr. 4, Abs. 4, 5 HGB and §14b Abs. 1 UStG,
#: each as amended by the Viertes Bürokratieentlastungsgesetz (10 -> 8 years, in force since 1 January 2025).
BOOKING_RECORD_YEARS = 8
#: Business letters received and copies of those sent (Handels- und Geschäftsbriefe): 6 years from the end of the
#: calendar year — §147 Abs. 1 Nr. 2, 3, Abs. 3, 4 AO, §257 Abs. 1 Nr. 2, 3, Abs. 4, 5 HGB.
BUSINESS_LETTER_YEARS = 6


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months; a day number the target month lacks becomes its last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def erasure_day(ended_at: datetime, months: int) -> date:
    """The Berlin day from which a case that ended at `ended_at` is purged."""
    return add_months(to_berlin(ended_at).date(), months)


def ended_before(today: date, months: int) -> datetime:
    """The UTC instant such that a case is due on Berlin day `today` exactly when it ended before it."""
    last = add_months(today, -months)
    while add_months(last + timedelta(days=1), months) <= today:  # several days map onto a month's end
        last += timedelta(days=1)
    return berlin_midnight_utc(last + timedelta(days=1))


def deletable_from(year: int, years: int) -> date:
    """The first day after a period of `years` counted from the end of calendar year `year`."""
    return date(year + years + 1, 1, 1)


def year_of(value: datetime) -> int:
    """The Berlin calendar year of an instant (a record's period counts from the end of that year)."""
    return to_berlin(value).year


def is_due(status: CaseStatus, closed_at: datetime | None, cancelled_at: datetime | None, *, today: date,
           months: int) -> bool:
    """Whether a case's personal data goes on Berlin day `today`: it ended (closed_at, or cancelled_at for a
    cancelled case) at least `months` calendar months before (erasure_day). Open cases never."""
    ended = closed_at if status == CaseStatus.CLOSED else cancelled_at if status == CaseStatus.CANCELLED else None
    return ended is not None and erasure_day(ended, months) <= today
