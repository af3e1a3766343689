"""DHIS2 ISO period identifiers (``202401``, ``2024W5``, ``2024AprilS1``, ...) and ADX periods
(``2024-01-01/P1M``): parsed into a period type and a date range.

Parsing is cached: an import has a handful of distinct periods however many values it carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

MONTHS = ("Jan", "Feb", "Mar", "April", "May", "Jun", "July", "Aug", "Sep", "Oct", "Nov", "Dec")
# weekly period types by the weekday they start on (Monday = 0), with their ISO prefix
WEEKLY = {0: ("Weekly", "W"), 2: ("WeeklyWednesday", "WedW"), 3: ("WeeklyThursday", "ThuW"),
          5: ("WeeklySaturday", "SatW"), 6: ("WeeklySunday", "SunW")}  # fmt: skip
WEEK_PREFIXES = {prefix: (start, name) for start, (name, prefix) in WEEKLY.items()}
FINANCIAL = {"April": ("FinancialApril", 4), "July": ("FinancialJuly", 7), "Oct": ("FinancialOct", 10),
             "Nov": ("FinancialNov", 11)}  # fmt: skip
SIX_MONTHLY = {"": ("SixMonthly", 1), "April": ("SixMonthlyApril", 4), "Nov": ("SixMonthlyNov", 11)}

PATTERN = re.compile(
    r"^(?P<year>\d{4})(?:"
    r"(?P<daily>\d{2}\d{2})$|"
    r"(?P<weekly>W|WedW|ThuW|SatW|SunW)(?P<week>\d{1,2})$|"
    r"BiW(?P<biweek>\d{1,2})$|"
    r"-?(?P<month>\d{2})$|"
    r"(?P<bimonth>\d{2})B$|"
    r"Q(?P<quarter>[1-4])$|"
    r"(?P<six>|April|Nov)S(?P<half>[12])$|"
    r"(?P<financial>April|July|Oct|Nov)$|"
    r"$)"
)
ADX = re.compile(r"^(\d{4}-\d{2}-\d{2})/P(\d+)([DWMY])$")


@dataclass(frozen=True, slots=True)
class Period:
    iso: str
    period_type: str
    start: date
    end: date


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _months(iso: str, period_type: str, year: int, month: int, count: int) -> Period:
    start = date(year, month, 1)
    return Period(iso, period_type, start, _add_months(start, count) - timedelta(days=1))


def week_one(year: int, start_weekday: int) -> date:
    """First day of week 1: the week, starting on ``start_weekday``, that holds 4 January (ISO 8601 rule)."""
    jan4 = date(year, 1, 4)
    return jan4 - timedelta(days=(jan4.weekday() - start_weekday) % 7)


def weeks_in_year(year: int, start_weekday: int) -> int:
    return (week_one(year + 1, start_weekday) - week_one(year, start_weekday)).days // 7


def _weekly(iso: str, year: int, prefix: str, week: int) -> Period | None:
    start_weekday, name = WEEK_PREFIXES[prefix]
    if not 1 <= week <= weeks_in_year(year, start_weekday):
        return None
    start = week_one(year, start_weekday) + timedelta(weeks=week - 1)
    return Period(iso, name, start, start + timedelta(days=6))


def _parse(iso: str, m: re.Match[str]) -> Period | None:
    year = int(m["year"])
    if m["daily"]:
        day = date(year, int(m["daily"][:2]), int(m["daily"][2:]))
        return Period(iso, "Daily", day, day)
    if m["weekly"]:
        return _weekly(f"{year}{m['weekly']}{int(m['week'])}", year, m["weekly"], int(m["week"]))
    if m["biweek"]:
        biweek = int(m["biweek"])
        if not 1 <= biweek <= (weeks_in_year(year, 0) + 1) // 2:
            return None
        start = week_one(year, 0) + timedelta(weeks=2 * (biweek - 1))
        return Period(f"{year}BiW{biweek}", "BiWeekly", start, start + timedelta(days=13))
    if m["month"]:
        month = int(m["month"])
        return _months(f"{year}{month:02d}", "Monthly", year, month, 1) if 1 <= month <= 12 else None
    if m["bimonth"]:
        bimonth = int(m["bimonth"])
        return _months(iso, "BiMonthly", year, 2 * bimonth - 1, 2) if 1 <= bimonth <= 6 else None
    if m["quarter"]:
        return _months(iso, "Quarterly", year, 3 * int(m["quarter"]) - 2, 3)
    if m["half"]:
        name, first_month = SIX_MONTHLY[m["six"]]
        # SixMonthlyNov's first half starts in November of the previous year
        start = _add_months(date(year - (first_month == 11), first_month, 1), 6 * (int(m["half"]) - 1))
        return _months(iso, name, start.year, start.month, 6)
    if m["financial"]:
        name, month = FINANCIAL[m["financial"]]
        return _months(iso, name, year, month, 12)
    return _months(iso, "Yearly", year, 1, 12)


@lru_cache(maxsize=4096)
def parse(iso: str) -> Period | None:
    """The period a DHIS2 ISO identifier names (``iso`` canonical: ``2024-01`` → ``202401``), or None."""
    m = PATTERN.match(iso)
    if m is None:
        return None
    try:
        return _parse(iso, m)
    except ValueError:  # e.g. 20240230
        return None


def _month_based(period_type: str, start: date) -> str:
    y, m = start.year, start.month
    names = {
        "Monthly": f"{y}{m:02d}",
        "BiMonthly": f"{y}{(m + 1) // 2:02d}B",
        "Quarterly": f"{y}Q{(m + 2) // 3}",
        "SixMonthly": f"{y}S{1 + (m > 6)}",
        "SixMonthlyApril": f"{y}AprilS{1 + (m >= 10)}",
        "SixMonthlyNov": f"{y + (m >= 11)}NovS{1 + (m == 5)}",
        "Yearly": f"{y}",
    }
    names.update({name: f"{y}{suffix}" for suffix, (name, _) in FINANCIAL.items()})
    return names.get(period_type, "")


def iso_for(period_type: str, start: date) -> str | None:
    """The ISO identifier of the period of ``period_type`` that starts on ``start``; None if none does."""
    if period_type == "Daily":
        candidates = [start.strftime("%Y%m%d")]
    elif period_type.startswith("Weekly") or period_type == "BiWeekly":
        candidates = [
            f"{year}{prefix}{week}"
            for year in (start.year - 1, start.year, start.year + 1)
            for prefix, week in _week_candidates(period_type, year, start)
        ]
    else:
        candidates = [_month_based(period_type, start)]
    for iso in candidates:
        period = parse(iso) if iso else None
        if period is not None and period.period_type == period_type and period.start == start:
            return iso
    return None


def _week_candidates(period_type: str, year: int, start: date) -> list[tuple[str, int]]:
    if period_type == "BiWeekly":
        return [("BiW", 1 + (start - week_one(year, 0)).days // 14)]
    prefix = next(p for p, (_, name) in WEEK_PREFIXES.items() if name == period_type)
    return [(prefix, 1 + (start - week_one(year, WEEK_PREFIXES[prefix][0])).days // 7)]


ADX_TYPES = {("D", 1): "Daily", ("D", 14): "BiWeekly", ("W", 2): "BiWeekly", ("M", 1): "Monthly",
             ("M", 2): "BiMonthly", ("M", 3): "Quarterly"}  # fmt: skip


def _adx_type(start: date, count: int, unit: str) -> str | None:
    if (unit, count) in (("D", 7), ("W", 1)):
        return WEEKLY.get(start.weekday(), (None, ""))[0]
    if (unit, count) == ("M", 6):
        return {1: "SixMonthly", 7: "SixMonthly", 4: "SixMonthlyApril", 10: "SixMonthlyApril",
                11: "SixMonthlyNov", 5: "SixMonthlyNov"}.get(start.month)  # fmt: skip
    if (unit, count) == ("Y", 1):
        return (
            "Yearly"
            if start.month == 1
            else next((name for name, month in FINANCIAL.values() if month == start.month), None)
        )
    return ADX_TYPES.get((unit, count))


@lru_cache(maxsize=1024)
def from_adx(value: str) -> str | None:
    """``2015-06-01/P1M`` → ``201506``; None when the start and duration name no DHIS2 period."""
    m = ADX.match(value.strip())
    if m is None:
        return None
    try:
        start = date.fromisoformat(m[1])
    except ValueError:
        return None
    period_type = _adx_type(start, int(m[2]), m[3])
    return iso_for(period_type, start) if period_type else None


def shift(period: Period, steps: int) -> Period:
    """The period ``steps`` periods after ``period`` (same type); used for open future periods."""
    current = period
    for _ in range(steps):
        nxt = containing(current.period_type, current.end + timedelta(days=1))
        if nxt is None:
            break
        current = nxt
    return current


def containing(period_type: str, day: date) -> Period | None:
    """The period of ``period_type`` that contains ``day``."""
    probe = day
    # period starts are at most a year (366 days) before any day they contain
    for _ in range(367):
        iso = iso_for(period_type, probe)
        if iso is not None:
            period = parse(iso)
            if period is not None and period.start <= day <= period.end:
                return period
        probe -= timedelta(days=1)
    return None
