"""The sentences of validation results: a failing row's reason, a failed verdict on a batch
or a table, a value as an engineer would type it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ferryman.validations.gx_runner import ExpectationOutcome
    from ferryman.validations.suites import ExpectationSpec


def value_text(value: Any) -> str:
    """A value as an engineer would type it: 2024-01-31, 12.50, true, john.doe@."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | int | float | str):
        return str(value)
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _shown(value: Any) -> str:
    """A value inside a sentence: text quoted, long text cut."""
    text = value_text(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return repr(text) if isinstance(value, str) else text


def _range(kw: dict[str, Any], unit: str = "") -> str:
    lo, hi = kw.get("min_value"), kw.get("max_value")
    strict = kw.get("strict_min") or kw.get("strict_max")
    if lo is not None and hi is not None and not strict:
        return f"between {value_text(lo)} and {value_text(hi)}{unit}"
    low = "greater than" if kw.get("strict_min") else "at least"
    high = "less than" if kw.get("strict_max") else "at most"
    parts = [f"{low} {value_text(lo)}{unit}" if lo is not None else ""]
    parts.append(f"{high} {value_text(hi)}{unit}" if hi is not None else "")
    return " and ".join(p for p in parts if p)


def _items(values: Any) -> str:
    values = list(values or [])
    more = ", ..." if len(values) > 10 else ""
    return "{" + ", ".join(_shown(v) for v in values[:10]) + more + "}"


def _fields(kw: dict[str, Any]) -> dict[str, Any]:
    """The words the sentence templates below are filled with."""
    patterns = ", ".join(map(str, kw.get("regex_list") or []))
    return {
        "regex": kw.get("regex"),
        "patterns": patterns,
        "how": "all" if kw.get("match_on") == "all" else "any",
        "range": _range(kw),
        "lengths": _range(kw, " characters"),
        "set": _items(kw.get("value_set")),
        "value": kw.get("value"),
        "format": kw.get("strftime_format"),
        "threshold": kw.get("threshold"),
        "A": kw.get("column_A"),
        "B": kw.get("column_B"),
        "than": "at least" if kw.get("or_equal") else "greater than",
        "sum_total": kw.get("sum_total"),
    }


# What a failing row "does", completing "email 'john.doe@' ..." or "the values (a=1, b=2) ...".
_VIOLATIONS = {
    "expect_column_values_to_match_regex": "does not match the pattern {regex}",
    "expect_column_values_to_not_match_regex": "matches the forbidden pattern {regex}",
    "expect_column_values_to_match_regex_list": "does not match {how} of the patterns {patterns}",
    "expect_column_values_to_not_match_regex_list": "matches a forbidden pattern of {patterns}",
    "expect_column_values_to_not_be_null": "is missing (null)",
    "expect_column_values_to_be_null": "should be empty (null)",
    "expect_column_values_to_be_between": "is not {range}",
    "expect_column_values_to_be_in_set": "is not one of {set}",
    "expect_column_values_to_not_be_in_set": "is one of the forbidden values {set}",
    "expect_column_value_lengths_to_be_between": "is not {lengths} long",
    "expect_column_value_lengths_to_equal": "is not {value} characters long",
    "expect_column_values_to_be_unique": "occurs more than once in the batch",
    "expect_column_values_to_match_strftime_format": "does not have the date format {format}",
    "expect_column_values_to_be_dateutil_parseable": "is not a recognisable date",
    "expect_column_values_to_be_json_parseable": "is not valid JSON",
    "expect_column_values_to_match_json_schema": "does not match the JSON schema",
    "expect_column_values_to_be_increasing": "is not above the value of the row before",
    "expect_column_values_to_be_decreasing": "is not below the value of the row before",
    "expect_column_value_z_scores_to_be_less_than": "is an outlier (z-score over {threshold})",
    "expect_column_values_to_not_be_outliers": "is an outlier",
    "expect_column_pair_values_to_be_equal": "differ",
    "expect_column_pair_values_to_be_in_set": "are not an allowed pair",
    "expect_column_pair_values_a_to_be_greater_than_b": "do not have {A} {than} {B}",
    "expect_compound_columns_to_be_unique": "occur more than once in the batch",
    "expect_multicolumn_values_to_be_equal": "are not all equal",
    "expect_select_column_values_to_be_unique_within_record": "repeat a value within the row",
    "expect_multicolumn_sum_to_equal": "do not add up to {sum_total}",
}


def violation_phrase(
    spec: ExpectationSpec, like: str | None = None, kwargs: dict[str, Any] | None = None
) -> str:
    """What a failing value does, e.g. `does not match the pattern ^[0-9]+$`.

    A custom expectation is worded like the GX expectation it extends (`like`), with its
    class's defaults among the arguments (`kwargs`)."""
    template = _VIOLATIONS.get(like or spec.type)
    if template is None:
        return f"fails {spec.type}"
    return template.format_map(_fields(kwargs if kwargs is not None else spec.kwargs))


def violation(
    spec: ExpectationSpec,
    phrase: str,
    row_values: dict[str, Any],
    description: str | None = None,
) -> str:
    """The sentence for one failing row: `email 'john.doe@' does not match the pattern ...`.

    `description` is the rule's meaning when the suite gives none (a custom expectation's
    class may carry one)."""
    if len(row_values) == 1:
        ((column, value),) = row_values.items()
        subject = column if value is None else f"{column} {_shown(value)}"
    else:
        shown = (f"{c}={'null' if v is None else _shown(v)}" for c, v in row_values.items())
        subject = f"the values ({', '.join(shown)})"
    meaning = spec.description or description
    why = f" ({meaning})" if meaning else ""
    return f"{subject} {phrase}{why}"


def describe_failure(
    label: str,
    spec: ExpectationSpec,
    outcome: ExpectationOutcome,
    result: dict[str, Any],
    phrase: str | None = None,
) -> str:
    """The sentence for a failed verdict on the batch, with numbers and a few examples."""
    if outcome.observed is not None or "unexpected_count" not in result:
        wanted = ", ".join(f"{k}={value_text(v)}" for k, v in spec.kwargs.items() if k != "column")
        return f"{label}: observed {outcome.observed}, expected {wanted or 'otherwise'}"
    share = ""
    if outcome.unexpected_percent is not None:
        share = f" ({outcome.unexpected_percent:.2f}%)"
    examples = [_shown(v) for v in result.get("partial_unexpected_list") or [] if v is not None]
    e_g = f"; e.g. {', '.join(examples[:3])}" if examples else ""
    mostly = spec.kwargs.get("mostly")
    allowed = f", more than `mostly: {mostly}` allows" if mostly is not None else ""
    return (
        f"{label}: {outcome.unexpected_count} of {outcome.element_count} rows{share}"
        f" {phrase or violation_phrase(spec)}{allowed}{e_g}"
    )


def describe_unexpected_rows(label: str, count: int, rows: list[dict[str, Any]]) -> str:
    """The sentence for a SQL expectation whose query returned rows, with a few of them."""
    shown = [
        "(" + ", ".join(f"{k}={'null' if v is None else _shown(v)}" for k, v in row.items()) + ")"
        for row in rows[:3]
    ]
    e_g = f"; e.g. {', '.join(shown)}" if shown else ""
    return f"{label}: its query returned {count} unexpected row(s){e_g}"
