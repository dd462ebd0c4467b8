"""The `ferryman` command as a user runs it: a real process, real exit codes, stdout vs
stderr, positioned errors, no secrets."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

from tests.conftest import Database
from tests.helpers import cli


def _env(legacy: tuple[Path, dict[str, Any]], target_url: str) -> dict[str, str]:
    """No Prefect API given: each command starts (and must stop) its own temporary server."""
    return cli.demo_env(legacy[0], target_url)


def test_check_accepts_the_demo_project(
    demo_project: Path, legacy: tuple[Path, dict[str, Any]], sqlite_db: Database
) -> None:
    res = cli.ferryman(
        ["check", "--project", str(demo_project)], demo_project, _env(legacy, sqlite_db.url)
    )
    assert res.returncode == 0, res.stderr
    assert "load order: customers -> orders -> products -> order_lines" in res.stdout


def test_check_reports_every_bad_spec_problem_with_positions(
    demo_project: Path, legacy: tuple[Path, dict[str, Any]], sqlite_db: Database
) -> None:
    spec = demo_project / "mappings" / "specs" / "customers.yaml"
    text = spec.read_text()
    text = text.replace("    transform: [trim, lower]", "    trasform: [trim, lower]")
    text = text.replace("      - collapse_whitespace\n", "      - colapse_whitespace\n")
    text = text.replace("    from: CNTRY", "    from: CNTRYY")
    text = text.replace("    type: decimal(12,2)", "    type: decimal(12;2)")
    spec.write_text(text)
    res = cli.ferryman(
        ["check", "--project", str(demo_project)], demo_project, _env(legacy, sqlite_db.url)
    )
    assert res.returncode == 2, res.stdout + res.stderr
    err = res.stderr
    assert "customers.yaml:" in err
    assert "unknown key 'trasform'. Did you mean 'transform'?" in err
    assert "Did you mean 'collapse_whitespace'?" in err
    assert "decimal(12;2)" in err
    assert "nothing was touched" in err
    lines = [ln for ln in err.splitlines() if ln.startswith("mappings/specs/customers.yaml:")]
    assert len(lines) >= 3, err
    for ln in lines:
        file_, line, col, _ = ln.split(":", 3)
        assert int(line) > 0
        assert int(col) > 0


def test_check_reports_a_default_that_does_not_fit_its_type(
    demo_project: Path, legacy: tuple[Path, dict[str, Any]], sqlite_db: Database
) -> None:
    spec = demo_project / "mappings" / "specs" / "customers.yaml"
    spec.write_text(
        spec.read_text().replace("    from: CNTRY", "    from: CNTRY\n    default: TOO-LONG")
    )
    res = cli.ferryman(
        ["check", "--project", str(demo_project)], demo_project, _env(legacy, sqlite_db.url)
    )
    assert res.returncode == 2
    assert re.search(
        r"customers\.yaml:\d+:\d+: fields\.country_code\.default: value has 8 characters;"
        r" string\(2\) allows 2",
        res.stderr,
    ), res.stderr


def test_check_names_a_missing_source_column(
    demo_project: Path, legacy: tuple[Path, dict[str, Any]], sqlite_db: Database
) -> None:
    spec = demo_project / "mappings" / "specs" / "orders.yaml"
    spec.write_text(spec.read_text().replace("from: ORDDT", "from: ORDDTE"))
    res = cli.ferryman(
        ["check", "--project", str(demo_project)], demo_project, _env(legacy, sqlite_db.url)
    )
    assert res.returncode == 2
    assert "orders.yaml:" in res.stderr
    assert "Did you mean 'ORDDT'?" in res.stderr


def test_run_against_unreachable_database_is_one_line_without_password(
    demo_project: Path, legacy: tuple[Path, dict[str, Any]]
) -> None:
    url = "postgresql://ferry:S3cretPw@127.0.0.1:1/nowhere"
    res = cli.ferryman(["run", "--project", str(demo_project)], demo_project, _env(legacy, url))
    assert res.returncode == 1, res.stderr
    assert "S3cretPw" not in res.stderr + res.stdout
    assert "connection 'target'" in res.stderr
    assert "Traceback" not in res.stderr


def test_run_json_prints_only_the_document_on_stdout_and_status_reads_it_back(
    demo_project: Path, legacy: tuple[Path, dict[str, Any]], sqlite_db: Database
) -> None:
    env = _env(legacy, sqlite_db.url)
    res = cli.ferryman(
        ["run", "--project", str(demo_project), "--json", "--batch-size", "700"], demo_project, env
    )
    assert res.returncode == 0, res.stderr[-3000:]
    doc = json.loads(res.stdout)  # the whole of stdout is one JSON document
    _assert_server_stopped(res.stderr)
    assert doc["state"] == "succeeded"
    for t in doc["tables"].values():
        assert t["read"] == t["loaded"] + t["quarantined"] + t["filtered"]
        assert {"read", "loaded", "quarantined", "filtered", "batches"} <= set(t)
    assert doc["tables"]["order_lines"]["batches"] > 1
    assert Path(doc["report"]).is_file()
    status = cli.ferryman(
        ["status", doc["run_id"], "--project", str(demo_project), "--json"], demo_project, env
    )
    assert status.returncode == 0, status.stderr
    assert (
        json.loads(status.stdout)["tables"]["customers"]["loaded"]
        == doc["tables"]["customers"]["loaded"]
    )
    listing = cli.ferryman(["status", "--project", str(demo_project)], demo_project, env)
    assert doc["run_id"] in listing.stdout


def _assert_server_stopped(stderr: str) -> None:
    """Prefect's temporary API server must not outlive the run that started it."""
    match = re.search(r"Starting temporary server on http://127\.0\.0\.1:(\d+)", stderr)
    assert match, "the run should say where its temporary Prefect server listened"
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex(("127.0.0.1", int(match.group(1)))) != 0, "server still up"


def test_status_of_unknown_run_is_a_usage_error(
    demo_project: Path, legacy: tuple[Path, dict[str, Any]], sqlite_db: Database
) -> None:
    res = cli.ferryman(
        ["status", "nope", "--project", str(demo_project)],
        demo_project,
        _env(legacy, sqlite_db.url),
    )
    assert res.returncode == 2
    assert "no run 'nope'" in res.stderr
