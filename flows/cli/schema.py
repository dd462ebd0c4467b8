"""`ferryman schema`: the JSON Schema of spec files, copied into a project for its editors.

The schema ships with ferryman (`ferryman.mappings`, package data). Spec files find the
project's copy through their first line, `# yaml-language-server: $schema=../spec.schema.json`
(relative to `mappings/specs/`), so the copy goes beside the specs folder:
`mappings/spec.schema.json`. Exit codes: 0 done (or current), 1 the copy is stale
(`--check`), 2 no project here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

EXIT_OK, EXIT_STALE, EXIT_USAGE = 0, 1, 2

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

_SCHEMA_LINE = re.compile(r"#\s*yaml-language-server:\s*\$schema=(?P<where>\S+)")

HELP = (
    "Write the JSON Schema of spec files into the project, where the specs find it.\n\n"
    "The copy goes to mappings/spec.schema.json (beside the specs folder); a spec file"
    " uses it with this first line:\n\n"
    "# yaml-language-server: $schema=../spec.schema.json\n\n"
    "Editors (VS Code with the YAML extension, any yaml-language-server, JetBrains) then"
    " complete and check spec files. Run it again after upgrading ferryman; --check exits"
    " 1 when the copy is stale (for CI)."
)


def schema(
    project: Annotated[
        Path, typer.Option("--project", "-p", help="Project folder (holds ferryman.yaml).")
    ] = Path(),
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the copy is missing or stale."),
    ] = False,
) -> None:
    from ferryman import __version__
    from ferryman.flows.project.config import load_project
    from ferryman.mappings.schema import SCHEMA_FILE, SCHEMA_LINE, packaged
    from ferryman.yaml_positions import SpecError

    try:
        loaded = load_project(project)
    except SpecError as e:
        err.print(f"{e}\nNothing was written.", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    dest = loaded.specs_dir.parent / SCHEMA_FILE
    shown = loaded.display(dest)
    text = packaged()
    current = dest.is_file() and dest.read_text(encoding="utf-8") == text
    if check:
        if not current:
            state = "is out of date" if dest.is_file() else "is missing"
            err.print(
                f"{shown} {state} (ferryman {__version__}): run `ferryman schema"
                f" --project {project}` and commit the result",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(EXIT_STALE)
        out.print(f"ok: {shown} is current (ferryman {__version__})", highlight=False)
        return
    if current:
        out.print(f"{shown} is current (ferryman {__version__})", highlight=False)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        out.print(f"wrote {shown} (ferryman {__version__})", highlight=False)
    astray = [loaded.display(p) for p in _spec_files(loaded.specs_dir) if not _finds(p, dest)]
    if astray:
        named = ", ".join(astray[:5]) + (f" and {len(astray) - 5} more" if len(astray) > 5 else "")
        err.print(
            f"{len(astray)} spec file(s) do not point at it: {named}\n"
            f"Make this their first line: {SCHEMA_LINE}",
            markup=False,
            highlight=False,
        )


def _spec_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.y*ml") if p.is_file())


def _finds(spec: Path, schema_file: Path) -> bool:
    """Whether the spec's `$schema=` comment (in its first lines) names `schema_file`."""
    with spec.open(encoding="utf-8", errors="replace") as f:
        head = [f.readline() for _ in range(5)]
    for line in head:
        m = _SCHEMA_LINE.match(line.strip())
        if m:
            where = m.group("where")
            return "://" not in where and (spec.parent / where).resolve() == schema_file.resolve()
    return False
