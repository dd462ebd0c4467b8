"""Preparing a run without Prefect: load and check the project, open the target, build one
job per table. Everything that can be wrong with the specs or the connections is found
here, before the first write."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from connectors.base import Source
from connectors.errors import ConnectorError
from connectors.sql.target import SqlTarget
from flows.ledger import Ledger
from flows.load import TableJob
from flows.plan import Plan, check_columns, load_plan
from flows.project import Project, load_project
from mappings.compile import compile_spec
from mappings.model import MappingSpec
from mappings.yaml_positions import SpecError, SpecIssue
from validations.gx_runner import SuiteRunner


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
    target: SqlTarget
    ledger: Ledger
    jobs: list[TableJob]
    sources: dict[str, Source] = field(default_factory=dict)

    def close(self) -> None:
        for s in self.sources.values():
            s.close()
        self.target.close()


def open_target(project: Project) -> SqlTarget:
    name = project.spec.target
    target = project.connection_kind(name).build_target(name, project.connection_options(name))
    if not isinstance(target, SqlTarget):
        raise UsageError(f"connection {name!r} cannot be a target yet: only `kind: sql` can")
    return target


def open_sources(project: Project, specs: list[MappingSpec]) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for spec in specs:
        name = spec.source.connection
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
        if issues:
            for s in sources.values():
                s.close()
            raise SpecError(issues)
    return project, plan, sources


def prepare(
    project_dir: Path,
    tables: list[str] | None = None,
    batch_size: int | None = None,
    install: bool = True,
) -> Prepared:
    """Check the project, connect to the target, and build the jobs. Raises SpecError
    (exit 2), ConnectorError (exit 1) or UsageError (exit 2). With install=False nothing
    is written (no table created): a preflight."""
    project, plan, sources = check_project(project_dir, tables)
    target = open_target(project)
    try:
        target.ping()
        jobs = [
            TableJob(
                spec=spec,
                compiled=compile_spec(spec),
                source=sources[spec.source.connection],
                suites=SuiteRunner([plan.suites[n] for n in spec.suites]) if spec.suites else None,
                batch_size=batch_size or spec.batch_size or project.spec.defaults.batch_size,
            )
            for spec in plan.specs
        ]
        _ensure_tables(target, plan, jobs, create=install)
    except BaseException:
        target.close()
        for s in sources.values():
            s.close()
        raise
    ledger = Ledger(target.engine, target.schema)
    if install:
        ledger.install()
    return Prepared(project, plan, target, ledger, jobs, sources)


def _ensure_tables(target: SqlTarget, plan: Plan, jobs: list[TableJob], create: bool) -> None:
    """Refuse an existing table that does not fit; create the missing ones if `create`."""
    issues = []
    with target.begin() as conn:
        for job in jobs:
            if not create and not target.has_table(conn, job.table):
                continue
            problems = target.ensure_table(conn, job.compiled.target_schema())
            if problems:
                pos = plan.positions[job.table]
                line, col = pos.value(("target",))
                issues.append(
                    SpecIssue(
                        plan.project.display(plan.files[job.table]),
                        line,
                        col,
                        "target",
                        f"existing table {job.table!r} in {target.describe()} does not fit the"
                        f" spec: {'; '.join(problems)}. Fix the spec or migrate the table first",
                    )
                )
    if issues:
        raise SpecError(issues)
