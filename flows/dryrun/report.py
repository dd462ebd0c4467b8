"""What a dry run found: per table what the real run would do, the DDL, the gates, and the
proof that the target was left as it was. Written as JSON and HTML, published as a Prefect
artifact, printed by `ferryman plan`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ferryman.flows.ops.html import escape, page, paragraph, section, table
from ferryman.flows.ops.report import (
    RunSummary,
    TableSummary,
    gates_html,
    markdown_table,
    publish_markdown,
    write_files,
)

PLANNED = "planned"


@dataclass
class TablePlan:
    """What the real run would do to one table (read = loaded + quarantined + filtered)."""

    table: str
    source: str
    mode: str
    read: int = 0
    would_insert: int = 0
    would_update: int = 0
    unchanged: int = 0
    would_delete: int = 0
    """`replace` only: rows of the table today whose key the new contents do not have."""
    replaced: int = 0
    """`replace` only: rows the table holds today (all deleted before the load)."""
    quarantined: int = 0
    filtered: int = 0
    batches: int = 0
    seconds: float = 0.0
    rules: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    """Updated rows: {"key": {...}, "changes": {column: [before, after]}}."""

    @classmethod
    def of(cls, t: TableSummary, mode: str) -> TablePlan:
        return cls(
            table=t.table,
            source=t.source,
            mode=mode,
            read=t.read,
            would_insert=t.inserted,
            would_update=t.updated,
            unchanged=t.unchanged,
            quarantined=t.quarantined,
            filtered=t.filtered,
            batches=t.batches,
            seconds=t.seconds,
            rules=dict(t.rules),
        )

    @property
    def loaded(self) -> int:
        return self.would_insert + self.would_update + self.unchanged

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "source": self.source,
            "mode": self.mode,
            "read": self.read,
            "would_insert": self.would_insert,
            "would_update": self.would_update,
            "unchanged": self.unchanged,
            "would_delete": self.would_delete,
            "replaced": self.replaced,
            "quarantined": self.quarantined,
            "filtered": self.filtered,
            "balanced": self.read == self.loaded + self.quarantined + self.filtered,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "quarantine_rules": dict(sorted(self.rules.items())),
            "update_samples": self.samples,
        }


@dataclass
class DryRunSummary:
    run_id: str
    project: str
    target: str
    state: str = PLANNED
    """planned | stopped_by_gate | failed: what the real run would have ended as."""
    error: str | None = None
    flow_run_id: str | None = None
    started_at: str = ""
    seconds: float = 0.0
    load_seconds: float = 0.0
    """Extract, map, validate and load: what the real run would spend."""
    tables: list[TablePlan] = field(default_factory=list)
    ddl: list[str] = field(default_factory=list)
    control_tables: list[str] = field(default_factory=list)
    """ferryman's control tables the run would create (missing in the target)."""
    gates: list[dict[str, Any]] = field(default_factory=list)
    watched_tables: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    """How the target differs after the dry run: must be empty."""
    counters_moved: dict[str, list[Any]] = field(default_factory=dict)
    counters_not_restored: list[str] = field(default_factory=list)
    history: bool = True
    report_path: str | None = None

    @classmethod
    def of(cls, run: RunSummary, modes: dict[str, str]) -> DryRunSummary:
        return cls(
            run_id=run.run_id,
            project=run.project,
            target=run.target,
            state=PLANNED if run.state == "succeeded" else run.state,
            error=run.error,
            flow_run_id=run.flow_run_id,
            started_at=run.started_at,
            tables=[TablePlan.of(t, modes.get(t.table, "insert")) for t in run.tables],
            gates=[g.to_json() for g in run.gates],
        )

    @property
    def target_unchanged(self) -> bool:
        return not self.differences and not self.counters_not_restored

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": "dry_run",
            "project": self.project,
            "target": self.target,
            "state": self.state,
            "error": self.error,
            "flow_run_id": self.flow_run_id,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "load_seconds": round(self.load_seconds, 3),
            "estimated_run_seconds": round(self.load_seconds, 1),
            "tables": {t.table: t.to_json() for t in self.tables},
            "totals": self.totals(),
            "ddl": self.ddl,
            "control_tables_created": self.control_tables,
            "gates": self.gates,
            "failed_gates": [g["message"] for g in self.gates if not g["passed"]],
            "target_unchanged": self.target_unchanged,
            "watched_tables": self.watched_tables,
            "differences": self.differences,
            "counters_moved": self.counters_moved,
            "counters_not_restored": self.counters_not_restored,
            "history": self.history,
            "report": self.report_path,
        }

    def totals(self) -> dict[str, int]:
        keys = ("would_insert", "would_update", "unchanged", "would_delete", "quarantined")
        return {k: sum(getattr(t, k) for t in self.tables) for k in keys}


def write_report(directory: Path, summary: DryRunSummary) -> Path:
    return write_files(directory, summary, lambda: render_html(summary))


COUNTS = (
    "read",
    "would_insert",
    "would_update",
    "unchanged",
    "would_delete",
    "quarantined",
    "filtered",
)
"""The per-table figures of a plan, in the order reports show them."""
_COLUMNS = ("table", "mode", *COUNTS, "batches")


def table_rows(summary: DryRunSummary) -> list[list[str]]:
    return [[str(t.to_json()[c]) for c in _COLUMNS] for t in summary.tables]


def proof_text(summary: DryRunSummary) -> str:
    n = len(summary.watched_tables)
    if summary.differences:
        return "TARGET CHANGED by the dry run: " + "; ".join(summary.differences)
    text = f"target unchanged: {n} table(s) fingerprinted before and after, equal"
    if summary.counters_moved:
        names = ", ".join(sorted(summary.counters_moved))
        if summary.counters_not_restored:
            text += f"; counters {names} moved and NOT all put back: " + "; ".join(
                summary.counters_not_restored
            )
        else:
            text += f"; counters {names} had moved and were put back"
    return text


def render_html(summary: DryRunSummary) -> str:
    e = escape
    intro = (
        f"<p>Project <b>{e(summary.project)}</b> against {e(summary.target)}: the real run would"
        f" end\n<b>{e(summary.state)}</b>. The dry run took {summary.seconds:.1f}s; a real run"
        f" would take about\n{summary.load_seconds:.0f}s.</p>"
    )
    proof = paragraph(proof_text(summary), "ok" if summary.target_unchanged else "error")
    ddl = "".join(f"<pre>{e(s)}</pre>" for s in summary.ddl) or "<p>none</p>"
    samples = (
        (t.table, json.dumps(s["key"], default=str), c, v[0], v[1])
        for t in summary.tables
        for s in t.samples
        for c, v in s["changes"].items()
    )
    return page(
        f"ferryman dry run {summary.run_id}",
        [
            intro,
            paragraph(summary.error, "error"),
            f"\n{proof}\n",
            section("Tables", table(_COLUMNS, table_rows(summary))),
            section("DDL it would run", ddl),
            section(
                "Updates (samples)",
                table(("table", "key", "column", "before", "after"), samples),
            ),
            gates_html(summary.gates),
        ],
    )


def render_markdown(summary: DryRunSummary) -> str:
    lines = [
        f"# ferryman dry run `{summary.run_id}`: would end {summary.state}",
        "",
        *markdown_table(_COLUMNS, table_rows(summary)),
        "",
        proof_text(summary),
    ]
    if summary.ddl:
        lines += ["", f"{len(summary.ddl)} DDL statement(s) would run; see the report."]
    if summary.error:
        lines += ["", f"**Error:** {summary.error}"]
    lines += [f"- gate failed: {g['message']}" for g in summary.gates if not g["passed"]]
    return "\n".join(lines) + "\n"


def publish_artifact(summary: DryRunSummary) -> None:
    publish_markdown(
        render_markdown(summary), "ferryman-dry-run", f"ferryman dry run {summary.run_id}"
    )
