import pytest

from hub.dhis2.datavalues.value_types import error, normalise


@pytest.mark.parametrize(
    ("value", "value_type", "problem"),
    [
        ("12", "INTEGER", None),
        ("1.5", "INTEGER", "value_not_integer"),
        ("99999999999", "INTEGER", "value_not_integer"),
        ("-3", "INTEGER_POSITIVE", "value_not_positive_integer"),
        ("3", "INTEGER_NEGATIVE", "value_not_negative_integer"),
        ("0", "INTEGER_ZERO_OR_POSITIVE", None),
        ("-1", "INTEGER_ZERO_OR_POSITIVE", "value_not_zero_or_positive_integer"),
        ("1e5", "NUMBER", None),
        ("abc", "NUMBER", "value_not_numeric"),
        ("0.5", "UNIT_INTERVAL", None),
        ("2", "UNIT_INTERVAL", "value_not_unit_interval"),
        ("101", "PERCENTAGE", "value_not_percentage"),
        ("true", "BOOLEAN", None),
        ("maybe", "BOOLEAN", "value_not_bool"),
        ("false", "TRUE_ONLY", "value_not_true_only"),
        ("2024-02-30", "DATE", "value_not_valid_date"),
        ("2024-02-03", "DATE", None),
        ("2024-02-03T10:00:00", "DATETIME", None),
        ("25:00", "TIME", "value_not_valid_time"),
        ("[1,2]", "COORDINATE", None),
        ("[200,2]", "COORDINATE", "value_not_coordinate"),
        ("ab", "LETTER", "value_not_valid_letter"),
        ("a@b.org", "EMAIL", None),
        ("nope", "EMAIL", "value_not_valid_email"),
        ("ftp://x.org", "URL", None),
        ("x", "URL", "value_not_url"),
        ("anything", "TEXT", None),
        ("x" * 50_001, "LONG_TEXT", "value_length_greater_than_max_length"),
        ("DiszpKrYNg8", "ORGANISATION_UNIT", None),
    ],
    ids=lambda v: str(v)[:20],
)
def test_value_types(value: str, value_type: str, problem: str | None) -> None:
    assert error(value, value_type) == problem


@pytest.mark.parametrize(
    ("given", "stored"), [("Yes", "true"), ("1", "true"), ("F", "false"), ("no", "false")]
)
def test_booleans_are_normalised(given: str, stored: str) -> None:
    assert normalise(given, "BOOLEAN") == stored
    assert normalise(given, "TEXT") == given
