"""A project's own expectations (`validations/expectations/*.py`), found by name: GX
subclasses on the rows, SQL `UnexpectedRowsExpectation`s on the loaded table, and every
way a module can be wrong, positioned."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

from ferryman.mappings.loader import SpecError, SpecIssue
from ferryman.validations.custom import load_custom_expectations
from ferryman.validations.gx_context import core_expectation_classes
from ferryman.validations.gx_runner import SuiteRunner
from ferryman.validations.suites import load_suite, load_suites, suite_column_issues

from .test_gx_runner import batch

CODES = '''\
import great_expectations as gx


class ExpectKnownCountry(gx.expectations.ExpectColumnValuesToBeInSet):
    """Countries the new system ships to."""

    column: str = "country"
    value_set: list = ["DE", "FR", "GB"]
    description: str = "a country the new system ships to"


class ExpectNoOrphanOrder(gx.expectations.UnexpectedRowsExpectation):
    unexpected_rows_query: str = (
        "SELECT * FROM (SELECT * FROM {batch}) AS o WHERE NOT EXISTS"
        " (SELECT 1 FROM customers c WHERE c.id = o.customer_id)"
    )
    description: str = "every order has its customer"
'''


def project(tmp_path: Path, modules: dict[str, str], suites: dict[str, str]) -> Path:
    """A project folder with `validations/expectations/<name>` and `validations/suites/`."""
    (tmp_path / "validations" / "expectations").mkdir(parents=True, exist_ok=True)
    (tmp_path / "validations" / "suites").mkdir(parents=True, exist_ok=True)
    for name, text in modules.items():
        (tmp_path / "validations" / "expectations" / name).write_text(text, encoding="utf-8")
    for name, text in suites.items():
        path = tmp_path / "validations" / "suites" / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path / "validations" / "suites"


def issues(path: Path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load_suite(path)
    return caught.value.issues


def test_a_gx_subclass_is_found_by_name_and_quarantines_rows(tmp_path: Path) -> None:
    suites = project(
        tmp_path,
        {"codes.py": CODES},
        {"c.yaml": "name: c\nexpectations:\n  - type: expect_known_country\n"},
    )
    suite = load_suite(suites / "c.yaml")
    rows = batch(country=["DE", "XX", "GB", None], name=["a", "b", "c", "d"])
    outcome = SuiteRunner([suite]).validate(rows)
    (reject,) = outcome.rejects
    assert (reject.row, reject.column, reject.raw_value) == (5, "country", "XX")
    assert reject.rule == "expect_known_country"
    # worded like the GX expectation it extends, with its class's values and meaning
    assert reject.message == (
        "country 'XX' is not one of {'DE', 'FR', 'GB'} (a country the new system ships to)"
    )
    assert outcome.outcomes[0].column == "country"


def test_a_custom_expectation_takes_arguments_like_a_built_in(tmp_path: Path) -> None:
    suites = project(
        tmp_path,
        {"codes.py": CODES},
        {
            "c.yaml": """\
            name: c
            expectations:
              - type: expect_known_country
                kwargs: {column: ship_to, value_set: [US]}
              - type: expect_known_country
                kwargs: {colum: ship_to}
              - type: expect_known_countyr
            """
        },
    )
    unknown_argument, unknown_type = issues(suites / "c.yaml")
    assert (unknown_argument.line, unknown_argument.path) == (6, "expectations[1].kwargs.colum")
    assert unknown_argument.message == (
        "unknown argument 'colum' of expect_known_country. Did you mean 'column'?"
    )
    assert unknown_type.message == (
        "unknown expectation 'expect_known_countyr'. Did you mean 'expect_known_country'?"
    )
    # the kwargs override the class's defaults
    (suites / "d.yaml").write_text(
        "name: d\nexpectations:\n  - type: expect_known_country\n"
        "    kwargs: {column: ship_to, value_set: [US]}\n"
    )
    outcome = SuiteRunner([load_suite(suites / "d.yaml")]).validate(batch(ship_to=["US", "DE"]))
    assert [r.raw_value for r in outcome.rejects] == ["DE"]


def test_a_column_set_by_the_class_is_checked_against_the_mapping(tmp_path: Path) -> None:
    suites = project(
        tmp_path,
        {"codes.py": CODES},
        {"c.yaml": "name: c\nexpectations:\n  - type: expect_known_country\n"},
    )
    suite = load_suite(suites / "c.yaml")
    (issue,) = suite_column_issues(suite, ["id", "Country"])
    assert (issue.line, issue.path) == (3, "expectations[0].type")
    assert issue.message == (
        "expect_known_country reads column 'country' (by default of its class), which the"
        " mapped table does not have. Did you mean 'Country'? (column names are case-sensitive)"
    )
    assert suite_column_issues(suite, ["country"]) == []


def test_a_sql_expectation_runs_only_after_the_load(tmp_path: Path) -> None:
    suites = project(
        tmp_path,
        {"codes.py": CODES},
        {
            "o.yaml": """\
            name: o
            expectations:
              - type: expect_no_orphan_order
                severity: batch
              - type: expect_no_orphan_order
                severity: batch
                applies_to: target
            """
        },
    )
    (issue,) = issues(suites / "o.yaml")
    assert (issue.line, issue.path) == (3, "expectations[0].type")
    assert issue.message == (
        "expect_no_orphan_order cannot run on the mapped rows: it runs a SQL query, which"
        " needs the loaded table: set `applies_to: target` to run it after the load"
    )


def test_a_sql_expectation_must_read_batch(tmp_path: Path) -> None:
    module = CODES.replace("FROM {batch})", "FROM orders)")
    suites = project(
        tmp_path,
        {"codes.py": module},
        {
            "o.yaml": """\
            name: o
            applies_to: target
            expectations:
              - type: expect_no_orphan_order
                severity: batch
              - type: unexpected_rows_expectation
                kwargs: {unexpected_rows_query: 'SELECT * FROM {batch} WHERE {x'}
                severity: warn
            """
        },
    )
    in_class, unpaired = issues(suites / "o.yaml")
    assert (in_class.line, in_class.path) == (4, "expectations[0].type")
    assert in_class.message.startswith("the query must read the table through {batch}")
    assert unpaired.path == "expectations[1].kwargs.unexpected_rows_query"
    assert unpaired.message.startswith("the query has an unpaired brace")


def test_batch_cannot_take_an_alias(tmp_path: Path) -> None:
    suites = project(
        tmp_path,
        {},
        {
            "o.yaml": """\
            name: o
            applies_to: target
            expectations:
              - type: unexpected_rows_expectation
                kwargs:
                  unexpected_rows_query: "SELECT * FROM {batch} o WHERE o.amount < 0"
                severity: batch
              - type: unexpected_rows_expectation
                kwargs:
                  unexpected_rows_query: "SELECT * FROM {batch} WHERE amount < 0"
                severity: batch
            """
        },
    )
    (issue,) = issues(suites / "o.yaml")
    assert issue.path == "expectations[0].kwargs.unexpected_rows_query"
    assert issue.message == (
        "{batch} cannot take an alias ('{batch} o'): GX puts an aliased subquery there. To"
        " name the table, wrap it: FROM (SELECT * FROM {batch}) AS o"
    )
    text = (suites / "o.yaml").read_text().splitlines()[issue.line - 1]
    assert text[issue.column - 1 :].startswith("{batch} o WHERE")


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        (
            "import great_expectations as gx\n\nclass ExpectX(gx.expectations.Expectation)\n",
            3,
            43,
            "cannot import this expectation module: SyntaxError: expected ':'",
        ),
        (
            "import great_expectations as gx\n\nLIMIT = 10\nSHIP_TO = countries()\n",
            4,
            1,
            "cannot import this expectation module: NameError: name 'countries' is not defined."
            " Fix it, or rename it to start with '_' so it is not imported",
        ),
        (
            "import great_expectations_extras\n",
            1,
            1,
            "cannot import this expectation module: ModuleNotFoundError: No module named"
            " 'great_expectations_extras'. Fix it, or rename it to start with '_' so it is not"
            " imported",
        ),
    ],
    ids=["syntax", "runtime", "missing-package"],
)
def test_a_module_that_fails_to_import_is_positioned(
    tmp_path: Path, text: str, line: int, column: int, message: str
) -> None:
    suites = project(
        tmp_path,
        {"broken.py": text},
        {"c.yaml": "name: c\nexpectations:\n  - type: expect_known_country\n"},
    )
    with pytest.raises(SpecError) as caught:
        load_suites(suites, root=tmp_path)
    broken, unknown = caught.value.issues
    assert (broken.file, broken.line, broken.column) == (
        "validations/expectations/broken.py",
        line,
        column,
    )
    assert broken.message == message
    assert str(broken).startswith(f"validations/expectations/broken.py:{line}:{column}: ")
    # the suite naming an expectation the broken module may have defined says so
    assert unknown.message == (
        "unknown expectation 'expect_known_country'; it may be defined in"
        " validations/expectations/broken.py, which failed to import: fix that first (see its"
        " error)"
    )


def test_a_module_error_is_reported_once_for_all_suites(tmp_path: Path) -> None:
    suites = project(
        tmp_path,
        {"broken.py": "raise RuntimeError('no')\n"},
        {
            "a.yaml": "name: a\nexpectations:\n  - type: expect_column_values_to_be_unique\n"
            "    kwargs: {column: id}\n",
            "b.yaml": "name: b\nexpectations:\n  - type: expect_column_values_to_be_unique\n"
            "    kwargs: {column: id}\n",
        },
    )
    with pytest.raises(SpecError) as caught:
        load_suites(suites, root=tmp_path)
    assert [(i.file, i.line) for i in caught.value.issues] == [
        ("validations/expectations/broken.py", 1)
    ]


def test_a_name_taken_from_gx_or_defined_twice_is_refused(tmp_path: Path) -> None:
    shadow = (
        "import great_expectations as gx\n\n\n"
        "class ExpectColumnValuesToBeUnique(gx.expectations.ExpectColumnValuesToBeInSet):\n"
        "    value_set: list = [1]\n"
    )
    suites = project(
        tmp_path,
        {"a_codes.py": CODES, "b_more.py": CODES, "c_shadow.py": shadow},
        {"c.yaml": "name: c\nexpectations:\n  - type: expect_known_country\n"},
    )
    custom = load_custom_expectations(suites.parent / "expectations", root=tmp_path)
    assert [(i.file, i.line, i.column, i.message) for i in custom.issues] == [
        (
            "validations/expectations/b_more.py",
            4,
            1,
            "expectation 'expect_known_country' is also defined in"
            " validations/expectations/a_codes.py; keep one (the name comes from the class"
            " name in snake_case)",
        ),
        (
            "validations/expectations/b_more.py",
            12,
            1,
            "expectation 'expect_no_orphan_order' is also defined in"
            " validations/expectations/a_codes.py; keep one (the name comes from the class"
            " name in snake_case)",
        ),
        (
            "validations/expectations/c_shadow.py",
            4,
            1,
            "class ExpectColumnValuesToBeUnique would be named"
            " 'expect_column_values_to_be_unique', which is a GX expectation: give it a name"
            " of its own (GX would replace its built-in with it), e.g."
            " ExpectColumnValuesToBeUniqueStrict. The module was not imported",
        ),
    ]
    assert sorted(custom.classes) == ["expect_known_country", "expect_no_orphan_order"]
    assert custom.classes["expect_known_country"].__module__.endswith("_a_codes")
    # GX still resolves the name to its own expectation: the module never ran
    from great_expectations.expectations.registry import get_expectation_impl

    name = "expect_column_values_to_be_unique"
    assert get_expectation_impl(name) is core_expectation_classes()[name]


def test_files_starting_with_an_underscore_are_not_imported(tmp_path: Path) -> None:
    suites = project(
        tmp_path,
        {"_helpers.py": "raise RuntimeError('a helper, not imported')\n", "codes.py": CODES},
        {"c.yaml": "name: c\nexpectations:\n  - type: expect_known_country\n"},
    )
    assert list(load_suites(suites, root=tmp_path)) == ["c"]


def test_two_projects_in_one_process_each_get_their_own_class(tmp_path: Path) -> None:
    """GX keeps one registry per process; each runner points it at its project's class."""
    first = project(
        tmp_path / "one",
        {"codes.py": CODES},
        {"c.yaml": "name: c\nexpectations:\n  - type: expect_known_country\n"},
    )
    second = project(
        tmp_path / "two",
        {"codes.py": CODES.replace('["DE", "FR", "GB"]', '["US"]')},
        {"c.yaml": "name: c\nexpectations:\n  - type: expect_known_country\n"},
    )
    one = SuiteRunner([load_suite(first / "c.yaml")])
    two = SuiteRunner([load_suite(second / "c.yaml")])
    rows = batch(country=pa.array(["DE", "US"]))
    assert [r.raw_value for r in one.validate(rows).rejects] == ["US"]
    assert [r.raw_value for r in two.validate(rows).rejects] == ["DE"]
    assert [r.raw_value for r in one.validate(rows).rejects] == ["US"]
