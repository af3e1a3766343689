from datetime import date

import pytest

from hub.dhis2.datavalues import periods


@pytest.mark.parametrize(
    ("iso", "period_type", "start", "end"),
    [
        ("20240315", "Daily", date(2024, 3, 15), date(2024, 3, 15)),
        ("2024W5", "Weekly", date(2024, 1, 29), date(2024, 2, 4)),
        ("2024W05", "Weekly", date(2024, 1, 29), date(2024, 2, 4)),
        ("2024WedW1", "WeeklyWednesday", date(2024, 1, 3), date(2024, 1, 9)),
        ("2024SunW1", "WeeklySunday", date(2023, 12, 31), date(2024, 1, 6)),
        ("2015BiW1", "BiWeekly", date(2014, 12, 29), date(2015, 1, 11)),
        ("202401", "Monthly", date(2024, 1, 1), date(2024, 1, 31)),
        ("2024-02", "Monthly", date(2024, 2, 1), date(2024, 2, 29)),
        ("202401B", "BiMonthly", date(2024, 1, 1), date(2024, 2, 29)),
        ("2024Q4", "Quarterly", date(2024, 10, 1), date(2024, 12, 31)),
        ("2024S2", "SixMonthly", date(2024, 7, 1), date(2024, 12, 31)),
        ("2024AprilS1", "SixMonthlyApril", date(2024, 4, 1), date(2024, 9, 30)),
        ("2024NovS1", "SixMonthlyNov", date(2023, 11, 1), date(2024, 4, 30)),
        ("2024", "Yearly", date(2024, 1, 1), date(2024, 12, 31)),
        ("2024April", "FinancialApril", date(2024, 4, 1), date(2025, 3, 31)),
        ("2024July", "FinancialJuly", date(2024, 7, 1), date(2025, 6, 30)),
        ("2024Oct", "FinancialOct", date(2024, 10, 1), date(2025, 9, 30)),
        ("2024Nov", "FinancialNov", date(2024, 11, 1), date(2025, 10, 31)),
    ],
    ids=lambda v: str(v),
)
def test_every_period_type_parses(iso: str, period_type: str, start: date, end: date) -> None:
    period = periods.parse(iso)
    assert period is not None
    assert (period.period_type, period.start, period.end) == (period_type, start, end)


@pytest.mark.parametrize("iso", ["202413", "20240230", "2024W53", "2024Q5", "2024BiW28", "24", "abc", ""])
def test_invalid_periods_are_refused(iso: str) -> None:
    assert periods.parse(iso) is None


def test_canonical_form_makes_one_key_per_period() -> None:
    assert periods.parse("2024-01").iso == periods.parse("202401").iso == "202401"  # type: ignore[union-attr]
    assert periods.parse("2024W05").iso == "2024W5"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("adx", "iso"),
    [
        ("2020-01-01/P1M", "202001"),
        ("2021-01-01/P3M", "2021Q1"),
        ("2024-04-01/P1Y", "2024April"),
        ("2023-11-01/P6M", "2024NovS1"),
        ("2024-01-01/P7D", "2024W1"),
        ("2024-01-03/P1M", None),
        ("2024-01-01", None),
    ],
)
def test_adx_periods(adx: str, iso: str | None) -> None:
    assert periods.from_adx(adx) == iso


def test_shift_and_containing() -> None:
    current = periods.containing("Monthly", date(2024, 5, 17))
    assert current is not None and current.iso == "202405"
    assert periods.shift(current, 8).iso == "202501"
