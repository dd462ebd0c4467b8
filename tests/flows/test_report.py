"""The run report: per table counts, the top quarantine reasons with example rows, the
expectation results that quarantine nothing (warn), gates and reconciliation, in the JSON
and the HTML."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from ferryman.flows.dryrun.report import DryRunSummary
from ferryman.flows.dryrun.report import render_html as render_dry_run
from ferryman.flows.ops.gates import GateResult
from ferryman.flows.ops.report import RunSummary, TableSummary
from ferryman.flows.ops.report import render_html as render_run
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


def test_both_reports_escape_every_text_they_show() -> None:
    """Table names, values and messages come from the data: none of it is markup."""
    hostile = "<script>x</script>"
    run = RunSummary(hostile, hostile, hostile, error=hostile, gate_action=hostile)
    items = TableSummary(hostile, hostile, rules={hostile: 1}, warnings=[hostile])
    items.examples = {
        hostile: [{"position": hostile, "message": hostile}, {"position": 2, "message": 3}]
    }
    run.tables = [items]
    run.gates = [GateResult(hostile, hostile, False, hostile, hostile, hostile)]
    run.reconciliation = {hostile: {"read": hostile, "drift": [hostile]}}
    plan = DryRunSummary.of(run, {})
    plan.ddl = [hostile]
    plan.tables[0].samples = [{"key": {"id": hostile}, "changes": {hostile: [hostile, hostile]}}]
    for page in (render_run(run), render_dry_run(plan)):
        assert "<script>" not in page
        assert page.count("&lt;script&gt;x&lt;/script&gt;") >= 5
        assert page.startswith("<!doctype html>")
        assert page.endswith("</body></html>\n")
    assert "&lt;script&gt;x&lt;/script&gt;<br>2: 3" in render_run(run)  # examples, one a line
