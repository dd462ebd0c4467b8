"""`ferryman reconcile` and `ferryman quarantine list|export|replay`: data-quality commands,
registered on the main app by `ferryman.flows.cli`. Exit codes as everywhere: 0 done, 1 error, 2 bad
usage, 3 reconciliation drift beyond `max_drift` (or, for a replay, stopped by a gate)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_GATE = 0, 1, 2, 3

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

quarantine_app = typer.Typer(
    help="What a run held back: list the reasons, export the rows, replay the fixed file.",
    no_args_is_help=True,
)

ProjectOpt = Annotated[
    Path, typer.Option("--project", "-p", help="Project folder (holds ferryman.yaml).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
TableOpt = Annotated[str | None, typer.Option("--table", "-t", help="Only this table.")]


def _session(project: Path) -> Any:
    from ferryman.connectors.errors import ConnectorError
    from ferryman.flows.project.session import UsageError, open_session
    from ferryman.yaml_positions import SpecError

    try:
        return open_session(project)
    except (SpecError, UsageError) as e:
        err.print(f"{e}\nNothing was touched.", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except ConnectorError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED) from None


def _run(session: Any, run_id: str) -> Any:
    from ferryman.flows.project.session import UsageError, run_for_action

    try:
        return run_for_action(session.project, session.target, run_id, "inspect")
    except UsageError as e:
        err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def reconcile(
    run_id: Annotated[str, typer.Argument(help="The run to reconcile.")],
    project: ProjectOpt = Path(),
    json_: JsonOpt = False,
) -> None:
    """Check the target holds what a run loaded: counts, row hashes, column aggregates."""
    from ferryman.flows.ops.gates import drift
    from ferryman.flows.ops.reconcile import reconcile_run

    session = _session(project)
    try:
        run = _run(session, run_id)
        if run.state == "rolled_back":
            err.print(
                f"run {run_id} is rolled back; nothing of it is left to reconcile",
                markup=False,
            )
            raise typer.Exit(EXIT_USAGE)
        limits = _drift_limits(project, session.project, run.tables)
        results = reconcile_run(session, run)
    finally:
        session.close()
    gates = [drift(r.table, r.drift(), limits.get(r.table, 0)) for r in results]
    doc = {
        "run_id": run_id,
        "state": "ok" if all(g.passed for g in gates) else "drift",
        "tables": {r.table: r.to_json() for r in results},
        "gates": [g.to_json() for g in gates],
    }
    if json_:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    else:
        for r, g in zip(results, gates, strict=True):
            mark = "ok   " if g.passed else "DRIFT"
            out.print(
                f"{mark} {r.table}: read {r.read:,} = loaded {r.loaded:,} + quarantined"
                f" {r.quarantined:,} + filtered {r.filtered:,}; target {_count(r.target_rows)} rows"
                f" (expected {r.expected_rows:,}); {r.rows_checked:,} row(s) checked",
                markup=False,
                highlight=False,
            )
            for line in r.drift()[:20]:
                out.print(f"      {line}", markup=False, highlight=False)
    raise typer.Exit(EXIT_OK if doc["state"] == "ok" else EXIT_GATE)


def _count(n: int | None) -> str:
    return "missing" if n is None else f"{n:,}"


def _drift_limits(project_dir: Path, project: Any, tables: list[str]) -> dict[str, int]:
    """max_drift per table from the specs as they are now (the project's if a spec is
    unreadable: reconciling must not depend on every spec still loading)."""
    from ferryman.flows.ops.gates import resolve
    from ferryman.mappings.loader import load_spec_with_positions
    from ferryman.yaml_positions import SpecError

    limits = {t: resolve(project.spec.gates, None).max_drift for t in tables}
    for path in sorted(project.specs_dir.glob("*.y*ml")):
        try:
            spec, _ = load_spec_with_positions(path)
        except SpecError:
            continue
        if spec.target in limits:
            limits[spec.target] = resolve(project.spec.gates, spec.gates).max_drift
    return limits


@quarantine_app.command("list")
def quarantine_list(
    run_id: Annotated[
        str | None, typer.Argument(help="A run id; the latest run if omitted.")
    ] = None,
    project: ProjectOpt = Path(),
    table: TableOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The reasons rows were held back, most frequent first, with a few examples."""
    from ferryman.flows.ops.quarantine import latest_run_id, overview

    session = _session(project)
    try:
        run_id = run_id or latest_run_id(session.ledger)
        if run_id is None:
            err.print(
                f"no runs in {session.target.describe()} yet; nothing is in quarantine",
                markup=False,
            )
            raise typer.Exit(EXIT_USAGE)
        _run(session, run_id)
        doc = overview(session.ledger, run_id, table)
    finally:
        session.close()
    if json_:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    _print_overview(run_id, doc)


def _print_overview(run_id: str, doc: dict[str, Any]) -> None:
    def say(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    if doc.get("replay_of"):
        origin = doc["replay_of"]
        say(f"run {run_id} replayed rows of run {origin['run_id']} from {origin['file']}")
    if not doc["tables"]:
        say(f"run {run_id}: nothing in quarantine")
    for name, t in doc["tables"].items():
        say(f"{name}: {t['entries']:,} quarantine entr(ies)")
        for r in t["reasons"]:
            say(f"  {r['rule']}: {r['count']:,}")
            for e in r["examples"]:
                say(f"    {e['position']}: {e['message']}")
        for replay_id, r in t.get("replayed", {}).items():
            state = r["state"].replace("_", " ")
            say(f"  {r['entries']:,} of them replayed in run {replay_id} ({state})")
    if doc["tables"]:
        say(f"Export: ferryman quarantine export {run_id} --out quarantine.csv")
        say(f"Replay: ferryman quarantine replay {run_id} --file quarantine.csv  (once fixed)")


@quarantine_app.command("export")
def quarantine_export(
    run_id: Annotated[str, typer.Argument(help="The run whose quarantine to export.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    project: ProjectOpt = Path(),
    table: TableOpt = None,
) -> None:
    """Write a run's quarantine rows, with the source row's fields as columns, to a file."""
    from ferryman.flows.ops.quarantine import FORMATS, export

    if fmt not in FORMATS:
        err.print(f"--format {fmt!r}: use csv or parquet", markup=False)
        raise typer.Exit(EXIT_USAGE)
    session = _session(project)
    try:
        _run(session, run_id)
        n = export(session.ledger, run_id, out_file, fmt, table)
    finally:
        session.close()
    out.print(
        f"{n:,} quarantine row(s) of run {run_id} written to {out_file}",
        markup=False,
        highlight=False,
    )


@quarantine_app.command("replay")
def quarantine_replay(
    run_id: Annotated[str, typer.Argument(help="The run whose quarantine export you fixed.")],
    file: Annotated[Path, typer.Option("--file", "-f", help="The fixed export: .csv or .parquet.")],
    project: ProjectOpt = Path(),
    table: TableOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Load a fixed quarantine export back in, as a new run.

    The rows go through the same mapping, suites and key checks as in a run.
    Fix only the source.<FIELD> cells of the export; an empty cell is NULL.
    Delete a line to leave its row out; keep table_name and source_position.
    Rows that still fail are quarantined in the new run, at positions like
    `replay of RUN: CUSTMAST rowid=42 (fix.csv:7)`: export, fix, replay again.
    A replace table is appended to, never emptied. Undo: ferryman rollback NEW.
    Exit 0 done; 1 failed (roll back, replay again); 2 bad file or usage,
    nothing touched; 3 stopped by a gate.
    """
    from ferryman.flows.ops.replay import plan_replay, replay_facts
    from ferryman.flows.ops.run import RunFailed
    from ferryman.flows.prefect_flows import replay
    from ferryman.flows.project.session import prepare

    plan = _checked(lambda: plan_replay(project, run_id, file, table))
    _checked(
        lambda: prepare(
            project, plan.tables, install=False, table_sources=dict(plan.sources)
        ).close()
    )
    state = replay(run_id, str(file), str(project), table, return_state=True)
    result: Any = state.result(raise_on_failure=False)
    if isinstance(result, RunFailed):
        doc = {**result.summary.to_json(), **replay_facts(plan)}
    elif isinstance(result, dict):
        doc = result
    elif isinstance(result, BaseException):
        raise _failure(result)
    else:
        err.print(f"error: unexpected result {result!r}", markup=False)
        raise typer.Exit(EXIT_FAILED)
    if json_:
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        _print_replay(doc)
    raise typer.Exit({"succeeded": EXIT_OK, "stopped_by_gate": EXIT_GATE}.get(doc["state"], 1))


def _checked(action: Any) -> Any:
    """Run `action`, turning the errors users cause into a message and an exit code."""
    from ferryman.connectors.errors import ConnectorError
    from ferryman.flows.project.session import UsageError
    from ferryman.yaml_positions import SpecError

    try:
        return action()
    except (SpecError, UsageError, ConnectorError) as e:
        raise _failure(e) from None


def _failure(e: BaseException) -> typer.Exit:
    """Say what went wrong on stderr; the exit: 2 for a bad file, spec or usage (nothing
    was touched), else 1."""
    from ferryman.flows.project.session import UsageError
    from ferryman.yaml_positions import SpecError

    if isinstance(e, SpecError | UsageError):
        err.print(f"{e}\nNothing was touched.", markup=False, highlight=False)
        return typer.Exit(EXIT_USAGE)
    err.print(f"error: {e}", markup=False, highlight=False)
    return typer.Exit(EXIT_FAILED)


def _print_replay(doc: dict[str, Any]) -> None:
    def say(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    run_id, state = doc["run_id"], doc["state"].replace("_", " ")
    say(f"run {run_id} (replay of run {doc['replay_of']}, {doc['file']}): {state}")
    for name, t in doc["tables"].items():
        say(
            f"  {name}: read {t['read']:,} = loaded {t['loaded']:,} + quarantined"
            f" {t['quarantined']:,} + filtered {t['filtered']:,} (inserted {t['inserted']:,},"
            f" updated {t['updated']:,}, unchanged {t['unchanged']:,})"
        )
        cells = doc.get("changed_cells", {}).get(name, {})
        if cells:
            say("    cells changed: " + ", ".join(f"{c} {n:,}" for c, n in cells.items()))
        if t["quarantine_rules"]:
            rules = ", ".join(f"{r} {n:,}" for r, n in t["quarantine_rules"].items())
            say(f"    quarantined again: {rules}")
    for gate in doc.get("failed_gates") or []:
        say(f"gate failed: {gate}")
    if doc.get("gate_action"):
        say(f"Gate action: {doc['gate_action']}")
    if doc.get("error") and not doc.get("failed_gates"):
        say(f"error: {doc['error']}")
    if any(t["quarantined"] for t in doc["tables"].values()):
        say(f"Still held back: ferryman quarantine export {run_id} --out fix2.csv, then replay")
    if not str(doc.get("gate_action") or "").startswith("rolled back"):
        say(f"Undo:            ferryman rollback {run_id}")
