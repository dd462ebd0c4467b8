"""The `ferryman` command line: commands, their output, exit codes."""

from __future__ import annotations

from ferryman.flows.cli.app import main

__all__ = ["main"]
