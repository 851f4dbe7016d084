"""Times are stored in UTC and shown in Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_berlin(value: datetime) -> datetime:
    """The same instant in Europe/Berlin."""
    return value.astimezone(BERLIN)


def format_dt(value: datetime | None) -> str:
    """`23.11.2026 14:05` in Berlin time; empty for None."""
    return "" if value is None else to_berlin(value).strftime("%d.%m.%Y %H:%M")


def format_date(value: date | None) -> str:
    """`23.11.2026`; empty for None."""
    return "" if value is None else value.strftime("%d.%m.%Y")


def berlin_midnight_utc(day: date) -> datetime:
    """The UTC instant at which the Berlin calendar day starts."""
    return datetime.combine(day, time.min, tzinfo=BERLIN).astimezone(UTC)


def iso_week(value: datetime) -> str:
    """The Berlin ISO week of an instant, e.g. `2026-W48`."""
    year, week, _ = to_berlin(value).isocalendar()
    return f"{year}-W{week:02d}"
