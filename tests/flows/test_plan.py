"""Plan checks that need several files: a broken suite does not make every spec that uses
it look wrong, and a near-miss parent table name is caught before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferryman.flows.project.config import load_project
from ferryman.flows.project.plan import load_plan
from ferryman.yaml_positions import SpecError
from tests.flows.conftest import copy_demo_project


def _issues(project: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_plan(load_project(project))
    return [str(i) for i in info.value.issues]


def test_a_broken_suite_is_reported_once_not_as_unknown_everywhere(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "p")
    suite = project / "validations" / "suites" / "customers.yaml"
    suite.write_text(suite.read_text().replace("match_regex", "match_regexp", 1))
    issues = _issues(project)
    assert len(issues) == 1, issues
    assert "unknown expectation 'expect_column_values_to_match_regexp'" in issues[0]


def test_a_near_miss_parent_table_is_an_error(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "p")
    spec = project / "mappings" / "specs" / "orders.yaml"
    spec.write_text(spec.read_text().replace("references: customers(", "references: customer("))
    (issue,) = _issues(project)
    assert "orders.yaml:" in issue
    assert "foreign_keys[0].references: no spec produces table 'customer'." in issue
    assert "Did you mean 'customers'?" in issue


def test_a_parent_outside_the_project_is_allowed(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "p")
    spec = project / "mappings" / "specs" / "orders.yaml"
    spec.write_text(spec.read_text().replace("references: customers(", "references: crm_accounts("))
    plan = load_plan(load_project(project))
    assert "orders" in plan.tables
