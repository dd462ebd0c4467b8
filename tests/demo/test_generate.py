"""The demo legacy CRM generator: deterministic, and its manifest is exactly what is in
the files. Every check re-derives the truth from the written files with its own small
rules (SQL, regexes, strptime), never through the generator's code."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from demo.generate import generate, main
from demo.manifest import Manifest

SIZE = 300
FORMATS = {"YYYYMMDD": "%Y%m%d", "DD/MM/YYYY": "%d/%m/%Y", "YYYY-MM-DD": "%Y-%m-%d"}
SHAPES = {
    "YYYYMMDD": re.compile(r"^\d{8}$"),
    "DD/MM/YYYY": re.compile(r"^\d{2}/\d{2}/\d{4}$"),
    "YYYY-MM-DD": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
}
DATE_NULLS = {"", "N/A", "0000-00-00"}
EMAIL_NULLS = {"", "N/A"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
MONEY = re.compile(r"^\d{1,3}(,\d{3})*\.\d{2}$")
THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+\.\d{2}$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("legacy")
    return out, generate(out, customers=SIZE, seed=42)


@pytest.fixture(scope="module")
def db(demo: tuple[Path, Manifest]) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(demo[0] / "crm.db")) as con:
        yield con


def rows(con: sqlite3.Connection, table: str) -> list[tuple[Any, ...]]:
    return con.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid").fetchall()


def parses(text: str) -> bool:
    """True when `text` is a real date in one of the three legacy formats."""
    for fmt, shape in SHAPES.items():
        if shape.match(text):
            try:
                datetime.strptime(text, FORMATS[fmt])
            except ValueError:
                return False
            return True
    return False


def planted(manifest: Manifest, table: str) -> dict[str, list[int]]:
    return {k: p.rowids or [] for k, p in manifest.quarantine[table].items() if p.rowids}


def found(hits: dict[int, list[str]]) -> dict[str, list[int]]:
    by_kind: dict[str, list[int]] = {}
    for rowid, kinds in sorted(hits.items()):
        for kind in kinds:
            by_kind.setdefault(kind, []).append(rowid)
    return by_kind


# --- reference quarantine rules, applied to the written database ---------------------------


def customer_defects(con: sqlite3.Connection) -> dict[int, list[str]]:
    hits: dict[int, list[str]] = {}
    seen: set[str] = set()
    for rowid, custno, _f, _l, email, _s, crtdt, crlim, _c in rows(con, "CUSTMAST"):
        kinds = []
        if custno in seen:
            kinds.append("duplicate_key")
        seen.add(custno)
        if crtdt not in DATE_NULLS and not parses(crtdt):
            kinds.append("impossible_date")
        if email not in EMAIL_NULLS and not EMAIL.match(email):
            kinds.append("invalid_email")
        if not MONEY.match(crlim):
            kinds.append("bad_number")
        if kinds:
            hits[rowid] = kinds
    return hits


def order_defects(con: sqlite3.Connection) -> dict[int, list[str]]:
    customers = {r[0] for r in con.execute("SELECT CUSTNO FROM CUSTMAST")}
    hits: dict[int, list[str]] = {}
    for rowid, _ordno, custno, orddt, _sts, _amt in rows(con, "ORDHDR"):
        kinds = ["orphan_customer"] * (custno not in customers)
        kinds += ["impossible_date"] * (not parses(orddt))
        if kinds:
            hits[rowid] = kinds
    return hits


def line_defects(con: sqlite3.Connection) -> dict[int, list[str]]:
    orders = {r[0] for r in con.execute("SELECT ORDNO FROM ORDHDR")}
    hits: dict[int, list[str]] = {}
    for rowid, ordno, _linno, _prod, qty, _price in rows(con, "ORDLIN"):
        kinds = ["orphan_order"] * (ordno not in orders)
        kinds += ["bad_quantity"] * (not qty.isdigit())
        if kinds:
            hits[rowid] = kinds
    return hits


# --- determinism and output -------------------------------------------------------------


OUTPUTS = ("crm.db", "exports/PRODUCTS.CSV", "manifest.json")


def test_same_seed_and_size_give_identical_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", customers=SIZE, seed=7)
    generate(tmp_path / "b", customers=SIZE, seed=7)
    generate(tmp_path / "c", customers=SIZE, seed=8)
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a/crm.db").read_bytes() != (tmp_path / "c/crm.db").read_bytes()


def test_rerun_overwrites_previous_output(tmp_path: Path) -> None:
    generate(tmp_path / "reused", customers=SIZE + 50, seed=1)
    generate(tmp_path / "reused", customers=SIZE, seed=2)
    generate(tmp_path / "fresh", customers=SIZE, seed=2)
    for name in OUTPUTS:
        assert (tmp_path / "reused" / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes()
    assert sorted(p.name for p in (tmp_path / "reused").iterdir()) == [
        "crm.db",
        "exports",
        "manifest.json",
    ]


def test_manifest_file_reads_back_equal(demo: tuple[Path, Manifest]) -> None:
    out, manifest = demo
    assert Manifest.load(out / "manifest.json") == manifest
    assert manifest.seed == 42
    assert manifest.sizes["customers"] == SIZE


def test_zero_customers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate(tmp_path, customers=0, seed=1)
    assert not (tmp_path / "crm.db").exists()


# --- schema and shape ---------------------------------------------------------------------


def test_legacy_schema_is_all_text_without_keys(db: sqlite3.Connection) -> None:
    for table, integers in {
        "CUSTMAST": set(),
        "ORDHDR": {"ORDNO"},
        "ORDLIN": {"ORDNO", "LINNO"},
    }.items():
        info = db.execute(f"PRAGMA table_info({table})").fetchall()
        assert all(col[5] == 0 for col in info), f"{table} has a primary key"
        assert {col[1]: col[2] for col in info} == {
            col[1]: ("INTEGER" if col[1] in integers else "TEXT") for col in info
        }
        assert db.execute(f"PRAGMA foreign_key_list({table})").fetchall() == []


def test_row_counts_match_database(demo: tuple[Path, Manifest], db: sqlite3.Connection) -> None:
    _, manifest = demo
    for table in ("CUSTMAST", "ORDHDR", "ORDLIN"):
        assert (
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == manifest.row_counts[table]
        )
    assert manifest.row_counts["CUSTMAST"] > SIZE  # the duplicates come on top
    assert 2.5 * SIZE < manifest.row_counts["ORDHDR"] < 3.5 * SIZE
    assert 2 * manifest.row_counts["ORDHDR"] < manifest.row_counts["ORDLIN"]


def test_fixed_width_names_and_zero_padded_numbers(db: sqlite3.Connection) -> None:
    bad = db.execute(
        "SELECT rowid FROM CUSTMAST WHERE length(FNAME) != 15 OR length(LNAME) != 20"
        " OR CUSTNO NOT GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][0-9]'"
    ).fetchall()
    assert bad == []
    linnos = db.execute(
        "SELECT ORDNO, group_concat(LINNO)"
        " FROM (SELECT * FROM ORDLIN ORDER BY rowid) GROUP BY ORDNO"
    ).fetchall()
    assert all(nos == ",".join(map(str, range(1, nos.count(",") + 2))) for _, nos in linnos)


def test_header_total_is_the_sum_of_its_lines(db: sqlite3.Connection) -> None:
    totals = db.execute(
        "SELECT h.ORDNO, h.TOTAMT,"
        " sum(CAST(l.QTY AS INTEGER) * CAST(replace(l.UNITPR, ',', '') AS REAL))"
        " FROM ORDHDR h JOIN ORDLIN l USING (ORDNO) GROUP BY h.ORDNO"
        " HAVING sum(l.QTY GLOB '*[^0-9]*') = 0"
    ).fetchall()
    assert len(totals) > SIZE
    for ordno, text, lines in totals:
        assert float(text.replace(",", "")) == pytest.approx(lines), ordno


# --- planted quarantine defects -----------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "rules"),
    [("CUSTMAST", customer_defects), ("ORDHDR", order_defects), ("ORDLIN", line_defects)],
)
def test_quarantine_defects_are_exactly_the_planted_rows(
    demo: tuple[Path, Manifest], db: sqlite3.Connection, table: str, rules: Any
) -> None:
    manifest = demo[1]
    hits = rules(db)
    assert found(hits) == planted(manifest, table)
    assert all(len(kinds) == 1 for kinds in hits.values()), "a row carries two defects"
    keys = {rowid: key for rowid, key in ((r[0], r[1:]) for r in rows(db, table))}
    for kind, p in manifest.quarantine[table].items():
        assert p.count == len(p.keys or []) == len(p.rowids or []) >= 1, kind
        expected = [keys[r][0] if table != "ORDLIN" else list(keys[r][:2]) for r in p.rowids or []]
        assert p.keys == expected, kind


def test_no_row_is_listed_under_two_defects(demo: tuple[Path, Manifest]) -> None:
    for table in ("CUSTMAST", "ORDHDR", "ORDLIN"):
        ids = demo[1].quarantined_rowids(table)
        assert len(ids) == len(set(ids)), table


def test_duplicates_follow_a_clean_first_row(
    demo: tuple[Path, Manifest], db: sqlite3.Connection
) -> None:
    dup = demo[1].quarantine["CUSTMAST"]["duplicate_key"]
    quarantined = set(demo[1].quarantined_rowids("CUSTMAST"))
    for rowid, custno in zip(dup.rowids or [], dup.keys or [], strict=True):
        (first,) = db.execute(
            "SELECT min(rowid) FROM CUSTMAST WHERE CUSTNO = ?", (custno,)
        ).fetchone()
        assert first < rowid
        assert first not in quarantined
        a, b = (
            db.execute("SELECT * FROM CUSTMAST WHERE rowid = ?", (r,)).fetchone()
            for r in (first, rowid)
        )
        assert a != b


def test_cascades_follow_the_quarantined_customers_and_orders(
    demo: tuple[Path, Manifest], db: sqlite3.Connection
) -> None:
    manifest = demo[1]
    bad_rowids = [
        r for k, ids in planted(manifest, "CUSTMAST").items() if k != "duplicate_key" for r in ids
    ]
    bad_customers = {
        db.execute("SELECT CUSTNO FROM CUSTMAST WHERE rowid=?", (r,)).fetchone()[0]
        for r in bad_rowids
    }
    orders = rows(db, "ORDHDR")
    cascaded = [o[1] for o in orders if o[2] in bad_customers]
    assert manifest.cascades["orders_of_defective_customers"] == cascaded
    assert cascaded, "no order of a quarantined customer: the cascade goes untested"
    held = {orders[r - 1][1] for r in manifest.quarantined_rowids("ORDHDR")}
    lines = rows(db, "ORDLIN")
    assert manifest.cascades["lines_of_defective_orders"] == [
        [line[1], line[2]] for line in lines if line[1] in held
    ]
    assert manifest.cascades["lines_of_orders_of_defective_customers"] == [
        [line[1], line[2]] for line in lines if line[1] in set(cascaded)
    ]
    # and no line defect sits on a line that already cascades
    line_defects_keys = {
        tuple(k) for p in manifest.quarantine["ORDLIN"].values() for k in p.keys or []
    }
    assert not line_defects_keys & {line[1:3] for line in lines if line[1] in held | set(cascaded)}


def assert_defects_never_stack(con: sqlite3.Connection, manifest: Manifest) -> None:
    """No order defect on an order of a quarantined customer, no line defect on a line of a
    quarantined or cascaded order: each source row has exactly one reason to be held."""
    bad_customers = {
        con.execute("SELECT CUSTNO FROM CUSTMAST WHERE rowid = ?", (r,)).fetchone()[0]
        for kind, ids in planted(manifest, "CUSTMAST").items()
        if kind != "duplicate_key"
        for r in ids
    }
    orders = rows(con, "ORDHDR")
    for r in manifest.quarantined_rowids("ORDHDR"):
        assert orders[r - 1][2] not in bad_customers, orders[r - 1]
    held = {orders[r - 1][1] for r in manifest.quarantined_rowids("ORDHDR")}
    held |= {o[1] for o in orders if o[2] in bad_customers}
    lines = rows(con, "ORDLIN")
    for r in manifest.quarantined_rowids("ORDLIN"):
        assert lines[r - 1][1] not in held, lines[r - 1]


def test_defects_never_stack(demo: tuple[Path, Manifest], db: sqlite3.Connection) -> None:
    assert_defects_never_stack(db, demo[1])


@pytest.mark.parametrize("customers", [200, 1, 3, 5])
def test_small_demos_still_plant_every_kind(tmp_path: Path, customers: int) -> None:
    manifest = generate(tmp_path, customers=customers, seed=5)
    counts = {(t, k): p.count for t, kinds in manifest.quarantine.items() for k, p in kinds.items()}
    if customers >= 200:
        assert min(counts.values()) >= 1, counts
    with closing(sqlite3.connect(tmp_path / "crm.db")) as con:
        for table, rules in (
            ("CUSTMAST", customer_defects),
            ("ORDHDR", order_defects),
            ("ORDLIN", line_defects),
        ):
            assert found(rules(con)) == planted(manifest, table)
        assert_defects_never_stack(con, manifest)


# --- cleanable values ----------------------------------------------------------------------


def cleanable_counts(
    con: sqlite3.Connection, products: list[dict[str, str]]
) -> dict[str, dict[str, int]]:
    """Each cleanable trait recounted from the raw values."""

    def where(table: str, column: str, test: Any) -> int:
        return sum(1 for (value,) in con.execute(f"SELECT {column} FROM {table}") if test(value))

    def dates(table: str, column: str) -> dict[str, int]:
        return {
            f"date_format:{column}:{fmt}": where(
                table, column, lambda x, s=shape: x not in DATE_NULLS and s.match(x)
            )
            for fmt, shape in SHAPES.items()
        }

    counts = {
        "CUSTMAST": {
            **dates("CUSTMAST", "CRTDT"),
            "mixed_case:EMAIL": where(
                "CUSTMAST", "EMAIL", lambda x: x not in EMAIL_NULLS and x != x.lower()
            ),
            "null_marker:CRTDT": where("CUSTMAST", "CRTDT", lambda x: x in DATE_NULLS),
            "null_marker:EMAIL": where("CUSTMAST", "EMAIL", lambda x: x in EMAIL_NULLS),
            "padded:FNAME": where("CUSTMAST", "FNAME", lambda x: x != x.rstrip()),
            "padded:LNAME": where("CUSTMAST", "LNAME", lambda x: x != x.rstrip()),
            "thousands_separator:CRLIM": where("CUSTMAST", "CRLIM", THOUSANDS.match),
            "unknown_status:STAT": where("CUSTMAST", "STAT", lambda x: x not in "AISC"),
        },
        "ORDHDR": {
            **dates("ORDHDR", "ORDDT"),
            "thousands_separator:TOTAMT": where("ORDHDR", "TOTAMT", THOUSANDS.match),
        },
        "ORDLIN": {"thousands_separator:UNITPR": where("ORDLIN", "UNITPR", THOUSANDS.match)},
        "PRODUCTS": {
            "cp1252_text:DESCR": sum(not p["DESCR"].isascii() for p in products),
            "quoted:DESCR": sum("," in p["DESCR"] or '"' in p["DESCR"] for p in products),
            "thousands_separator:PRICE": sum(bool(THOUSANDS.match(p["PRICE"])) for p in products),
        },
    }
    return {t: {k: n for k, n in c.items() if n} for t, c in counts.items()}


def read_products(out: Path) -> list[dict[str, str]]:
    with (out / "exports/PRODUCTS.CSV").open(encoding="cp1252", newline="") as f:
        return list(csv.DictReader(f))


def test_cleanable_counts_match_raw_values(
    demo: tuple[Path, Manifest], db: sqlite3.Connection
) -> None:
    out, manifest = demo
    listed = {t: {k: p.count for k, p in kinds.items()} for t, kinds in manifest.cleanable.items()}
    assert listed == cleanable_counts(db, read_products(out))
    customers = listed["CUSTMAST"]
    assert 0 < customers["padded:FNAME"] < manifest.row_counts["CUSTMAST"]  # some fill the width
    assert 0 < customers["thousands_separator:CRLIM"] < manifest.row_counts["CUSTMAST"]
    assert all(customers[f"date_format:CRTDT:{f}"] > 50 for f in FORMATS)


def test_keyed_cleanables_sit_only_on_rows_that_load(
    demo: tuple[Path, Manifest], db: sqlite3.Connection
) -> None:
    manifest = demo[1]
    for table in ("CUSTMAST", "ORDHDR", "ORDLIN"):
        quarantined = set(manifest.quarantined_rowids(table))
        for kind, p in manifest.cleanable[table].items():
            assert not quarantined & set(p.rowids or []), (table, kind)
    for mark, column, values in (
        ("null_marker:EMAIL", "EMAIL", EMAIL_NULLS),
        ("unknown_status:STAT", "STAT", {"Z"}),
    ):
        p = manifest.cleanable["CUSTMAST"][mark]
        actual = [
            r
            for r, v in db.execute(f"SELECT rowid, {column} FROM CUSTMAST ORDER BY rowid")
            if v in values
        ]
        assert p.rowids == actual, mark


# --- the cp1252 export --------------------------------------------------------------------


def test_products_export_is_cp1252_with_crlf(demo: tuple[Path, Manifest]) -> None:
    data = (demo[0] / "exports/PRODUCTS.CSV").read_bytes()
    assert b"\x80" in data  # €, as cp1252 writes it
    assert b"\xe9" in data  # é
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("cp1252")
    assert all(c in text for c in "€éüß’–")
    assert data.count(b"\r\n") == data.count(b"\n") == 201
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == ["PRODCD", "DESCR", "PRICE", "CATEG"]
    assert all(
        len(r) == 4 and r[3] in {"HW", "SW", "SV", "AC"} and MONEY.match(r[2]) for r in parsed[1:]
    )
    assert any("," in r[1] for r in parsed[1:])
    assert any('"' in r[1] for r in parsed[1:])


def test_lines_reference_only_exported_products(
    demo: tuple[Path, Manifest], db: sqlite3.Connection
) -> None:
    codes = {p["PRODCD"] for p in read_products(demo[0])}
    used = {r[0] for r in db.execute("SELECT DISTINCT PRODCD FROM ORDLIN")}
    assert used
    assert used <= codes


# --- clean examples -----------------------------------------------------------------------


def test_examples_match_the_data_and_a_reference_mapping(
    demo: tuple[Path, Manifest], db: sqlite3.Connection
) -> None:
    manifest = demo[1]
    assert manifest.codes["date_formats"] == FORMATS
    stat = manifest.codes["STAT"]
    customers = manifest.examples["CUSTMAST"]
    assert len(customers) >= 3
    assert {
        e.raw["CRTDT"] and next(f for f, s in SHAPES.items() if s.match(e.raw["CRTDT"]))
        for e in customers
    } >= set(FORMATS)
    for e in customers:
        row = db.execute("SELECT * FROM CUSTMAST WHERE rowid = ?", (e.rowid,)).fetchone()
        assert list(row) == list(e.raw.values())
        raw = e.raw
        crtdt = raw["CRTDT"]
        expected = {
            "FNAME": raw["FNAME"].strip(),
            "LNAME": raw["LNAME"].strip(),
            "EMAIL": None if raw["EMAIL"] in EMAIL_NULLS else raw["EMAIL"].lower(),
            "STAT": stat[raw["STAT"]],
            "CRTDT": None
            if crtdt in DATE_NULLS
            else next(
                datetime.strptime(crtdt, FORMATS[f]).date().isoformat()
                for f, s in SHAPES.items()
                if s.match(crtdt)
            ),
            "CRLIM": raw["CRLIM"].replace(",", ""),
            "CNTRY": raw["CNTRY"],
        }
        assert e.clean == expected
    for e in manifest.examples["ORDHDR"]:
        assert e.clean["TOTAMT"] == e.raw["TOTAMT"].replace(",", "")
        assert e.clean["ORDSTS"] == manifest.codes["ORDSTS"][e.raw["ORDSTS"]]
        assert e.key not in manifest.cascades["orders_of_defective_customers"]
    assert all(e.clean["QTY"] == int(e.raw["QTY"]) for e in manifest.examples["ORDLIN"])
    assert any(not e.raw["DESCR"].isascii() for e in manifest.examples["PRODUCTS"])
    for e in manifest.examples["PRODUCTS"]:
        assert e.clean["CATEG"] == manifest.codes["CATEG"][e.raw["CATEG"]]
        assert e.clean["PRICE"] == e.raw["PRICE"].replace(",", "")


# --- the command line ---------------------------------------------------------------------


def test_cli_prints_one_line_per_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--customers", "50", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    manifest = Manifest.load(tmp_path / "manifest.json")
    assert len(lines) == 5
    assert lines[0] == f"{tmp_path / 'crm.db'} CUSTMAST: {manifest.row_counts['CUSTMAST']} rows"
    assert lines[3] == f"{tmp_path / 'exports/PRODUCTS.CSV'}: 200 rows"


def test_cli_refuses_a_non_positive_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path), "--customers", "0"])
    assert exit_info.value.code == 2
    assert "--customers: must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "crm.db").exists()
