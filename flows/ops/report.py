"""What a run did, per table: the summary kept in the ledger, written as JSON and HTML
reports, published as a Prefect artifact, and printed by the CLI."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ferryman.flows.batch.load import BatchOutcome
from ferryman.flows.ops.gates import GateResult


@dataclass
class TableSummary:
    """Counts of one table in one run; read = loaded + quarantined + filtered."""

    table: str
    source: str
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    filtered: int = 0
    batches: int = 0
    seconds: float = 0.0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Quarantine rule -> its first rows (position, column, value, message)."""
    post_load: dict[str, Any] = field(default_factory=dict)
    """The `applies_to: target` expectations' results on the loaded table (flows.post_load)."""

    def add(self, o: BatchOutcome) -> None:
        self.read += o.read
        self.loaded += o.loaded
        self.quarantined += o.quarantined
        self.filtered += o.filtered
        self.batches += 1
        for rule, n in o.rules.items():
            self.rules[rule] = self.rules.get(rule, 0) + n
        self.warnings.extend(o.warnings[: max(0, 20 - len(self.warnings))])

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + self.quarantined + self.filtered

    def to_json(self) -> dict[str, Any]:
        extra = {"post_load": self.post_load} if self.post_load else {}
        return {
            "table": self.table,
            "source": self.source,
            "read": self.read,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "filtered": self.filtered,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "balanced": self.balanced,
            "quarantine_rules": dict(sorted(self.rules.items())),
            "quarantine_examples": self.examples,
            "warnings": self.warnings,
            **extra,
        }


@dataclass
class RunSummary:
    run_id: str
    project: str
    target: str
    flow_run_id: str | None = None
    state: str = "running"
    mode: str = "run"
    started_at: str = field(default_factory=lambda: _now_iso())
    finished_at: str | None = None
    seconds: float = 0.0
    error: str | None = None
    report_path: str | None = None
    tables: list[TableSummary] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    """Every gate evaluated, passing or not, in the order they were checked."""
    reconciliation: dict[str, dict[str, Any]] = field(default_factory=dict)
    on_gate_failure: str | None = None
    gate_action: str | None = None
    """What happened to the loaded rows after a gate stopped the run."""

    def finish(self) -> None:
        self.finished_at = _now_iso()
        start = dt.datetime.fromisoformat(self.started_at)
        self.seconds = (dt.datetime.fromisoformat(self.finished_at) - start).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project": self.project,
            "mode": self.mode,
            "state": self.state,
            "target": self.target,
            "flow_run_id": self.flow_run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "report": self.report_path,
            "tables": {t.table: t.to_json() for t in self.tables},
            "gates": [g.to_json() for g in self.gates],
            "failed_gates": [g.message for g in self.gates if not g.passed],
            "on_gate_failure": self.on_gate_failure,
            "gate_action": self.gate_action,
            "reconciliation": self.reconciliation,
        }


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class Reportable(Protocol):
    run_id: str
    report_path: str | None

    def to_json(self) -> dict[str, Any]: ...


def write_files(directory: Path, summary: Reportable, render: Callable[[], str]) -> Path:
    """Write `<run_id>.json` and `<run_id>.html` (the JSON names the HTML); returns the
    HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / summary.run_id
    html_path = base.with_suffix(".html")
    summary.report_path = str(html_path)
    base.with_suffix(".json").write_text(
        json.dumps(summary.to_json(), indent=2, ensure_ascii=False, default=str) + "\n",
        encoding="utf-8",
    )
    html_path.write_text(render(), encoding="utf-8")
    return html_path


def publish_markdown(markdown: str, key: str, description: str) -> None:
    """Publish a Prefect markdown artifact on the current flow run."""
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(markdown=markdown, key=key, description=description)


def write_report(directory: Path, summary: RunSummary) -> Path:
    """Write `<run_id>.json` and `<run_id>.html`; returns the HTML path."""
    return write_files(directory, summary, lambda: render_html(summary))


_COLUMNS = ("table", "read", "loaded", "quarantined", "filtered", "batches", "seconds")


def summary_rows(summary: RunSummary) -> list[list[str]]:
    rows = []
    for t in summary.tables:
        rows.append(
            [
                t.table,
                str(t.read),
                str(t.loaded),
                str(t.quarantined),
                str(t.filtered),
                str(t.batches),
                f"{t.seconds:.1f}",
            ]
        )
    return rows


def render_html(summary: RunSummary) -> str:
    e = html.escape
    head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in summary_rows(summary)
    )
    rules = "".join(
        f"<tr><td>{e(t.table)}</td><td>{e(rule)}</td><td>{n}</td>"
        f"<td>{_examples_html(t.examples.get(rule, []))}</td></tr>"
        for t in summary.tables
        for rule, n in sorted(t.rules.items(), key=lambda x: -x[1])
    )
    error = f"<p class=error>{e(summary.error)}</p>" if summary.error else ""
    action = f"<p>{e(summary.gate_action)}</p>" if summary.gate_action else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>ferryman run {e(summary.run_id)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}
.error{{color:#a00}}</style></head><body>
<h1>ferryman run {e(summary.run_id)}</h1>
<p>Project <b>{e(summary.project)}</b> into {e(summary.target)}: <b>{e(summary.state)}</b>
in {summary.seconds:.1f}s (started {e(summary.started_at)}).</p>{error}{action}
<h2>Tables</h2><table><tr>{head}</tr>{body}</table>
<h2>Quarantine reasons</h2><table><tr><th>table</th><th>rule</th><th>rows</th>
<th>examples</th></tr>{rules}</table>
{_expectations_html(summary)}{_gates_html(summary)}{_reconciliation_html(summary)}</body></html>
"""


def _examples_html(examples: list[dict[str, Any]]) -> str:
    e = html.escape
    return "<br>".join(f"{e(str(x['position']))}: {e(str(x['message']))}" for x in examples)


def _expectations_html(summary: RunSummary) -> str:
    """Expectation results that quarantine no row: `warn` ones, and those run on the loaded
    table (row-level failures are in the quarantine reasons above)."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(t.table)}</td><td>warn</td><td>{e(w)}</td></tr>"
        for t in summary.tables
        for w in t.warnings
    )
    rows += "".join(
        f"<tr><td>{e(t.table)}</td><td>after load</td>"
        f"<td>{e(json.dumps(t.post_load, default=str))}</td></tr>"
        for t in summary.tables
        if t.post_load
    )
    if not rows:
        rows = "<tr><td colspan=3>none: no warning, no expectation on the loaded tables</td></tr>"
    head = "<tr><th>table</th><th>kind</th><th>result</th></tr>"
    return f"<h2>Expectation results</h2><table>{head}{rows}</table>\n"


def _gates_html(summary: RunSummary) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(g.table)}</td><td>{e(g.gate)}</td><td>{'pass' if g.passed else 'FAIL'}</td>"
        f"<td>{e(g.figure)}</td><td>{e(g.threshold)}</td></tr>"
        for g in summary.gates
    )
    head = "<tr><th>table</th><th>gate</th><th>result</th><th>figure</th><th>threshold</th></tr>"
    return f"<h2>Gates</h2><table>{head}{rows}</table>\n"


def _reconciliation_html(summary: RunSummary) -> str:
    e = html.escape
    cols = ("read", "loaded", "quarantined", "filtered", "expected_rows", "target_rows")
    head = "<tr><th>table</th>" + "".join(f"<th>{c}</th>" for c in cols) + "<th>drift</th></tr>"
    rows = "".join(
        f"<tr><td>{e(name)}</td>"
        + "".join(f"<td>{e(str(r.get(c)))}</td>" for c in cols)
        + f"<td>{e('; '.join(r.get('drift', [])[:10]) or 'none')}</td></tr>"
        for name, r in summary.reconciliation.items()
    )
    return f"<h2>Reconciliation</h2><table>{head}{rows}</table>\n"


def render_markdown(summary: RunSummary) -> str:
    lines = [
        f"# ferryman run `{summary.run_id}`: {summary.state}",
        "",
        "| " + " | ".join(_COLUMNS) + " |",
        "|" + "---|" * len(_COLUMNS),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in summary_rows(summary)]
    if summary.error:
        lines += ["", f"**Error:** {summary.error}"]
    failed = [g.message for g in summary.gates if not g.passed]
    lines += [f"- gate failed: {m}" for m in failed]
    if summary.gate_action:
        lines += ["", summary.gate_action]
    return "\n".join(lines) + "\n"


def publish_artifact(summary: RunSummary) -> None:
    """Publish the summary as a Prefect markdown artifact on the current flow run."""
    publish_markdown(
        render_markdown(summary), "ferryman-run-summary", f"ferryman run {summary.run_id}"
    )
