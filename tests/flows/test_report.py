"""The run report: per table counts, the top quarantine reasons with example rows, the
expectation results that quarantine nothing (warn), gates and reconciliation, in the JSON
and the HTML."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from ferryman.flows.prefect_flows import migrate
from tests.conftest import Database
from tests.flows.gate_project import make_project

pytestmark = pytest.mark.usefixtures("prefect_harness")

SUITE = """
name: items
expectations:
  - type: expect_column_values_to_be_between
    kwargs: {column: amount, max_value: 5}
    severity: warn
    description: amounts above 5 need a second look
"""


def test_report_names_reasons_with_examples_and_warn_results(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, sqlite_db, monkeypatch, suite=SUITE)
    summary = migrate(str(project))
    items = summary["tables"]["items"]
    (rule,) = items["quarantine_rules"]
    (example,) = items["quarantine_examples"][rule]
    assert example["value"] == "not a number"
    assert "SRC" in example["position"]
    assert any("expect_column_values_to_be_between" in w for w in items["warnings"])
    report = Path(summary["report"])
    page = report.read_text(encoding="utf-8")
    assert "Expectation results" in page
    assert "expect_column_values_to_be_between" in page
    assert html.escape(example["message"]) in page
    saved = json.loads(report.with_suffix(".json").read_text(encoding="utf-8"))
    assert saved["tables"]["items"]["quarantine_examples"] == items["quarantine_examples"]
