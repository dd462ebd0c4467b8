"""Preparing a run without Prefect: load and check the project, open the target, build one
job per table. Everything that can be wrong with the specs or the connections is found
here, before the first write."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc

from ferryman.connectors.base import Source, Target
from ferryman.connectors.errors import ConnectorError
from ferryman.flows.batch.keymap import SqlKeyMap
from ferryman.flows.batch.load import TableJob
from ferryman.flows.batch.lookups import (
    Lookups,
    SourceOpener,
    check_lookups,
    source_connections,
)
from ferryman.flows.dryrun.history import DryRunHistory
from ferryman.flows.ledger.store import Ledger
from ferryman.flows.project.config import Project, load_project
from ferryman.flows.project.plan import Plan, check_columns, load_plan
from ferryman.mappings.compile import compile_spec
from ferryman.mappings.loader import check_source_columns
from ferryman.mappings.model import MappingSpec
from ferryman.mappings.tables import schema_diff
from ferryman.validations.gx_runner import SuiteRunner
from ferryman.yaml_positions import SpecError, SpecIssue


class UsageError(Exception):
    """Bad usage or a bad spec: nothing was touched (exit code 2)."""


def new_run_id() -> str:
    """Sortable and unique: `20261126T214501-3fa2c1`."""
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{now}-{secrets.token_hex(3)}"


@dataclass
class Prepared:
    """A checked plan with its open connections; close() releases them."""

    project: Project
    plan: Plan
    target: Target
    ledger: Ledger
    jobs: list[TableJob]
    sources: dict[str, Source] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    """Tables this preparation created (absent before the run: rollback drops them)."""
    lookups: Lookups | None = None

    def close(self) -> None:
        for s in self.sources.values():
            s.close()
        if self.lookups is not None:
            self.lookups.close()
        self.target.close()


def open_target(project: Project) -> Target:
    """The project's target, built by its connection kind (the connector registry)."""
    name = project.spec.target
    kind = project.connection_kind(name)
    if kind.target is None:
        raise UsageError(
            f"connection {name!r} is a {kind.name} connection, which cannot be written to;"
            " the target must be a kind that can (`kind: sql`)"
        )
    return kind.build_target(name, project.connection_options(name))


def open_sources(project: Project, specs: list[MappingSpec]) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for stream in (s for spec in specs for s in spec.stream_specs()):
        name = stream.source.connection
        if name not in sources:
            kind = project.connection_kind(name)
            sources[name] = kind.build_source(name, project.connection_options(name))
    return sources


def check_project(
    project_dir: Path, tables: list[str] | None = None, read_sources: bool = True
) -> tuple[Project, Plan, dict[str, Source]]:
    """Load everything and check it, reading source columns; raises SpecError."""
    project = load_project(project_dir)
    plan = load_plan(project, tables or [])
    sources = open_sources(project, plan.specs) if read_sources else {}
    if read_sources:
        columns: dict[str, Iterable[str]] = {}
        issues: list[SpecIssue] = []
        for spec in plan.specs:
            try:
                columns[spec.target] = sources[spec.source.connection].columns(spec.source.stream)
            except ConnectorError as err:
                line, col = plan.positions[spec.target].value(("source",))
                issues.append(
                    SpecIssue(
                        project.display(plan.files[spec.target]),
                        line,
                        col,
                        "source",
                        project.mask(str(err)),
                    )
                )
        issues.extend(check_columns(plan, columns))
        issues.extend(_check_more_sources(project, plan, sources))
        issues.extend(check_lookups(plan))
        if issues:
            for s in sources.values():
                s.close()
            raise SpecError(issues)
    return project, plan, sources


def _check_more_sources(
    project: Project, plan: Plan, sources: dict[str, Source]
) -> list[SpecIssue]:
    """The columns each of a spec's `more_sources` reads exist in that stream."""
    issues: list[SpecIssue] = []
    for spec in plan.specs:
        display = project.display(plan.files[spec.target])
        positions = plan.positions[spec.target]
        for i, stream in enumerate(spec.stream_specs()[1:], start=1):
            try:
                known = sources[stream.source.connection].columns(stream.source.stream)
            except ConnectorError as err:
                line, col = positions.value(("more_sources", i - 1))
                issues.append(
                    SpecIssue(display, line, col, f"more_sources[{i - 1}]", project.mask(str(err)))
                )
                continue
            issues.extend(check_source_columns(spec, known, display, positions, source=i))
    return issues


def prepare(
    project_dir: Path,
    tables: list[str] | None = None,
    batch_size: int | None = None,
    install: bool = True,
    pin: bool = False,
    table_sources: dict[str, Source] | None = None,
) -> Prepared:
    """Check the project, connect to the target, and build the jobs. Raises SpecError
    (exit 2), ConnectorError (exit 1) or UsageError (exit 2). With install=False nothing
    is written (no table created): a preflight. With pin=True everything goes through one
    connection whose transaction close() rolls back: a dry run (`Target.pinned`).
    `table_sources` (target table -> Source) reads each table from there instead of its
    spec's connection, which is then neither opened nor checked (a quarantine replay: the
    caller checks the columns it offers)."""
    project, plan, sources = check_project(project_dir, tables, table_sources is None)
    target = open_target(project)
    if pin:
        target = target.pinned()
    ledger = Ledger(target)
    lookups = Lookups(target, _lookup_sources(project, plan.specs))
    keymap = SqlKeyMap(ledger)
    try:
        target.ping()
        if not pin:
            settle_dry_runs(target)
        jobs = []
        for spec in plan.specs:
            streams = [
                TableJob(
                    spec=stream,
                    compiled=compile_spec(
                        stream, lookups=lookups, keys=keymap, base_dir=project.root
                    ),
                    source=sources[stream.source.connection]
                    if table_sources is None
                    else table_sources[spec.target],
                    suites=SuiteRunner([plan.suites[n] for n in spec.suites])
                    if spec.suites
                    else None,
                    batch_size=batch_size or spec.batch_size or project.spec.defaults.batch_size,
                    keymap=keymap,
                )
                for stream in (spec.stream_specs() if table_sources is None else [spec])
            ]
            jobs.append(replace(streams[0], more=streams[1:]))
        created = _ensure_tables(target, plan, jobs, create=install)
    except BaseException:
        lookups.close()
        target.close()
        for s in sources.values():
            s.close()
        raise
    if install:
        ledger.install()
    return Prepared(project, plan, target, ledger, jobs, sources, created, lookups)


def _lookup_sources(project: Project, specs: list[MappingSpec]) -> dict[str, SourceOpener]:
    """How to open each source connection that source lookups read (the plan refused
    the ones that are not SQL), when it is first asked."""
    return {
        name: partial(
            project.connection_kind(name).build_source, name, project.connection_options(name)
        )
        for name in sorted(source_connections(specs))
    }


def _ensure_tables(target: Target, plan: Plan, jobs: list[TableJob], create: bool) -> set[str]:
    """Refuse an existing table that does not fit; create the missing ones if `create`."""
    issues = []
    created = set()
    with target.begin() as conn:
        for job in jobs:
            wanted = job.compiled.target_schema()
            if not target.has_table(conn, job.table):
                if not create:
                    continue
                created.add(job.table)
            elif job.table not in created:
                diff = schema_diff(target.existing_columns(conn, wanted), wanted)
                if diff:
                    issues.append(_misfit(plan, target, job.table, diff))
                    continue
            problems = target.ensure_table(conn, wanted)
            if problems:
                issues.append(_misfit(plan, target, job.table, problems))
    if issues:
        raise SpecError(issues)
    return created


def _misfit(plan: Plan, target: Target, table: str, problems: list[str]) -> SpecIssue:
    line, col = plan.positions[table].value(("target",))
    return SpecIssue(
        plan.project.display(plan.files[table]),
        line,
        col,
        "target",
        f"existing table {table!r} in {target.describe()} does not fit the spec:"
        f" {'; '.join(problems)}. Fix the spec, or alter or drop the table first",
    )


def run_for_action(project: Project, target: Target, run_id: str, action: str) -> Any:
    """The ledger's record of `run_id`, or a UsageError saying why it cannot be used."""
    ledger = Ledger(target)
    run = ledger.get_run(run_id) if ledger.exists() else None
    if run is None:
        raise UsageError(
            f"no run {run_id!r} in {target.describe()}; `ferryman status` lists the runs"
        )
    if run.project != project.spec.name:
        raise UsageError(
            f"run {run_id} belongs to project {run.project!r}, not {project.spec.name!r};"
            " pass the right --project"
        )
    if run.state in ("rolled_back", "rolling_back", "partially_rolled_back") and action == "resume":
        raise UsageError(f"run {run_id} is {run.state.replace('_', ' ')}; it cannot be resumed")
    replay = ledger.replay_record(run_id) if action == "resume" else None
    if replay is not None:
        raise UsageError(
            f"run {run_id} replays quarantined rows of run {replay['replay_of']} from"
            f" {replay['file']}; a replay cannot be resumed. Roll it back (`ferryman rollback"
            f" {run_id}`) and replay the file again"
        )
    return run


def prepare_resume(project_dir: Path, run_id: str, force: bool = False) -> Prepared:
    """Prepare to continue `run_id` with the same specs (refused if they changed, unless
    `force`). Raises UsageError (exit 2) when the run cannot be resumed."""
    project = load_project(project_dir)
    target = open_target(project)
    try:
        target.ping()
        run = run_for_action(project, target, run_id, "resume")
    finally:
        target.close()
    if run.state == "succeeded":
        raise UsageError(f"run {run_id} already succeeded; there is nothing to resume")
    if run.state == "stopped_by_gate" and not force:
        gate = f" ({run.error})" if run.error else ""
        raise UsageError(
            f"run {run_id} was stopped by a quality gate{gate}; resuming would load the rest"
            " past it. Fix the data and `ferryman rollback` then run again; or, if the"
            " threshold was wrong, change it and resume with --force (gates are checked"
            " again with the current thresholds)"
        )
    prepared = prepare(project_dir, run.tables)
    if prepared.plan.digest() != run.specs_digest and not force:
        prepared.close()
        raise UsageError(
            f"the specs or suites changed since run {run_id} started; resuming would load the"
            " rest of the data with other rules than the first part. Restore them, roll the"
            " run back and start a new one, or pass --force to resume anyway"
        )
    return prepared


@dataclass
class TargetSession:
    """The project, its target and its ledger, for commands that need no source (status,
    rollback, unlock)."""

    project: Project
    target: Target
    ledger: Ledger

    def close(self) -> None:
        self.target.close()


def open_session(project_dir: Path) -> TargetSession:
    project = load_project(project_dir)
    target = open_target(project)
    try:
        target.ping()
        settle_dry_runs(target)
    except BaseException:
        target.close()
        raise
    return TargetSession(project, target, Ledger(target))


def settle_dry_runs(target: Target) -> None:
    """A dry run killed earlier left an entry in ferryman_dry_runs: check the target
    against it now (its writes died with its transaction) and say what was found."""
    try:
        for message in DryRunHistory(target).recover():
            logging.getLogger("ferryman").warning("%s", message)
    except ConnectorError:
        raise
    except sa_exc.SQLAlchemyError as err:
        raise target.error(err) from err
