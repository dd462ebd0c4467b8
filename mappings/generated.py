"""Files generated from the code (the JSON Schema, the functions page): one command-line
shape for both, `--write` to regenerate and `--check` to fail when the committed file is
stale, so a test and CI can tell an engineer exactly what to run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def write_or_check(
    argv: list[str] | None,
    *,
    prog: str,
    description: str | None,
    default_path: Path,
    render: Callable[[], str],
    source: str,
    fix: str,
) -> int:
    """`--write` regenerates `default_path` from `render()`; `--check` returns 1 (with a
    message naming `fix`) when the file differs from what `render()` gives."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="regenerate the file")
    action.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--path", type=Path, default=default_path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.path.write_text(text, encoding="utf-8")
        print(f"wrote {args.path}")
        return 0
    if args.path.is_file() and args.path.read_text(encoding="utf-8") == text:
        return 0
    state = "is out of date" if args.path.is_file() else "is missing"
    print(
        f"{shown(args.path)} {state} with {source}: run {fix} and commit the result",
        file=sys.stderr,
    )
    return 1
