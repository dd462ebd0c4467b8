"""Printing a dry run the way `terraform plan` does: what would change, per table, then the
totals, then the proof that nothing did."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from ferryman.flows.dryrun.report import COUNTS

_SYMBOL = {"insert": "+", "upsert": "~", "replace": "-/+"}


def print_plan(out: Console, plan: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(plan, indent=2, ensure_ascii=False, default=str) + "\n")
        return
    say = _printer(out)
    say(f"ferryman plan {plan['run_id']}: dry run against {plan['target']}")
    say("Nothing was written: every change below was made and then rolled back.")
    table = Table(title_justify="left", box=None, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("table", no_wrap=True)
    for col in ("read", "insert", "update", "unchanged", "delete", "quarantine", "filter"):
        table.add_column(col, justify="right")
    for name, t in plan["tables"].items():
        table.add_row(
            _SYMBOL.get(t["mode"], " "),
            name,
            *(f"{t[c]:,}" for c in COUNTS),
        )
    out.print(table)
    _print_tables(out, plan)
    _print_ddl_and_gates(out, plan)
    totals = plan["totals"]
    outcome = "succeed" if plan["state"] == "planned" else plan["state"].replace("_", " ")
    say(
        f"Plan: {totals['would_insert']:,} to insert, {totals['would_update']:,} to update,"
        f" {totals['would_delete']:,} to delete, {totals['quarantined']:,} to quarantine;"
        f" the run would {'end ' * (outcome != 'succeed')}{outcome}."
    )
    _print_proof(out, plan)
    say(
        f"The dry run took {plan['seconds']:.1f}s; a real run would take about"
        f" {plan['estimated_run_seconds']:.0f}s."
    )
    say(f"Report: {plan['report']}")


def _print_tables(out: Console, plan: dict[str, Any]) -> None:
    say = _printer(out)
    for name, t in plan["tables"].items():
        if not t["balanced"]:
            out.print(f"[red]{name}: read != loaded + quarantined + filtered[/red]")
        if t["mode"] == "replace" and t["replaced"]:
            say(
                f"  {name}: replace deletes its {t['replaced']:,} current row(s) first;"
                f" {t['would_delete']:,} of their keys are not in the new data"
            )
        if t["quarantine_rules"]:
            reasons = ", ".join(f"{r} {n:,}" for r, n in t["quarantine_rules"].items())
            say(f"  {name} would quarantine: {reasons}")
        for sample in t["update_samples"][:3]:
            key = ", ".join(f"{k}={v}" for k, v in sample["key"].items())
            changes = "; ".join(f"{c}: {b!r} -> {a!r}" for c, (b, a) in sample["changes"].items())
            say(f"  ~ {name} {key}: {changes}")


def _print_ddl_and_gates(out: Console, plan: dict[str, Any]) -> None:
    say = _printer(out)
    if plan["ddl"]:
        say("DDL the run would execute:")
        for statement in plan["ddl"]:
            say(f"  {statement};")
    if plan["control_tables_created"]:
        say(f"The run would also create: {', '.join(plan['control_tables_created'])}.")
    for gate in plan["failed_gates"]:
        out.print(f"gate would fail: {gate}", style="red", markup=False, highlight=False)
    if plan["error"] and not plan["failed_gates"]:
        out.print(f"the run would fail: {plan['error']}", style="red", markup=False)


def _print_proof(out: Console, plan: dict[str, Any]) -> None:
    n = len(plan["watched_tables"])
    if plan["differences"]:
        out.print(
            "TARGET CHANGED by the dry run, which must never happen: "
            + "; ".join(plan["differences"])
            + ". Inspect these tables now and report this as a ferryman bug.",
            style="bold red",
            markup=False,
            highlight=False,
        )
        return
    text = f"Target unchanged: {n} table(s) fingerprinted before and after, equal."
    moved = plan["counters_moved"]
    if moved:
        names = ", ".join(f"{k} ({a} -> {b})" for k, (a, b) in moved.items())
        if plan["counters_not_restored"]:
            text += f" Counters moved and NOT all put back: {names}: " + "; ".join(
                plan["counters_not_restored"]
            )
        else:
            text += f" Counters a rollback cannot undo were put back: {names}."
    out.print(text, markup=False, highlight=False)


def _printer(out: Console) -> Any:
    def say(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    return say
