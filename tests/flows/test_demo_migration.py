"""The demo migration through the real Prefect flow, on SQLite, PostgreSQL and MariaDB:
counts, the accounting equation, transformed values and quarantine reasons, compared with
what the generator planted (its manifest)."""

from __future__ import annotations

import decimal
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ferryman.flows.prefect_flows import migrate
from tests.conftest import Database
from tests.flows.conftest import point_at

pytestmark = pytest.mark.usefixtures("prefect_harness")

LEGACY_TABLES = {
    "customers": "CUSTMAST",
    "orders": "ORDHDR",
    "order_lines": "ORDLIN",
    "products": "PRODUCTS",
}


def _quarantine(db: Database, run_id: str, table: str) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        rows = (
            conn.execute(
                sa.text(
                    "SELECT source_position, column_name, raw_value, rule, message, source_row"
                    " FROM ferryman_quarantine WHERE run_id = :r AND table_name = :t"
                ),
                {"r": run_id, "t": table},
            )
            .mappings()
            .all()
        )
    return [{**r, "source_row": json.loads(r["source_row"])} for r in rows]


def _rowids(entries: list[dict[str, Any]], legacy_table: str, rule: str | None = None) -> set[int]:
    out = set()
    for e in entries:
        if rule is None or e["rule"] == rule:
            assert e["source_position"].startswith(f"{legacy_table} rowid=")
            out.add(int(e["source_position"].split("=", 1)[1]))
    return out


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_demo_migration_accounts_for_every_row(
    any_db: Database,
    demo_project: Path,
    legacy: tuple[Path, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, manifest = legacy
    point_at(monkeypatch, any_db)
    summary = migrate(str(demo_project))

    assert summary["state"] == "succeeded", summary["error"]
    assert list(summary["tables"]) == ["customers", "orders", "products", "order_lines"]
    for table, legacy_table in LEGACY_TABLES.items():
        t = summary["tables"][table]
        assert t["read"] == manifest["row_counts"][legacy_table], table
        assert t["read"] == t["loaded"] + t["quarantined"] + t["filtered"], table
        assert _count(any_db, table) == t["loaded"], table

    q = manifest["quarantine"]
    cascades = manifest["cascades"]
    customers = _quarantine(any_db, summary["run_id"], "customers")
    assert _rowids(customers, "CUSTMAST", "duplicate_key") == set(
        q["CUSTMAST"]["duplicate_key"]["rowids"]
    )
    assert _rowids(customers, "CUSTMAST", "parse_date") == set(
        q["CUSTMAST"]["impossible_date"]["rowids"]
    )
    assert _rowids(customers, "CUSTMAST", "parse_number") == set(
        q["CUSTMAST"]["bad_number"]["rowids"]
    )
    assert _rowids(customers, "CUSTMAST", "expect_column_values_to_match_regex") == set(
        q["CUSTMAST"]["invalid_email"]["rowids"]
    )
    planted = {r for kind in q["CUSTMAST"].values() for r in kind["rowids"]}
    assert _rowids(customers, "CUSTMAST") == planted
    assert summary["tables"]["customers"]["quarantined"] == len(planted)

    orders = _quarantine(any_db, summary["run_id"], "orders")
    assert _rowids(orders, "ORDHDR", "parse_date") == set(q["ORDHDR"]["impossible_date"]["rowids"])
    fk_orders = {e["source_row"]["ORDNO"] for e in orders if e["rule"] == "foreign_key"}
    assert fk_orders == set(q["ORDHDR"]["orphan_customer"]["keys"]) | set(
        cascades["orders_of_defective_customers"]
    )

    lines = _quarantine(any_db, summary["run_id"], "order_lines")
    assert _rowids(lines, "ORDLIN", "cast:integer") == set(q["ORDLIN"]["bad_quantity"]["rowids"])
    expected_orphans = (
        {tuple(k) for k in q["ORDLIN"]["orphan_order"]["keys"]}
        | {tuple(k) for k in cascades["lines_of_defective_orders"]}
        | {tuple(k) for k in cascades["lines_of_orders_of_defective_customers"]}
    )
    fk_lines = {
        (e["source_row"]["ORDNO"], e["source_row"]["LINNO"])
        for e in lines
        if e["rule"] == "foreign_key"
    }
    assert fk_lines == expected_orphans
    assert summary["tables"]["order_lines"]["quarantined"] == len(expected_orphans) + len(
        q["ORDLIN"]["bad_quantity"]["rowids"]
    )
    for entry in customers + orders + lines:
        assert entry["message"], entry


def test_demo_values_are_cleaned_as_the_manifest_says(
    sqlite_db: Database,
    demo_project: Path,
    legacy: tuple[Path, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, manifest = legacy
    point_at(monkeypatch, sqlite_db)
    summary = migrate(str(demo_project))
    assert summary["state"] == "succeeded"
    md = sa.MetaData()
    customers = sa.Table("customers", md, autoload_with=sqlite_db.engine)
    for example in manifest["examples"]["CUSTMAST"]:
        clean = example["clean"]
        with sqlite_db.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(customers).where(customers.c.customer_id == int(example["key"]))
                )
                .mappings()
                .one()
            )
        assert row["first_name"] == clean["FNAME"]
        assert row["last_name"] == clean["LNAME"]
        assert row["full_name"] == f"{clean['FNAME']} {clean['LNAME']}"
        assert row["email"] == clean["EMAIL"]
        assert row["status"] == clean["STAT"]
        created = row["created_on"]
        assert (str(created) if created is not None else None) == clean["CRTDT"]
        assert decimal.Decimal(str(row["credit_limit"])) == decimal.Decimal(clean["CRLIM"])
        assert row["country_code"] == clean["CNTRY"]
        assert row["source_system"] == "CRM-LEGACY"
    # null markers become NULL (declared, not silent): their rows load with a NULL email
    null_emails = manifest["cleanable"]["CUSTMAST"]["null_marker:EMAIL"]["keys"]
    with sqlite_db.engine.connect() as conn:
        emails = (
            conn.execute(
                sa.select(customers.c.email).where(
                    customers.c.customer_id.in_([int(k) for k in null_emails])
                )
            )
            .scalars()
            .all()
        )
    assert len(emails) == len(null_emails)
    assert all(e is None for e in emails)
