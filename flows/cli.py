"""The `ferryman` command line.

Exit codes: 0 done; 1 failed (an error; the run can be inspected with `ferryman status`);
2 bad usage or a bad spec (nothing was touched); 3 stopped by a gate (data quality).
With --json, stdout carries exactly one JSON document; progress and logs go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from flows.environment import quiet_environment

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_GATE = 0, 1, 2, 3

app = typer.Typer(
    name="ferryman",
    help="Migrate and cleanse legacy data: check specs, run, inspect runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project folder (holds ferryman.yaml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _fail(message: str, code: int) -> typer.Exit:
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


@app.command()
def check(project: ProjectOpt = Path()) -> None:
    """Check ferryman.yaml, every spec and suite, and the source columns they name."""
    from connectors.errors import ConnectorError
    from flows.runner import check_project
    from mappings.yaml_positions import SpecError

    try:
        _, plan, sources = check_project(project)
    except SpecError as e:
        n = len(e.issues)
        raise _fail(
            f"{e}\n{n} problem{'s' * (n != 1)} found; nothing was touched.", EXIT_USAGE
        ) from None
    except ConnectorError as e:
        raise _fail(f"error: {e}", EXIT_FAILED) from None
    for s in sources.values():
        s.close()
    out.print(
        f"ok: {len(plan.specs)} spec(s), {len(plan.suites)} suite(s);"
        f" load order: {' -> '.join(plan.tables)}",
        highlight=False,
    )


@app.command()
def run(
    project: ProjectOpt = Path(),
    table: Annotated[
        list[str] | None, typer.Option("--table", "-t", help="Only this table (repeatable).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Rows per batch.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Run the migration: every table in dependency order, in checkpointed batches."""
    from connectors.errors import ConnectorError
    from flows.migrate import RunFailed, migrate
    from flows.runner import UsageError, prepare
    from mappings.yaml_positions import SpecError

    try:
        # Preflight before Prefect starts: a bad spec or an unreachable database is
        # reported in one clean message, and nothing has been written.
        prepare(project, table or None, batch_size, install=False).close()
    except (SpecError, UsageError) as e:
        raise _fail(f"{e}\nNothing was touched.", EXIT_USAGE) from None
    except ConnectorError as e:
        raise _fail(f"error: {e}", EXIT_FAILED) from None
    state = migrate(str(project), table or None, batch_size, return_state=True)
    result: Any = state.result(raise_on_failure=False)
    if isinstance(result, SpecError | UsageError):
        raise _fail(f"{result}\nNothing was touched.", EXIT_USAGE)
    if isinstance(result, ConnectorError):
        raise _fail(f"error: {result}", EXIT_FAILED)
    if isinstance(result, RunFailed):
        summary = result.summary.to_json()
    elif isinstance(result, dict):
        summary = result
    else:
        raise _fail(f"error: the run failed: {type(result).__name__}: {result}", EXIT_FAILED)
    _print_summary(summary, json_)
    code = {"succeeded": EXIT_OK, "stopped_by_gate": EXIT_GATE}.get(summary["state"], EXIT_FAILED)
    raise typer.Exit(code)


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"run {summary['run_id']}: {summary['state']}", title_justify="left")
    for col in ("table", "read", "loaded", "quarantined", "filtered", "batches", "seconds"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, t in summary["tables"].items():
        table.add_row(
            name,
            *(f"{t[c]:,}" for c in ("read", "loaded", "quarantined", "filtered", "batches")),
            f"{t['seconds']:.1f}",
        )
    out.print(table)
    for name, t in summary["tables"].items():
        if not t["balanced"]:
            out.print(f"[red]{name}: read != loaded + quarantined + filtered[/red]")
        if t["quarantine_rules"]:
            reasons = ", ".join(f"{r} {n}" for r, n in t["quarantine_rules"].items())
            out.print(f"  {name} quarantine: {reasons}", highlight=False)
    if summary.get("error"):
        out.print(f"[red]error:[/red] {summary['error']}", highlight=False)
    out.print(f"Report:     {summary.get('report')}", highlight=False)
    out.print(
        f"Quarantine: table ferryman_quarantine, run_id = '{summary['run_id']}'", highlight=False
    )
    out.print(f"Status:     ferryman status {summary['run_id']}", highlight=False)


@app.command()
def status(
    run_id: Annotated[
        str | None, typer.Argument(help="A run id; the latest runs if omitted.")
    ] = None,
    project: ProjectOpt = Path(),
    json_: JsonOpt = False,
) -> None:
    """Show the latest runs, or one run with its per-table counts."""
    from connectors.errors import ConnectorError
    from flows.status import run_status, runs_overview
    from mappings.yaml_positions import SpecError

    try:
        doc = run_status(project, run_id) if run_id else runs_overview(project)
    except SpecError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    except ConnectorError as e:
        raise _fail(f"error: {e}", EXIT_FAILED) from None
    except LookupError as e:
        raise _fail(str(e.args[0]), EXIT_USAGE) from None
    if json_:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    if run_id:
        _print_summary(doc, as_json=False)
        return
    table = Table(title="runs (newest first)", title_justify="left")
    table.add_column("run_id", no_wrap=True, min_width=22)
    for col in ("state", "started", "tables", "loaded", "quarantined"):
        table.add_column(col)
    for r in doc["runs"]:
        table.add_row(
            r["run_id"],
            r["state"],
            str(r["started_at"])[:19],
            str(len(r["tables"])),
            f"{r['loaded']:,}",
            f"{r['quarantined']:,}",
        )
    out.print(table)


def main() -> None:
    quiet_environment(os.environ)
    app()


if __name__ == "__main__":
    main()
