"""A ferryman project: `ferryman.yaml` (connections, defaults), its mapping specs and its
expectation suites, loaded with positioned errors and resolved against the environment.

Connection values may use `${VAR}` and `${VAR:-default}`; secrets stay in the environment
and are only ever shown masked.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from ferryman.connectors.kinds import CONNECTORS, ConnectorKind
from ferryman.connectors.registry import RegistryError
from ferryman.mappings.loader import load_yaml_model
from ferryman.mappings.model import Gates, StrictModel
from ferryman.secrets import mask_text
from ferryman.yaml_positions import PositionMap, SpecError, SpecIssue, load_yaml

PROJECT_FILE = "ferryman.yaml"
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class Defaults(StrictModel):
    """Project-wide defaults a spec may override."""

    batch_size: int = Field(default=5000, gt=0, description="Rows per batch.")


class DryRunSettings(StrictModel):
    """How `ferryman plan` / `ferryman run --dry-run` behaves."""

    history: bool = Field(
        default=True,
        description="Keep an entry per dry run in ferryman_dry_runs (the only table a dry"
        " run writes to); false: write nothing at all to the target.",
    )


class ProjectSpec(StrictModel):
    """The contents of ferryman.yaml."""

    name: str = Field(description="Project name, shown in reports and the ledger.")
    description: str | None = Field(default=None, description="What this migration does.")
    connections: dict[str, dict[str, Any]] = Field(
        description="Named connections: `kind:` plus that kind's options."
    )
    target: str = Field(default="target", description="The connection written to.")
    defaults: Defaults = Field(default_factory=Defaults, description="Defaults for every spec.")
    gates: Gates = Field(
        default_factory=Gates,
        description="Quality gates for every table (a spec's `gates:` overrides them).",
    )
    dry_run: DryRunSettings = Field(
        default_factory=DryRunSettings, description="Dry-run settings (`ferryman plan`)."
    )
    reports: str = Field(default="reports", description="Folder for run reports.")
    specs: str = Field(default="mappings/specs", description="Folder of mapping specs.")
    suites: str = Field(default="validations/suites", description="Folder of suites.")


class EnvironmentError_(ValueError):
    """A `${VAR}` without a value and without a default."""


def expand(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in strings (recursively in lists and dicts)."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group("name"), m.group("default")
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            raise EnvironmentError_(
                f"environment variable {name} is not set; export it, or give a default:"
                f" ${{{name}:-...}}"
            )

        return _VAR.sub(sub, value)
    if isinstance(value, list):
        return [expand(v, env) for v in value]
    if isinstance(value, dict):
        return {k: expand(v, env) for k, v in value.items()}
    return value


@dataclass
class Project:
    """A loaded project: its folder, its settings, and where each setting sits in the file."""

    root: Path
    spec: ProjectSpec
    positions: PositionMap

    @property
    def file(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def specs_dir(self) -> Path:
        return self.root / self.spec.specs

    @property
    def suites_dir(self) -> Path:
        return self.root / self.spec.suites

    @property
    def reports_dir(self) -> Path:
        return self.root / self.spec.reports

    def display(self, path: Path) -> str:
        """A path as shown in messages: relative to the project when inside it."""
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)

    def connection_kind(self, name: str) -> ConnectorKind:
        raw = self.spec.connections[name]
        return CONNECTORS.get(str(raw.get("kind")))

    def connection_options(self, name: str) -> dict[str, Any]:
        """The options of a connection, environment expanded and paths made absolute."""
        raw = {k: v for k, v in self.spec.connections[name].items() if k != "kind"}
        options: dict[str, Any] = expand(raw)
        if isinstance(options.get("url"), str):
            options["url"] = self._absolute_sqlite(options["url"])
        for key in ("path", "layout_file", "copybook"):
            value = options.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                options[key] = str(self.root / value)
        return options

    def secrets(self) -> tuple[str, ...]:
        """Every expanded connection URL: masked wherever it could appear in a message."""
        out = []
        for name in self.spec.connections:
            try:
                url = self.connection_options(name).get("url")
            except EnvironmentError_:
                continue
            if isinstance(url, str):
                out.append(url)
        return tuple(out)

    def mask(self, text: str) -> str:
        return mask_text(text, self.secrets())

    def _absolute_sqlite(self, url: str) -> str:
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix:
            rel = url[len(prefix) :]
            if rel != ":memory:" and not rel.startswith("file:"):
                path = self.root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                return prefix + str(path)
        return url

    def check_connections(self) -> list[SpecIssue]:
        """Every connection names a known kind with valid options and resolvable ${VARS}."""
        issues: list[SpecIssue] = []
        disp = self.display(self.file)
        for name, raw in self.spec.connections.items():
            base: tuple[Hashable, ...] = ("connections", name)
            kind_name = raw.get("kind")
            if not isinstance(kind_name, str):
                issues.append(self._issue(disp, base, "missing `kind:` (e.g. sql, csv)"))
                continue
            try:
                kind = CONNECTORS.get(kind_name)
            except RegistryError as err:
                issues.append(self._issue(disp, (*base, "kind"), str(err)))
                continue
            try:
                kind.parse_options(self.connection_options(name))
            except EnvironmentError_ as err:
                issues.append(self._issue(disp, base, str(err)))
            except ValidationError as err:
                for e in err.errors():
                    loc = (*base, *e["loc"])
                    issues.append(self._issue(disp, loc, self.mask(e["msg"])))
        if self.spec.target not in self.spec.connections:
            issues.append(
                self._issue(
                    disp,
                    ("target",),
                    f"target connection {self.spec.target!r} is not defined under connections",
                )
            )
        return issues

    def _issue(self, disp: str, path: tuple[Hashable, ...], message: str) -> SpecIssue:
        line, col = self.positions.value(path)
        return SpecIssue(disp, line, col, self.positions.format(path), message)


def load_project(root: Path) -> Project:
    """Load ferryman.yaml from `root`; raises SpecError with positioned issues, or
    ProjectNotFound (one line: where it looked, what to do) when there is no ferryman.yaml."""
    file = root / PROJECT_FILE
    if not file.is_file():
        from ferryman.flows.project.folder import not_a_project

        raise ProjectNotFound(not_a_project(root))
    display = _display(file)
    spec = load_yaml_model(file, ProjectSpec, display_path=display)
    _, positions = load_yaml(file, display_path=display)
    return Project(root=root.resolve(), spec=spec, positions=positions)


class ProjectNotFound(SpecError):
    """The folder holds no ferryman.yaml. `str(err)` is one line without a file position."""

    def __init__(self, message: str) -> None:
        super().__init__([SpecIssue(PROJECT_FILE, 1, 1, "", message)])
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def digest_files(paths: list[Path]) -> str:
    """A digest of the spec and suite files a run used (resume refuses if they changed)."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()
