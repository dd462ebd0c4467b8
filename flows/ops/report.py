"""What a run did, per table: the summary kept in the ledger, written as JSON and HTML
reports, published as a Prefect artifact, and printed by the CLI."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ferryman.flows.batch.load import BatchOutcome
from ferryman.flows.ops.gates import GateResult
from ferryman.flows.ops.html import Html, escape, lines, page, paragraph, section, table


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
    e = escape
    intro = (
        f"<p>Project <b>{e(summary.project)}</b> into {e(summary.target)}:"
        f" <b>{e(summary.state)}</b>\nin {summary.seconds:.1f}s"
        f" (started {e(summary.started_at)}).</p>"
    )
    rules = (
        (t.table, rule, n, _examples_html(t.examples.get(rule, [])))
        for t in summary.tables
        for rule, n in sorted(t.rules.items(), key=lambda x: -x[1])
    )
    return page(
        f"ferryman run {summary.run_id}",
        [
            intro,
            paragraph(summary.error, "error"),
            paragraph(summary.gate_action),
            "\n",
            section("Tables", table(_COLUMNS, summary_rows(summary))),
            section("Quarantine reasons", table(("table", "rule", "rows", "examples"), rules)),
            _expectations_html(summary),
            gates_html([g.to_json() for g in summary.gates]),
            _reconciliation_html(summary),
        ],
    )


def _examples_html(examples: list[dict[str, Any]]) -> Html:
    return lines(f"{x['position']}: {x['message']}" for x in examples)


def _expectations_html(summary: RunSummary) -> Html:
    """Expectation results that quarantine no row: `warn` ones, and those run on the loaded
    table (row-level failures are in the quarantine reasons above)."""
    rows = [(t.table, "warn", w) for t in summary.tables for w in t.warnings]
    rows += [
        (t.table, "after load", json.dumps(t.post_load, default=str))
        for t in summary.tables
        if t.post_load
    ]
    none = "none: no warning, no expectation on the loaded tables"
    return section("Expectation results", table(("table", "kind", "result"), rows, none))


def gates_html(gates: Sequence[Mapping[str, Any]]) -> Html:
    """Every gate evaluated (`GateResult.to_json()`), passing or not."""
    head = ("table", "gate", "result", "figure", "threshold")
    rows = (
        (g["table"], g["gate"], "pass" if g["passed"] else "FAIL", g["figure"], g["threshold"])
        for g in gates
    )
    return section("Gates", table(head, rows))


def _reconciliation_html(summary: RunSummary) -> Html:
    cols = ("read", "loaded", "quarantined", "filtered", "expected_rows", "target_rows")
    rows = (
        (name, *(r.get(c) for c in cols), "; ".join(r.get("drift", [])[:10]) or "none")
        for name, r in summary.reconciliation.items()
    )
    return section("Reconciliation", table(("table", *cols, "drift"), rows))


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """The lines of a Markdown table (for Prefect artifacts)."""
    return [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def render_markdown(summary: RunSummary) -> str:
    out = [
        f"# ferryman run `{summary.run_id}`: {summary.state}",
        "",
        *markdown_table(_COLUMNS, summary_rows(summary)),
    ]
    if summary.error:
        out += ["", f"**Error:** {summary.error}"]
    failed = [g.message for g in summary.gates if not g.passed]
    out += [f"- gate failed: {m}" for m in failed]
    if summary.gate_action:
        out += ["", summary.gate_action]
    return "\n".join(out) + "\n"


def publish_artifact(summary: RunSummary) -> None:
    """Publish the summary as a Prefect markdown artifact on the current flow run."""
    publish_markdown(
        render_markdown(summary), "ferryman-run-summary", f"ferryman run {summary.run_id}"
    )
