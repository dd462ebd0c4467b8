"""A plan: the specs of a run, in load order, checked against the project before anything
is touched (`ferryman check` and the start of every run share this code)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ferryman.flows.batch.lookups import lookup_steps
from ferryman.flows.project.config import Project, digest_files
from ferryman.mappings.compile import Problem, check_spec
from ferryman.mappings.loader import check_source_columns, load_spec_with_positions
from ferryman.mappings.model import MappingSpec
from ferryman.suggest import did_you_mean
from ferryman.validations.suites import SuiteSpec, load_suite, load_suites, suite_column_issues
from ferryman.yaml_positions import PositionMap, SpecError, SpecIssue

SUPPORTED_MODES = ("insert", "upsert", "replace")


@dataclass
class Plan:
    """Specs in dependency order, with the suites they use and the files they came from."""

    project: Project
    specs: list[MappingSpec]
    suites: dict[str, SuiteSpec]
    files: dict[str, Path] = field(default_factory=dict)
    positions: dict[str, PositionMap] = field(default_factory=dict)

    @property
    def tables(self) -> list[str]:
        return [s.target for s in self.specs]

    def digest(self) -> str:
        suite_files = sorted(self.project.suites_dir.glob("*.y*ml"))
        return digest_files([*self.files.values(), *suite_files])


def _spec_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.y*ml") if p.is_file())


def load_plan(project: Project, tables: Sequence[str] = ()) -> Plan:
    """Load and check every spec and suite; raises SpecError listing all issues."""
    issues: list[SpecIssue] = list(project.check_connections())
    specs: dict[str, MappingSpec] = {}
    files: dict[str, Path] = {}
    positions: dict[str, PositionMap] = {}
    if not project.specs_dir.is_dir():
        raise SpecError(
            [
                *issues,
                SpecIssue(
                    project.display(project.file),
                    1,
                    1,
                    "specs",
                    f"folder {project.specs_dir} does not exist",
                ),
            ]
        )
    unreadable: set[str] = set()
    for path in _spec_files(project.specs_dir):
        try:
            spec, pos = load_spec_with_positions(path, display_path=project.display(path))
        except SpecError as err:
            issues.extend(err.issues)
            unreadable.add(path.stem)  # probably the table it would produce
            continue
        if spec.target in specs:
            issues.append(
                _at(
                    project,
                    path,
                    pos,
                    ("target",),
                    f"table {spec.target!r} is also produced by"
                    f" {project.display(files[spec.target])}; one spec per table",
                )
            )
            continue
        specs[spec.target], files[spec.target], positions[spec.target] = spec, path, pos
    suites, broken = _load_suites(project, issues)
    for target, spec in specs.items():
        issues.extend(
            _check_spec(
                project,
                spec,
                files[target],
                positions[target],
                suites,
                broken,
                set(specs) | unreadable,
            )
        )
    order, cycle_issues = _order(project, specs, files, positions)
    issues.extend(cycle_issues)
    unknown = [t for t in tables if t not in specs]
    for t in unknown:
        issues.append(
            SpecIssue(
                project.display(project.specs_dir),
                1,
                1,
                "",
                f"no spec produces table {t!r}.{did_you_mean(t, specs)}",
            )
        )
    if issues:
        raise SpecError(issues)
    chosen = [specs[t] for t in order if not tables or t in tables]
    return Plan(
        project,
        chosen,
        suites,
        {s.target: files[s.target] for s in chosen},
        {s.target: positions[s.target] for s in chosen},
    )


def _load_suites(
    project: Project, issues: list[SpecIssue]
) -> tuple[dict[str, SuiteSpec], set[str]]:
    """Every suite that loads, and the names of those that do not (their own issues are
    reported; specs naming them are not told the suite is unknown)."""
    if not project.suites_dir.is_dir():
        return {}, set()
    try:
        return load_suites(project.suites_dir, root=Path.cwd()), set()
    except SpecError as err:
        issues.extend(err.issues)
    suites: dict[str, SuiteSpec] = {}
    broken: set[str] = set()
    for path in sorted(project.suites_dir.glob("*.y*ml")):
        try:
            suites[path.stem] = load_suite(path, display_path=project.display(path))
        except SpecError:
            broken.add(path.stem)
    return suites, broken


def _at(
    project: Project, path: Path, pos: PositionMap, loc: tuple[Hashable, ...], message: str
) -> SpecIssue:
    line, col = pos.value(loc)
    return SpecIssue(project.display(path), line, col, pos.format(loc), message)


def _check_spec(
    project: Project,
    spec: MappingSpec,
    path: Path,
    pos: PositionMap,
    suites: dict[str, SuiteSpec],
    broken: set[str],
    produced: set[str] | None = None,
) -> list[SpecIssue]:
    issues = [_compile_issue(project, path, pos, p) for p in check_spec(spec)]
    issues.extend(_foreign_key_issues(project, spec, path, pos, produced or set()))
    conns = project.spec.connections
    if spec.source.connection not in conns:
        issues.append(
            _at(
                project,
                path,
                pos,
                ("source", "connection"),
                f"unknown connection {spec.source.connection!r}."
                f"{did_you_mean(spec.source.connection, conns)}"
                f" Connections are defined in {project.display(project.file)}",
            )
        )
    issues.extend(_lookup_issues(project, spec, path, pos))
    if spec.mode not in SUPPORTED_MODES:
        issues.append(
            _at(
                project,
                path,
                pos,
                ("mode",),
                f"write mode {spec.mode!r} is not available in this version;"
                f" use {' or '.join(SUPPORTED_MODES)}",
            )
        )
    for i, name in enumerate(spec.suites):
        if name in suites:
            issues.extend(suite_column_issues(suites[name], spec.fields))
        elif name not in broken:
            issues.append(
                _at(
                    project,
                    path,
                    pos,
                    ("suites", i),
                    f"unknown suite {name!r}.{did_you_mean(name, suites)}"
                    f" Suites are files in {project.display(project.suites_dir)}",
                )
            )
    return issues


def _foreign_key_issues(
    project: Project, spec: MappingSpec, path: Path, pos: PositionMap, produced: set[str]
) -> list[SpecIssue]:
    """A parent table that no spec produces is taken as already in the target, unless its
    name is a near miss of one that a spec does produce (then it is surely a typo)."""
    issues = []
    for i, fk in enumerate(spec.foreign_keys):
        parent = fk.parent_table
        if parent in produced or parent == spec.target:
            continue
        hint = did_you_mean(parent, produced)
        if hint.startswith(" Did you mean"):
            issues.append(
                _at(
                    project,
                    path,
                    pos,
                    ("foreign_keys", i, "references"),
                    f"no spec produces table {parent!r}.{hint} (a table outside"
                    " the project must already exist in the target)",
                )
            )
    return issues


def _lookup_issues(
    project: Project, spec: MappingSpec, path: Path, pos: PositionMap
) -> list[SpecIssue]:
    """A source lookup names a SQL connection of the project."""
    conns = project.spec.connections
    issues = []
    for step_path, args in lookup_steps(spec):
        source = args.get("source")
        name = source.get("connection") if isinstance(source, dict) else None
        if not isinstance(name, str):
            continue  # the lookup's own argument check reports a malformed `source:`
        loc = (*step_path, "source", "connection")
        if name not in conns:
            message = (
                f"unknown connection {name!r}.{did_you_mean(name, conns)}"
                f" Connections are defined in {project.display(project.file)}"
            )
        elif conns[name].get("kind") != "sql":
            message = (
                f"connection {name!r} is a {conns[name].get('kind')} connection; a source"
                " lookup reads a table of a `kind: sql` connection (for a CSV file of the"
                " project use `file:`)"
            )
        else:
            continue
        issues.append(_at(project, path, pos, loc, message))
    return issues


def _compile_issue(project: Project, path: Path, pos: PositionMap, p: Problem) -> SpecIssue:
    """A problem only the compiler sees (e.g. a bad default), at its place in the file."""
    loc = tuple(p.path)
    line, col = pos.in_scalar(loc, p.offset) if p.offset is not None else pos.value(loc)
    return SpecIssue(project.display(path), line, col, pos.format(loc), p.message)


def check_columns(plan: Plan, columns_of: dict[str, Iterable[str]]) -> list[SpecIssue]:
    """Source columns named by each spec exist (columns_of: target table -> source columns)."""
    issues: list[SpecIssue] = []
    for spec in plan.specs:
        if spec.target in columns_of:
            issues.extend(
                check_source_columns(
                    spec,
                    columns_of[spec.target],
                    display_path=plan.project.display(plan.files[spec.target]),
                    positions=plan.positions[spec.target],
                )
            )
    return issues


def _order(
    project: Project,
    specs: dict[str, MappingSpec],
    files: dict[str, Path],
    positions: dict[str, PositionMap],
) -> tuple[list[str], list[SpecIssue]]:
    """Tables in dependency order (Kahn, alphabetical among equals); a cycle is an issue
    that names it. Dependencies on tables no spec produces are taken as already there."""
    deps = {t: {d for d in s.dependencies if d in specs} for t, s in specs.items()}
    order: list[str] = []
    ready = sorted(t for t, d in deps.items() if not d)
    remaining = {t: set(d) for t, d in deps.items() if d}
    while ready:
        t = ready.pop(0)
        order.append(t)
        for other in sorted(remaining):
            remaining[other].discard(t)
            if not remaining[other]:
                del remaining[other]
                ready.append(other)
        ready.sort()
    if not remaining:
        return order, []
    cycle = _find_cycle(remaining)
    first = cycle[0]
    return order, [
        _at(
            project,
            files[first],
            positions[first],
            ("depends_on",),
            "load order has a cycle: "
            + " -> ".join([*cycle, first])
            + "; remove one dependency (load that table in a later run)",
        )
    ]


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    start = sorted(graph)[0]
    path: list[str] = []
    node = start
    while node not in path:
        path.append(node)
        node = sorted(graph[node])[0]
    return path[path.index(node) :]
