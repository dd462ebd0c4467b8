"""Suite files: loading, every error positioned and reported together, column checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ferryman.mappings.loader import SpecError, SpecIssue
from ferryman.validations.gx_context import expectation_classes, in_memory_problem, is_row_level
from ferryman.validations.suites import (
    ExpectationSpec,
    SuiteSpec,
    build_expectation,
    load_suite,
    load_suites,
    suite_column_issues,
)

GOOD = """\
name: customers
description: What a loadable customer looks like.
expectations:
  - type: expect_column_values_to_match_regex
    kwargs: {column: email, regex: '^[^@\\s]+@[^@\\s]+\\.[A-Za-z]{2,}$', mostly: 0.9}
    description: Emails must be deliverable.
  - type: expect_column_values_to_be_between
    kwargs: {column: born, min_value: 1900-01-01, max_value: 2030-12-31}
  - type: expect_table_row_count_to_be_between
    kwargs: {min_value: 1}
    severity: batch
  - type: expect_column_values_to_be_in_set
    kwargs: {column: status, value_set: [active, closed]}
    severity: warn
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def text_at(path: Path, issue: SpecIssue) -> str:
    """The file's text from the issue's position to the end of that line."""
    return path.read_text().splitlines()[issue.line - 1][issue.column - 1 :]


def issues_of(path: Path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load_suite(path, display_path=f"validations/suites/{path.name}")
    return caught.value.issues


def test_good_suite_loads(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, "customers.yaml", GOOD))
    assert suite.name == "customers"
    regex, born, count, status = suite.expectations
    assert regex.severity == "row"  # the default
    assert regex.kwargs["mostly"] == 0.9
    assert regex.description == "Emails must be deliverable."
    assert born.columns == ["born"]
    assert (count.severity, count.columns) == ("batch", [])
    assert status.severity == "warn"


def test_unknown_type_suggests_the_close_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "customers.yaml",
        """\
        name: customers
        expectations:
          - type: expect_column_values_to_not_be_nul
            kwargs: {column: email}
        """,
    )
    (issue,) = issues_of(path)
    assert issue.path == "expectations[0].type"
    assert text_at(path, issue) == "expect_column_values_to_not_be_nul"
    assert issue.message == (
        "unknown expectation 'expect_column_values_to_not_be_nul'."
        " Did you mean 'expect_column_values_to_not_be_null'?"
    )


def test_unknown_type_without_close_name_says_what_names_look_like(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "name: s\nexpectations:\n  - type: not_null\n")
    (issue,) = issues_of(path)
    assert "use a GX 1.x expectation type in snake_case" in issue.message


def test_unknown_argument_points_at_the_key_with_did_you_mean(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "amounts.yaml",
        """\
        name: amounts
        expectations:
          - type: expect_column_values_to_be_between
            kwargs:
              column: amount
              min_value: 0
              maxvalue: 10
        """,
    )
    (issue,) = issues_of(path)
    assert text_at(path, issue) == "maxvalue: 10"
    assert issue.path == "expectations[0].kwargs.maxvalue"
    assert "unknown argument 'maxvalue' of expect_column_values_to_be_between." in issue.message
    assert issue.message.endswith("Did you mean 'max_value'?")


def test_invalid_argument_value_points_at_the_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "amounts.yaml",
        """\
        name: amounts
        expectations:
          - type: expect_column_values_to_not_be_null
            kwargs: {column: amount, mostly: 2}
          - type: expect_column_values_to_be_between
            kwargs: {column: amount, min_value: lots}
        """,
    )
    # Only the bad argument: not GX's follow-up "min_value and max_value cannot both be None".
    mostly, min_value = issues_of(path)
    assert (mostly.path, text_at(path, mostly)) == ("expectations[0].kwargs.mostly", "2}")
    assert mostly.message == "must be at most 1.0, got 2"
    assert (min_value.path, text_at(path, min_value)) == (
        "expectations[1].kwargs.min_value",
        "lots}",
    )
    assert min_value.message == (
        "expected a number, a date (YYYY-MM-DD) or a timestamp (YYYY-MM-DD HH:MM:SS), got 'lots'"
    )


def test_missing_required_argument(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        name: s
        expectations:
          - type: expect_column_values_to_be_in_set
            kwargs: {column: status}
        """,
    )
    (issue,) = issues_of(path)
    assert text_at(path, issue) == "kwargs: {column: status}"
    assert issue.message == (
        "missing required argument 'value_set' of expect_column_values_to_be_in_set"
    )


def test_row_severity_on_a_table_expectation_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        name: s
        expectations:
          - type: expect_table_row_count_to_be_between
            kwargs: {min_value: 1}
            severity: row
          - type: expect_column_mean_to_be_between
            kwargs: {column: amount, min_value: 1}
        """,
    )
    explicit, default = issues_of(path)
    assert (explicit.path, text_at(path, explicit)) == ("expectations[0].severity", "row")
    assert explicit.message.startswith(
        "severity 'row' needs an expectation that judges each row;"
        " expect_table_row_count_to_be_between judges the batch as a whole"
    )
    assert "use `severity: batch`" in explicit.message
    assert default.message.startswith("severity 'row' (the default) needs")
    assert text_at(path, default) == "type: expect_column_mean_to_be_between"


def test_batch_and_warn_severities_fit_table_expectations(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        name: s
        expectations:
          - type: expect_table_row_count_to_be_between
            kwargs: {min_value: 1}
            severity: batch
          - type: expect_column_mean_to_be_between
            kwargs: {column: amount, min_value: 1}
            severity: warn
        """,
    )
    assert [e.severity for e in load_suite(path).expectations] == ["batch", "warn"]


def test_regex_that_does_not_compile_points_at_the_character(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        name: s
        expectations:
          - type: expect_column_values_to_match_regex
            kwargs: {column: code, regex: 'ab(c'}
        """,
    )
    (issue,) = issues_of(path)
    assert issue.message == "invalid regular expression: missing ), unterminated subpattern"
    assert text_at(path, issue) == "(c'}"


def test_sql_only_and_reserved_arguments_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        name: s
        expectations:
          - type: expect_column_values_to_match_like_pattern
            kwargs: {column: code, like_pattern: 'A%'}
            severity: batch
          - type: expect_column_values_to_not_be_null
            kwargs: {column: code, result_format: COMPLETE, severity: critical}
        """,
    )
    like, result_format, severity = issues_of(path)
    assert like.path == "expectations[0].type"
    assert "GX implements it for SQL databases only" in like.message
    assert "expect_column_values_to_match_regex" in like.message
    assert result_format.path == "expectations[1].kwargs.result_format"
    assert "set by ferryman" in result_format.message
    assert severity.message == "`severity` belongs next to `kwargs:`, not inside it"


def test_every_issue_of_a_file_comes_at_once_with_model_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "customers.yaml",
        """\
        name: clients
        expectatons: []
        expectations:
          - type: expect_column_values_to_be_nul
            kwargs: {column: email}
          - type: expect_column_values_to_be_unique
            kwargs: {column: id}
            severity: rows
          - type: expect_column_values_to_be_unique
            kwargs: {colunm: id}
        """,
    )
    issues = issues_of(path)
    assert [(i.line, i.path) for i in issues] == [
        (1, "name"),
        (2, "expectatons"),
        (4, "expectations[0].type"),
        (8, "expectations[1].severity"),
        (10, "expectations[2].kwargs"),
        (10, "expectations[2].kwargs.colunm"),
    ]
    assert issues[4].message.startswith("missing required argument 'column'")
    assert "rename the suite to 'customers' or the file to clients.yaml" in issues[0].message
    assert all(i.file == "validations/suites/customers.yaml" for i in issues)


def test_yaml_syntax_error_is_positioned(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "name: s\nexpectations: [\n")
    (issue,) = issues_of(path)
    assert "YAML syntax error" in issue.message


def test_load_suites_reports_every_file_and_names_them_from_the_root(tmp_path: Path) -> None:
    folder = tmp_path / "validations" / "suites"
    folder.mkdir(parents=True)
    write(folder, "customers.yaml", GOOD)
    write(folder, "orders.yaml", "name: orders\nexpectations:\n  - type: expect_nothing\n")
    write(folder, "orders.yml", "name: orders\nexpectations:\n  - type: expect_nothing\n")
    with pytest.raises(SpecError) as caught:
        load_suites(folder, root=tmp_path)
    files = [(i.file, i.line) for i in caught.value.issues]
    assert files == [("validations/suites/orders.yaml", 3), ("validations/suites/orders.yml", 1)]
    assert "also defined in validations/suites/orders.yaml" in caught.value.issues[1].message


def test_load_suites_returns_suites_by_name(tmp_path: Path) -> None:
    write(tmp_path, "customers.yaml", GOOD)
    write(tmp_path, "notes.txt", "not a suite")
    assert list(load_suites(tmp_path)) == ["customers"]


def test_suite_column_issues_finds_columns_the_mapping_lacks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "customers.yaml",
        """\
        name: customers
        expectations:
          - type: expect_column_values_to_not_be_null
            kwargs: {column: emial}
          - type: expect_column_pair_values_to_be_equal
            kwargs: {column_A: email, column_B: Email2}
          - type: expect_compound_columns_to_be_unique
            kwargs: {column_list: [email, nmae]}
        """,
    )
    suite = load_suite(path, display_path="validations/suites/customers.yaml")
    issues = suite_column_issues(suite, ["email", "email2", "name"])
    assert [(i.path, text_at(path, i)) for i in issues] == [
        ("expectations[0].kwargs.column", "emial}"),
        ("expectations[1].kwargs.column_B", "Email2}"),
        ("expectations[2].kwargs.column_list[1]", "nmae]}"),
    ]
    assert [i.message for i in issues] == [
        "expect_column_values_to_not_be_null reads column 'emial', which the mapped table"
        " does not have. Did you mean 'email'?",
        "expect_column_pair_values_to_be_equal reads column 'Email2', which the mapped"
        " table does not have. Did you mean 'email2'? (column names are case-sensitive)",
        "expect_compound_columns_to_be_unique reads column 'nmae', which the mapped table"
        " does not have. Did you mean 'name'?",
    ]
    assert str(issues[0]) == (
        f"validations/suites/customers.yaml:{issues[0].line}:{issues[0].column}:"
        f" expectations[0].kwargs.column: {issues[0].message}"
    )
    assert suite_column_issues(suite, ["email", "Email2", "emial", "nmae"]) == []


def test_column_check_on_a_suite_built_in_code_names_the_suite() -> None:
    suite = SuiteSpec(
        name="s",
        expectations=[
            ExpectationSpec(type="expect_column_values_to_not_be_null", kwargs={"column": "x"})
        ],
    )
    (issue,) = suite_column_issues(suite, ["y"])
    assert (issue.file, issue.line) == ("<suite s>", 1)


def test_build_expectation_refuses_an_invalid_spec_built_in_code() -> None:
    spec = ExpectationSpec(type="expect_table_row_count_to_be_between", kwargs={"min_value": 1})
    with pytest.raises(ValueError, match="severity 'row' \\(the default\\) needs"):
        build_expectation(spec)
    batch = ExpectationSpec(
        type="expect_table_row_count_to_be_between", kwargs={"min_value": 1}, severity="batch"
    )
    assert build_expectation(batch, meta={"k": 1}).meta == {"k": 1}


@pytest.mark.parametrize(
    ("type_", "row_level"),
    [
        ("expect_column_values_to_match_regex", True),
        ("expect_column_pair_values_to_be_equal", True),
        ("expect_compound_columns_to_be_unique", True),
        ("expect_column_values_to_be_of_type", False),  # GX answers per column on pandas
        ("expect_column_mean_to_be_between", False),
        ("expect_table_row_count_to_be_between", False),
        ("expect_nothing_at_all", False),
    ],
)
def test_row_level_expectations(type_: str, row_level: bool) -> None:
    assert is_row_level(type_) is row_level


def test_registry_lists_core_expectations_and_what_runs_in_memory() -> None:
    names = expectation_classes()
    assert "expect_column_values_to_not_be_null" in names
    assert len(names) > 50
    assert in_memory_problem("expect_column_values_to_not_be_null") is None
    assert in_memory_problem("expect_table_row_count_to_be_between") is None
    assert in_memory_problem("unexpected_rows_expectation") is not None
    assert "another table" in str(in_memory_problem("expect_table_row_count_to_equal_other_table"))


def test_row_conditions_use_the_restricted_grammar(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        name: s
        expectations:
          - type: expect_column_values_to_not_be_null
            kwargs: {column: email, row_condition: 'kind == "x"', condition_parser: pandas}
          - type: expect_column_values_to_not_be_null
            kwargs:
              column: email
              row_condition: 'col("kind")=="x"'
              condition_parser: great_expectations
        """,
    )
    (issue,) = issues_of(path)
    assert issue.path == "expectations[0].kwargs.condition_parser"
    assert "use `condition_parser: great_expectations`" in issue.message


def test_mostly_outside_0_to_1_and_thresholds_that_are_not_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        """\
        name: s
        expectations:
          - type: expect_column_values_to_not_be_null
            kwargs: {column: a, mostly: -0.5}
          - type: expect_column_values_to_not_be_null
            kwargs: {column: a, mostly: lots}
          - type: expect_column_values_to_be_between
            kwargs: {column: a, min_value: 1, max_value: ten}
          - type: expect_column_mean_to_be_between
            kwargs: {column: a, min_value: [1]}
            severity: warn
        """,
    )
    below, not_a_number, max_value, a_list = issues_of(path)
    assert (below.path, below.message) == (
        "expectations[0].kwargs.mostly",
        "must be at least 0.0, got -0.5",
    )
    assert (not_a_number.path, not_a_number.message) == (
        "expectations[1].kwargs.mostly",
        "expected a number, got 'lots'",
    )
    assert (max_value.path, text_at(path, max_value)) == (
        "expectations[2].kwargs.max_value",
        "ten}",
    )
    assert max_value.message.startswith("expected a number")
    assert (a_list.path, a_list.message) == (
        "expectations[3].kwargs.min_value",
        "expected a number, a date (YYYY-MM-DD) or a timestamp (YYYY-MM-DD HH:MM:SS), got a list",
    )
