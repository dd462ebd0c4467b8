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

from ferryman.flows.project.environment import quiet_environment

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_GATE = 0, 1, 2, 3

app = typer.Typer(
    name="ferryman",
    help="Migrate and cleanse legacy data: check specs, run, inspect runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (logs, CI) is not squeezed into 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project folder (holds ferryman.yaml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
TableOpt = Annotated[
    list[str] | None, typer.Option("--table", "-t", help="Only this table (repeatable).")
]
BatchSizeOpt = Annotated[int | None, typer.Option("--batch-size", min=1, help="Rows per batch.")]
NoHistoryOpt = Annotated[
    bool,
    typer.Option(
        "--no-history", help="Dry run: keep no entry in ferryman_dry_runs (write nothing)."
    ),
]


def _fail(message: str, code: int) -> typer.Exit:
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


@app.command()
def check(project: ProjectOpt = Path()) -> None:
    """Check ferryman.yaml, every spec and suite, and the source columns they name."""
    from ferryman.connectors.errors import ConnectorError
    from ferryman.flows.project.session import check_project
    from ferryman.yaml_positions import SpecError

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
    table: TableOpt = None,
    batch_size: BatchSizeOpt = None,
    json_: JsonOpt = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Do everything against the live target, then undo it: `plan`."
        ),
    ] = False,
    no_history: NoHistoryOpt = False,
) -> None:
    """Run the migration: every table in dependency order, in checkpointed batches."""
    from ferryman.flows.prefect_flows import migrate
    from ferryman.flows.project.session import prepare

    if dry_run:
        _plan(project, table, batch_size, json_, no_history)
        return
    # Preflight before Prefect starts: a bad spec or an unreachable database is reported
    # in one clean message, and nothing has been written.
    _preflight(lambda: prepare(project, table or None, batch_size, install=False).close())
    state = migrate(str(project), table or None, batch_size, return_state=True)
    _finish_run(state.result(raise_on_failure=False), json_)


PLAN_HELP = (
    "Dry run: the whole migration against the live target with every write undone.\n\n"
    "Says per table what the real run would insert, update, leave unchanged, delete and"
    " quarantine, the DDL it would run and the gates, and proves the target was not touched"
    " (fingerprints before and after).\n\n"
    "Exit 0: the run would succeed; 3: a gate would stop it; 1: it would fail, or the"
    " target changed (never expected: report it)."
)


@app.command(name="plan", help=PLAN_HELP)
def plan_cmd(
    project: ProjectOpt = Path(),
    table: TableOpt = None,
    batch_size: BatchSizeOpt = None,
    json_: JsonOpt = False,
    no_history: NoHistoryOpt = False,
) -> None:
    _plan(project, table, batch_size, json_, no_history)


def _plan(
    project: Path, table: list[str] | None, batch_size: int | None, json_: bool, no_history: bool
) -> None:
    from ferryman.flows.prefect_flows import dry_run
    from ferryman.flows.project.session import prepare

    _preflight(lambda: prepare(project, table or None, batch_size, install=False).close())
    state = dry_run(
        str(project), table or None, batch_size, False if no_history else None, return_state=True
    )
    result: Any = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise _fail(_error_text(result), _exit_code(result))
    from ferryman.flows.cli.plan_view import print_plan

    print_plan(out, result, json_)
    if not result["target_unchanged"]:
        raise typer.Exit(EXIT_FAILED)
    code = {"planned": EXIT_OK, "stopped_by_gate": EXIT_GATE}.get(result["state"], EXIT_FAILED)
    raise typer.Exit(code)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    project: ProjectOpt = Path(),
    force: Annotated[
        bool, typer.Option("--force", help="Resume even if specs or suites changed.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Continue a failed or killed run after its last committed batch."""
    from ferryman.flows.prefect_flows import resume as resume_flow
    from ferryman.flows.project.session import prepare_resume

    _preflight(lambda: prepare_resume(project, run_id, force).close())
    state = resume_flow(run_id, str(project), force, return_state=True)
    _finish_run(state.result(raise_on_failure=False), json_)


@app.command()
def rollback(
    run_id: Annotated[str, typer.Argument(help="The run to undo.")],
    project: ProjectOpt = Path(),
    to_batch: Annotated[
        int | None,
        typer.Option(
            "--to-batch", min=0, help="Keep batches up to N of each table; undo the rest."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Roll back even over rows changed since the run.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Undo a run: every table back to exactly its state before the run."""
    from ferryman.flows.ops.rollback import prepare_rollback
    from ferryman.flows.prefect_flows import rollback as rollback_flow

    _preflight(lambda: prepare_rollback(project, run_id)[0].close())
    state = rollback_flow(run_id, str(project), to_batch, force, return_state=True)
    result: Any = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise _fail(_error_text(result), _exit_code(result))
    if json_:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        out.print(f"run {run_id}: {result['state'].replace('_', ' ')}", highlight=False)
        for name, t in result["tables"].items():
            out.print(
                f"  {name}: {t.get('batches_undone', 0)} batch(es) undone"
                + (
                    f", {t['snapshot_restored']} replaced row(s) restored"
                    if t.get("snapshot_restored")
                    else ""
                ),
                highlight=False,
            )
        out.print(result["message"], highlight=False)


@app.command()
def unlock(
    table: Annotated[str, typer.Argument(help="The table whose lock to remove.")],
    project: ProjectOpt = Path(),
) -> None:
    """Remove a table's lock left by a process that is gone (on another host)."""
    from ferryman.flows.ledger.locks import TableLocks
    from ferryman.flows.project.session import open_session

    session = _preflight(lambda: open_session(project))
    try:
        removed = TableLocks(session.ledger).force_release(table)
    finally:
        session.close()
    out.print(f"{table}: {'lock removed' if removed else 'was not locked'}", highlight=False)


def _exit_code(err: BaseException) -> int:
    from ferryman.flows.project.session import UsageError
    from ferryman.yaml_positions import SpecError

    return EXIT_USAGE if isinstance(err, SpecError | UsageError) else EXIT_FAILED


def _error_text(err: BaseException) -> str:
    if _exit_code(err) == EXIT_USAGE:
        return f"{err}\nNothing was touched."
    return f"error: {err}"


def _preflight(action: Any) -> Any:
    """Run `action`, turning the errors users cause into a message and an exit code."""
    from ferryman.connectors.errors import ConnectorError
    from ferryman.flows.project.session import UsageError
    from ferryman.yaml_positions import SpecError

    try:
        return action()
    except (SpecError, UsageError, ConnectorError) as e:
        raise _fail(_error_text(e), _exit_code(e)) from None


def _finish_run(result: Any, json_: bool) -> None:
    from ferryman.flows.ops.run import RunFailed

    if isinstance(result, RunFailed):
        summary = result.summary.to_json()
    elif isinstance(result, dict):
        summary = result
    elif isinstance(result, BaseException):
        raise _fail(_error_text(result), _exit_code(result))
    else:
        raise _fail(f"error: unexpected result {result!r}", EXIT_FAILED)
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
    _print_gates(summary)
    _print_next_steps(summary)


def _print_gates(summary: dict[str, Any]) -> None:
    for gate in summary.get("failed_gates") or []:
        out.print(f"gate failed: {gate}", style="red", markup=False, highlight=False)
    if summary.get("gate_action"):
        out.print(f"Gate action: {summary['gate_action']}", highlight=False)
    elif summary["state"] == "stopped_by_gate":
        out.print("Gate action: halted; what was loaded stays for inspection", highlight=False)
    if summary.get("error") and not summary.get("failed_gates"):
        out.print(f"error: {summary['error']}", style="red", markup=False, highlight=False)


def _print_next_steps(summary: dict[str, Any]) -> None:
    run_id = summary["run_id"]
    out.print(f"Report:     {summary.get('report')}", highlight=False)
    if any(t["quarantined"] for t in summary["tables"].values()):
        out.print(f"Quarantine: ferryman quarantine list {run_id}", highlight=False)
    out.print(f"Status:     ferryman status {run_id}", highlight=False)
    rolled_back = str(summary.get("gate_action") or "").startswith("rolled back")
    if summary["state"] == "failed":
        out.print(f"Resume:     ferryman resume {run_id}", highlight=False)
    elif summary["state"] == "stopped_by_gate" and not rolled_back:
        out.print(
            f"Resume:     ferryman resume {run_id} --force  (only if the gate was wrong;"
            " change its threshold first)",
            highlight=False,
        )
    if not rolled_back:
        out.print(f"Undo:       ferryman rollback {run_id}", highlight=False)


@app.command()
def status(
    run_id: Annotated[
        str | None, typer.Argument(help="A run id; the latest runs if omitted.")
    ] = None,
    project: ProjectOpt = Path(),
    json_: JsonOpt = False,
) -> None:
    """Show the latest runs, or one run with its per-table counts."""
    from ferryman.connectors.errors import ConnectorError
    from ferryman.flows.ops.status import run_status, runs_overview
    from ferryman.yaml_positions import SpecError

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
    if doc.get("dry_runs"):
        dry = Table(title="dry runs (newest first; `ferryman plan`)", title_justify="left")
        dry.add_column("run_id", no_wrap=True, min_width=26)
        for col in ("state", "started", "tables", "outcome"):
            dry.add_column(col)
        for r in doc["dry_runs"]:
            dry.add_row(
                r["run_id"],
                r["state"],
                str(r["started_at"])[:19],
                str(len(r["tables"])),
                r["outcome"] or "",
            )
        out.print(dry)


def _register_quality_commands() -> None:
    from ferryman.flows.cli.quality import quarantine_app
    from ferryman.flows.cli.quality import reconcile as reconcile_cmd

    app.command(name="reconcile")(reconcile_cmd)
    app.add_typer(quarantine_app, name="quarantine")


_register_quality_commands()


def main() -> None:
    quiet_environment(os.environ)
    app()


if __name__ == "__main__":
    main()
