"""`ferryman quarantine replay`: load the fixed rows of a quarantine export back through the
same specs (mapping, suites, key and parent checks), as a NEW run that `ferryman rollback`
undoes like any other.

The fixed file stands in for each table's source (`ReplaySource`): every quarantined row
it holds is rebuilt from the row the run recorded in `ferryman_quarantine.source_row`, with
the `source.<FIELD>` cells that differ from it laid over. A row exported once per reason
(several lines) is merged; two lines fixing one field differently are an error. Values
the file leaves as they were keep the source's types; changed ones are text (CSV), typed
again like a SQL source does: a column is numeric when every value is. Each replayed row's
position says where it came from, `replay of RUN: CUSTMAST rowid=42 (fix.csv:7)`, so a row
that fails again is quarantined again, in the replay run, with that position.

A replay appends: a `replace` table is loaded with `insert`, never emptied again; a key
already loaded is a `duplicate_key` (insert) or updated (upsert), as in any run. The
quarantined-share gate does not apply (the file holds only rows that failed once, so their
share says nothing about the load); batch expectations and reconciliation drift do.

The replay is recorded in `ferryman_replays` before it starts (so it is refused by
`ferryman resume`: its source is a file, not the spec's), and the replayed quarantine rows
of the original run get `replayed_in` = the replay's run id.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa

from ferryman.connectors.base import ROW_POSITION, Batch, Position, Source
from ferryman.flows.ledger.store import Ledger, LedgerState, RunRecord
from ferryman.flows.ops.replay_file import (
    MAX_PROBLEMS,
    FixFile,
    FixLine,
    as_text,
    problems_message,
    read_fix_file,
)
from ferryman.flows.ops.report import RunSummary, write_report
from ferryman.flows.ops.run import RunFailed, TableLoader, execute, stream_table
from ferryman.flows.ops.runlog import run_logger
from ferryman.flows.project.plan import Plan, check_columns, load_plan
from ferryman.flows.project.session import (
    Prepared,
    UsageError,
    new_run_id,
    open_session,
    prepare,
    run_for_action,
)
from ferryman.suggest import did_you_mean

_REPLAYED = re.compile(r"^replay of \S+: (.*) \([^()]*\)$")


class ReplaySource(Source):
    """The replayed rows of one table, in file order, as a source stream."""

    kind: ClassVar[str] = "replay"

    def __init__(self, data: pa.Table, origin: str) -> None:
        self.data = data
        self.origin = origin

    def columns(self, stream: str) -> list[str]:
        return [c for c in self.data.column_names if c != ROW_POSITION]

    def read_batches(
        self, stream: str, batch_size: int, after: Position | None = None
    ) -> Iterator[Batch]:
        offset = after.rows if after else 0
        number = 0
        while offset < self.data.num_rows:
            chunk = self.data.slice(offset, batch_size)
            end = offset + chunk.num_rows
            yield Batch(stream, number, chunk, Position(rows=offset), Position(rows=end))
            offset, number = end, number + 1

    def describe(self, stream: str) -> str:
        return f"{self.origin} ({stream})"


@dataclass
class ReplayPlan:
    """A checked fixed file: what to load into which table."""

    of_run: str
    fix: FixFile
    sources: dict[str, ReplaySource]
    positions: dict[str, list[str]]
    """Per table, the original run's positions of the rows replayed."""
    changed_cells: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per table and source field, how many rows the file changed."""

    @property
    def tables(self) -> list[str]:
        return list(self.sources)

    @property
    def rows(self) -> int:
        return sum(s.data.num_rows for s in self.sources.values())


def plan_replay(project_dir: Path, run_id: str, file: Path, table: str | None = None) -> ReplayPlan:
    """Read and check the fixed file against the run and the project; nothing is written.
    Raises UsageError (exit 2) naming every problem, or SpecError for a broken spec."""
    fix = read_fix_file(file)
    session = open_session(project_dir)
    try:
        run = run_for_action(session.project, session.target, run_id, "replay")
        if run.state in ("rolled_back", "rolling_back"):
            raise UsageError(
                f"run {run_id} is {run.state.replace('_', ' ')}: the rows it loaded are gone,"
                " so replaying only its quarantined rows would load a fragment. Run the"
                " migration again, then replay that run's export"
            )
        if run.state == "running":
            raise UsageError(
                f"run {run_id} is still running (or was killed: `ferryman status {run_id}`);"
                " replay its quarantine once it has finished, been resumed or rolled back"
            )
        plan = load_plan(session.project)
        lines = _select(fix, run, plan, table)
        originals = _originals(session.ledger, run_id, {line.table for line in lines})
    finally:
        session.close()
    rows, changed, problems = _merge(run_id, fix, lines, originals)
    if problems:
        raise UsageError(problems_message(file, problems))
    sources = {
        t: ReplaySource(_table_data(rows[t]), f"{file.name}, replay of {run_id}")
        for t in plan.tables
        if t in rows
    }
    _check_columns(plan, sources, file, run_id)
    positions = {t: [p for p, _, _ in rows[t]] for t in sources}
    return ReplayPlan(run_id, fix, sources, positions, changed)


def _select(fix: FixFile, run: RunRecord, plan: Plan, table: str | None) -> list[FixLine]:
    """The lines to replay (of `table` if given); every line must belong to the run, and
    every table to the run and the project."""
    specs = {s.target: s for s in plan.specs}
    project_tables = plan.tables
    if table is not None and table not in project_tables:
        hint = did_you_mean(table, project_tables)
        raise UsageError(f"--table {table!r}: no spec of this project produces it.{hint}")
    lines = [line for line in fix.lines if table is None or line.table == table]
    if not lines:
        found = ", ".join(sorted({line.table for line in fix.lines}))
        raise UsageError(f"{fix.path} has no rows of table {table!r} (it has rows of: {found})")
    problems: dict[str, str] = {}
    for line in lines:
        if line.run_id is not None and line.run_id != run.run_id:
            problems.setdefault(
                f"run:{line.run_id}",
                f"{line.where}: a row of run {line.run_id}, not {run.run_id}; replay each"
                " run's export with that run's id",
            )
        elif line.table not in project_tables:
            hint = did_you_mean(line.table, project_tables)
            problems.setdefault(
                f"table:{line.table}",
                f"{line.where}: table {line.table!r}: no spec of this project produces it"
                f" (was the file exported from another project?).{hint}",
            )
        elif specs[line.table].more_sources:
            problems.setdefault(
                f"more:{line.table}",
                f"{line.where}: table {line.table!r} is loaded from several streams"
                " (more_sources), and replay cannot tell yet which stream's fields a row"
                " needs; fix those rows in the source and run again",
            )
        elif line.table not in run.tables:
            problems.setdefault(
                f"run-table:{line.table}",
                f"{line.where}: run {run.run_id} did not load table {line.table!r}"
                f" (it loaded {', '.join(run.tables)})",
            )
    if problems:
        raise UsageError(problems_message(fix.path, list(problems.values())))
    return lines


def _originals(
    ledger: Ledger, run_id: str, tables: set[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    """(table, position) -> the source row as the run quarantined it."""
    q = ledger.quarantine
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with ledger.engine.connect() as conn:
        result = conn.execute(
            sa.select(q.c.table_name, q.c.source_position, q.c.source_row)
            .where((q.c.run_id == run_id) & q.c.table_name.in_(sorted(tables)))
            .order_by(q.c.id)
        )
        for name, position, raw in result:
            row = json.loads(raw) if raw else None
            if (name, position) not in out or not out[(name, position)]:
                out[(name, position)] = row if isinstance(row, dict) else {}
    return out


Rows = dict[str, list[tuple[str, str, dict[str, Any]]]]
"""table -> [(original position, replay position, source values)]"""


def _merge(
    run_id: str,
    fix: FixFile,
    lines: list[FixLine],
    originals: dict[tuple[str, str], dict[str, Any]],
) -> tuple[Rows, dict[str, dict[str, int]], list[str]]:
    """One source row per quarantined row: the recorded row with the file's changed cells
    laid over it (the lines of a row exported once per reason are merged)."""
    groups: dict[tuple[str, str], list[FixLine]] = {}
    for line in lines:
        groups.setdefault((line.table, line.position), []).append(line)
    rows: Rows = {}
    changed: dict[str, dict[str, int]] = {}
    problems: list[str] = []
    for (table, position), group in groups.items():
        if (table, position) not in originals:
            problems.append(
                f"{group[0].where}: run {run_id} quarantined no row of {table} at"
                f" {position!r}; keep source_position as the export wrote it"
            )
            continue
        original = originals[(table, position)]
        values = dict(original)
        for name in fix.fields:
            fixes: dict[str | None, FixLine] = {}
            for line in group:
                cell = line.cells[name]
                if as_text(cell) != as_text(original.get(name)):
                    fixes.setdefault(as_text(cell), line)
            if len(fixes) > 1:
                shown = ", ".join(f"{v!r} at {line.where}" for v, line in fixes.items())
                problems.append(
                    f"{table} {position}: source.{name} is fixed differently on the lines of"
                    f" this row ({shown}); make them agree"
                )
            elif fixes:
                ((_, line),) = fixes.items()
                values[name] = line.cells[name]
                counts = changed.setdefault(table, {})
                counts[name] = counts.get(name, 0) + 1
        where = f"replay of {run_id}: {_origin(position)} ({group[0].where})"
        rows.setdefault(table, []).append((position, where, values))
    return rows, changed, problems


def _origin(position: str) -> str:
    """`CUSTMAST rowid=42` also when the row was replayed before (no growing chains)."""
    m = _REPLAYED.match(position)
    return m.group(1) if m else position


def _table_data(rows: list[tuple[str, str, dict[str, Any]]]) -> pa.Table:
    names: dict[str, None] = {}
    for _, _, values in rows:
        names.update(dict.fromkeys(values))
    arrays = [_column([values.get(n) for _, _, values in rows]) for n in names]
    arrays.append(pa.array([where for _, where, _ in rows], pa.string()))
    return pa.Table.from_arrays(arrays, names=[*names, ROW_POSITION])


def _column(values: list[Any]) -> pa.Array:
    """Typed when every value fits one type (a fixed "42" among the source's integers is
    an integer again), else text: as a SQL source reads a column."""
    if all(v is None for v in values):
        return pa.array(values, pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    kinds = {type(v) for v in values if v is not None and not isinstance(v, str)}
    if kinds and kinds <= {int, float}:
        number = float if float in kinds else int
        try:
            return pa.array([number(v) if isinstance(v, str) else v for v in values])
        except (ValueError, OverflowError, pa.ArrowInvalid):
            pass
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _check_columns(plan: Plan, sources: dict[str, ReplaySource], file: Path, run_id: str) -> None:
    issues = check_columns(plan, {t: s.columns(t) for t, s in sources.items()})
    if issues:
        shown = "\n".join(str(i) for i in issues[:MAX_PROBLEMS])
        raise UsageError(
            f"these specs read source columns that neither the rows run {run_id} quarantined"
            f" nor the source.<FIELD> columns of {file} have (did a spec change since the"
            f" run?):\n{shown}"
        )


# --- the run ----------------------------------------------------------------------------


def replay_run(
    project_dir: Path,
    run_id: str,
    file: Path,
    table: str | None = None,
    load_table: TableLoader = stream_table,
) -> dict[str, Any]:
    """Load the fixed rows of a quarantine export of run `run_id` through the same specs,
    as a new run (roll it back with `ferryman rollback NEW_RUN`)."""
    plan = plan_replay(project_dir, run_id, file, table)
    prepared = prepare(project_dir, plan.tables, table_sources=dict(plan.sources))
    try:
        replay_rules(prepared)
        new_id = new_run_id()
        _record(prepared.ledger, new_id, plan)
        run_logger().info(
            "run %s replays %d row(s) of run %s from %s", new_id, plan.rows, run_id, file
        )
        try:
            summary = execute(prepared, new_id, resuming=False, load_table=load_table)
        except RunFailed as err:
            _finish(prepared.ledger, new_id, plan, err.summary)
            raise
        except BaseException:
            if prepared.ledger.get_run(new_id) is None:  # it never started: forget it
                _forget(prepared.ledger, new_id)
            raise
        return _finish(prepared.ledger, new_id, plan, summary)
    finally:
        prepared.close()


def replay_rules(prepared: Prepared) -> None:
    """What a replay does differently from a run: `replace` tables are appended to
    (`insert`), and the quarantined-share gate is off (see the module doc)."""
    project = prepared.project
    gates = project.spec.gates.model_copy(update={"max_quarantined_share": None})
    prepared.project = replace(project, spec=project.spec.model_copy(update={"gates": gates}))
    for i, job in enumerate(prepared.jobs):
        update: dict[str, Any] = {"mode": "insert" if job.spec.mode == "replace" else job.spec.mode}
        if job.spec.gates is not None:
            update["gates"] = job.spec.gates.model_copy(update={"max_quarantined_share": None})
        prepared.jobs[i] = replace(job, spec=job.spec.model_copy(update=update))


def _record(ledger: Ledger, new_id: str, plan: ReplayPlan) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(
            ledger.replays.insert().values(
                run_id=new_id,
                replay_of=plan.of_run,
                file=str(plan.fix.path.resolve()),
                file_sha256=plan.fix.sha256,
                tables=json.dumps(plan.tables),
                rows=plan.rows,
                started_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        )


def _forget(ledger: Ledger, new_id: str) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(ledger.replays).where(ledger.replays.c.run_id == new_id))


def _finish(ledger: Ledger, new_id: str, plan: ReplayPlan, summary: RunSummary) -> dict[str, Any]:
    """Mark the original rows of every table the replay loaded to the end as replayed, and
    keep what was replayed in the run's summary (and its report says `replay`)."""
    summary.mode = "replay"
    if summary.report_path:
        write_report(Path(summary.report_path).parent, summary)
    done = [
        t["table_name"]
        for t in LedgerState(ledger).table_states(new_id)
        if t["state"] == "done" and t["table_name"] in plan.positions
    ]
    q = ledger.quarantine
    with ledger.engine.begin() as conn:
        for table in done:
            positions = plan.positions[table]
            for i in range(0, len(positions), 500):
                conn.execute(
                    q.update()
                    .where(
                        (q.c.run_id == plan.of_run)
                        & (q.c.table_name == table)
                        & q.c.source_position.in_(positions[i : i + 500])
                    )
                    .values(replayed_in=new_id)
                )
    doc = {**summary.to_json(), **replay_facts(plan)}
    ledger.update_summary(new_id, doc)
    return doc


def replay_facts(plan: ReplayPlan) -> dict[str, Any]:
    """What the summary of a replay says beyond a run's."""
    return {
        "replay_of": plan.of_run,
        "file": str(plan.fix.path),
        "replayed_rows": {t: s.data.num_rows for t, s in plan.sources.items()},
        "changed_cells": plan.changed_cells,
    }
