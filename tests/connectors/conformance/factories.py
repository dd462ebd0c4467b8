"""One fixture factory per source kind: the same 25-row dataset, written in that format.

To put a new source kind through the conformance suite, write a `SourceFactory` for it
and add it to `SOURCE_FACTORIES` under the kind's registry name. A registered source kind
without a factory fails `test_every_source_kind_has_a_factory`.

Every value of the dataset is text without leading/trailing blanks or line breaks, so
that every format (fixed-width included) can hold it exactly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COLUMNS = ["id", "name", "amount", "note"]
_NAMES = ["Ada", "Zoë", "O'Brien", "Müller, Jörg", 'Say "hi"', "李雷", "Ñandú", "x;y|z"]
ROWS: list[dict[str, str]] = [
    {
        "id": f"{i:03d}",
        "name": _NAMES[i % len(_NAMES)],
        "amount": f"{i * 12.5:.2f}",
        "note": "" if i % 5 == 0 else f"note {i}, with comma",
    }
    for i in range(1, 26)
]


@dataclass(frozen=True)
class SourceFixture:
    """What a factory hands the suite: connection options (as in ferryman.yaml, without
    `kind`), the stream holding the rows, and how many records are in it."""

    options: dict[str, Any]
    stream: str
    records: int
    good: int
    """Records that must come back as rows (the others must come back as rejects)."""


@dataclass(frozen=True)
class SourceFactory:
    """Writes fixtures for one kind under a temporary folder."""

    write: Callable[[Path, list[dict[str, str]]], SourceFixture]
    """Write these rows (maybe none) and return the fixture."""
    write_bad: Callable[[Path], SourceFixture] | None = None
    """Write a stream with good and malformed records (None: the kind has no such thing)."""


# --- csv -------------------------------------------------------------------------------


def _csv_quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v


def _csv(tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
    lines = [",".join(COLUMNS)] + [",".join(_csv_quote(r[c]) for c in COLUMNS) for r in rows]
    (tmp / "people.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    return SourceFixture({"path": str(tmp)}, "people.csv", len(rows), len(rows))


def _csv_bad(tmp: Path) -> SourceFixture:
    data = b'a,b\n1,x\n2,y,extra\n3,caf\xe9\n4,\x00\n5,z\n6,"open\n'
    (tmp / "bad.csv").write_bytes(data)
    return SourceFixture({"path": str(tmp)}, "bad.csv", 6, 2)


# --- fixed_width -----------------------------------------------------------------------

_WIDTHS = {"id": 3, "name": 16, "amount": 8, "note": 20}


def _fixed_layout() -> list[dict[str, Any]]:
    layout, start = [], 1
    for name, width in _WIDTHS.items():
        layout.append({"name": name, "start": start, "length": width})
        start += width
    return layout


def _fixed(tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
    lines = ["".join(r[c].ljust(w) for c, w in _WIDTHS.items()) for r in rows]
    (tmp / "people.dat").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    options = {"path": str(tmp), "layout": _fixed_layout(), "base": 1}
    return SourceFixture(options, "people.dat", len(rows), len(rows))


def _fixed_bad(tmp: Path) -> SourceFixture:
    good = "001" + "Ada".ljust(16) + "1.00".ljust(8) + "ok".ljust(20)
    lines = [good, good + "SPILLS OVER", "002" + "caf\udce9".ljust(16), good]
    data = b"".join(line.encode("utf-8", "surrogateescape") + b"\r" for line in lines)
    (tmp / "bad.dat").write_bytes(data)
    options = {"path": str(tmp), "layout": _fixed_layout(), "base": 1}
    return SourceFixture(options, "bad.dat", 4, 2)


# --- sql (SQLite file) -----------------------------------------------------------------


def _sql(tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
    db = tmp / "src.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT, amount TEXT, note TEXT)")
        conn.executemany(
            "INSERT INTO people VALUES (?, ?, ?, ?)", [tuple(r[c] for c in COLUMNS) for r in rows]
        )
    conn.close()
    return SourceFixture({"url": f"sqlite:///{db}"}, "people", len(rows), len(rows))


@dataclass(frozen=True)
class SourceVariant:
    """A further configuration of a registered source kind that must pass the suite too."""

    kind: str
    id: str
    write: Callable[[Any, Path, list[dict[str, str]]], SourceFixture]
    """(pytest request, tmp_path, rows) -> fixture; may use the fixtures of tests/conftest.py."""


def _sql_server(fixture: str | None, partition: dict[str, Any] | None) -> Any:
    """The dataset in a table of a scratch database (SQLite file when `fixture` is None)."""

    def write(request: Any, tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
        import sqlalchemy as sa

        url = request.getfixturevalue(fixture).url if fixture else f"sqlite:///{tmp / 'src.db'}"
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "CREATE TABLE people (id VARCHAR(8) PRIMARY KEY, name VARCHAR(40),"
                        " amount VARCHAR(20), note VARCHAR(40))"
                    )
                )
                if rows:
                    conn.execute(
                        sa.text(
                            "INSERT INTO people (id, name, amount, note)"
                            " VALUES (:id, :name, :amount, :note)"
                        ),
                        rows,
                    )
        finally:
            engine.dispose()
        options: dict[str, Any] = {"url": url}
        if partition:
            options["partition"] = partition
        return SourceFixture(options, "people", len(rows), len(rows))

    return write


SOURCE_VARIANTS: list[SourceVariant] = [
    SourceVariant("sql", "sqlite-ranges", _sql_server(None, {"ranges": 4})),
    SourceVariant("sql", "postgres", _sql_server("postgres_db", None)),
    SourceVariant("sql", "postgres-ranges", _sql_server("postgres_db", {"ranges": 4})),
    SourceVariant("sql", "mariadb", _sql_server("mariadb_db", None)),
    SourceVariant("sql", "mariadb-ranges", _sql_server("mariadb_db", {"ranges": 4})),
]


# --- ebcdic (COBOL copybook records) ----------------------------------------------------

# The dataset holds CJK names, which no single-byte EBCDIC page can: the text items are
# UTF-8 here (a copybook-described ASCII-family file); `amount` is packed decimal.
_COPYBOOK = """\
       01  PERSON.
           05  id       PIC X(3).
           05  name     PIC X(16).
           05  amount   PIC 9(5)V99 COMP-3.
           05  note     PIC X(20).
"""


def _text(value: str, size: int) -> bytes:
    return value.encode("utf-8").ljust(size, b" ")


def _person(r: dict[str, str]) -> bytes:
    cents = int(r["amount"].replace(".", ""))
    amount = bytes.fromhex(f"{cents:07d}F")
    return _text(r["id"], 3) + _text(r["name"], 16) + amount + _text(r["note"], 20)


def _ebcdic(tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
    (tmp / "PERSON.cpy").write_text(_COPYBOOK)
    (tmp / "PEOPLE.DAT").write_bytes(b"".join(_person(r) for r in rows))
    options = {"path": str(tmp), "copybook": "PERSON.cpy", "code_page": "utf-8"}
    return SourceFixture(options, "PEOPLE.DAT", len(rows), len(rows))


def _ebcdic_bad(tmp: Path) -> SourceFixture:
    good = _person({"id": "001", "name": "Ada", "amount": "1.00", "note": "ok"})
    bad_packed = good[:19] + b"\x00\x0a\x10\x0f" + good[23:]
    bad_text = b"\xff" + good[1:]  # not UTF-8
    data = good + bad_packed + bad_text + good + good[:10]  # the last record is truncated
    fx = _ebcdic(tmp, [])
    (tmp / "BAD.DAT").write_bytes(data)
    return SourceFixture(fx.options, "BAD.DAT", 5, 2)


# --- dbf (dBase III) -------------------------------------------------------------------

_DBF_FIELDS = [("id", "C", 3), ("name", "C", 16), ("amount", "N", 8), ("note", "C", 20)]


def _dbf_table(path: Path, fields: list[tuple[str, str, int]], records: list[bytes]) -> None:
    """A dBase III table; each record is its bytes including the deletion flag."""
    length = 1 + sum(f[2] for f in fields)
    head = bytes([0x03, 124, 1, 1]) + len(records).to_bytes(4, "little")
    head += (32 + 32 * len(fields) + 1).to_bytes(2, "little") + length.to_bytes(2, "little")
    head += bytes(20)
    for name, kind, size in fields:
        decimals = 2 if kind == "N" else 0
        head += name.encode().ljust(11, b"\0") + kind.encode() + bytes(4)
        head += bytes([size, decimals]) + bytes(14)
    path.write_bytes(head + b"\r" + b"".join(records) + b"\x1a")


def _dbf_record(r: dict[str, str]) -> bytes:
    cells = [r[name].encode("utf-8") for name, _, _ in _DBF_FIELDS]
    sizes = [size for _, _, size in _DBF_FIELDS]
    padded = [c.rjust(n) if name == "amount" else c.ljust(n)
              for c, n, (name, _, _) in zip(cells, sizes, _DBF_FIELDS, strict=True)]  # fmt: skip
    return b" " + b"".join(padded)


def _dbf(tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
    # The dataset holds CJK and Latin names together: a UTF-8 table (as modern writers make).
    _dbf_table(tmp / "people.dbf", _DBF_FIELDS, [_dbf_record(r) for r in rows])
    return SourceFixture(
        {"path": str(tmp), "encoding": "utf-8"}, "people.dbf", len(rows), len(rows)
    )


def _dbf_bad(tmp: Path) -> SourceFixture:
    fields = [("id", "C", 3), ("born", "D", 8)]
    records = [
        b" 00120240101",
        b" 00220241301",
        b"*00320240101",
        b" \xff\xfe020240101",
        b" 005        ",
    ]
    _dbf_table(tmp / "bad.dbf", fields, records)
    # 5 records, 1 deleted (not a row, not counted), 1 impossible date, 1 not UTF-8
    return SourceFixture({"path": str(tmp), "encoding": "utf-8"}, "bad.dbf", 4, 2)


# --- jsonl -----------------------------------------------------------------------------


def _jsonl(tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (tmp / "people.jsonl").write_text(text, encoding="utf-8")
    options: dict[str, Any] = {"path": str(tmp)}
    if not rows:  # a file without rows has no keys to learn the columns from: name them
        options["columns"] = {c: c for c in COLUMNS}
    return SourceFixture(options, "people.jsonl", len(rows), len(rows))


def _jsonl_bad(tmp: Path) -> SourceFixture:
    data = b'{"a": 1}\n{"a": 2,\n\n[3]\n{"a": "caf\xe9"}\n{"a": 5}\n'
    (tmp / "bad.jsonl").write_bytes(data)
    return SourceFixture({"path": str(tmp)}, "bad.jsonl", 5, 2)  # the blank line is no record


# --- parquet ---------------------------------------------------------------------------


def _parquet(tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in COLUMNS})
    pq.write_table(table, tmp / "people.parquet", row_group_size=4)  # several row groups
    return SourceFixture({"path": str(tmp)}, "people.parquet", len(rows), len(rows))


# --- excel -----------------------------------------------------------------------------


def _xlsx(path: Path, rows: list[list[Any]]) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    wb.save(path)


def _excel(tmp: Path, rows: list[dict[str, str]]) -> SourceFixture:
    _xlsx(tmp / "people.xlsx", [COLUMNS] + [[r[c] for c in COLUMNS] for r in rows])
    return SourceFixture({"path": str(tmp)}, "people.xlsx", len(rows), len(rows))


def _excel_bad(tmp: Path) -> SourceFixture:
    rows: list[list[Any]] = [["a", "b"], [1, "x"], [2, "#N/A"], [None, None], [3, "#DIV/0!"]]
    rows.append([4, "y"])
    _xlsx(tmp / "bad.xlsx", rows)
    return SourceFixture({"path": str(tmp)}, "bad.xlsx", 4, 2)  # the empty row is no record


SOURCE_FACTORIES: dict[str, SourceFactory] = {
    "sql": SourceFactory(_sql),
    "csv": SourceFactory(_csv, _csv_bad),
    "fixed_width": SourceFactory(_fixed, _fixed_bad),
    "ebcdic": SourceFactory(_ebcdic, _ebcdic_bad),
    "dbf": SourceFactory(_dbf, _dbf_bad),
    "jsonl": SourceFactory(_jsonl, _jsonl_bad),
    "parquet": SourceFactory(_parquet),
    "excel": SourceFactory(_excel, _excel_bad),
}


# === targets ===========================================================================
#
# To put a new target kind through the conformance suite (tests/connectors/conformance/
# test_targets.py runs `ferryman.connectors.testing`), add one
# `TargetFactory` per engine it can write to under the kind's registry name in
# `TARGET_FACTORIES`. A registered target kind without one fails
# `test_every_target_kind_has_a_factory`.

SECRET = "hunter2-conformance"
"""The password in every `unreachable` URL: no error message may show it."""


@dataclass(frozen=True)
class TargetFactory:
    """A scratch place one target kind writes to, on one engine."""

    id: str
    options: Callable[[Any, Path], dict[str, Any]]
    """(pytest request, tmp_path) -> connection options of an empty scratch database, as
    in ferryman.yaml without `kind`. May use the fixtures of tests/conftest.py, which skip
    (or fail, with FERRYMAN_REQUIRE_SERVICES=1) when a server is absent."""
    unreachable: dict[str, Any]
    """Connection options that cannot connect; a URL carrying SECRET as its password where
    the engine has passwords."""
    known_gaps: dict[str, str] | None = None
    """Test name -> why this target does not meet that part of the contract yet. The test
    then runs as a strict xfail: once the gap is closed the test fails as XPASS, and the
    entry must go."""


def _db_options(fixture: str) -> Callable[[Any, Path], dict[str, Any]]:
    def options(request: Any, tmp_path: Path) -> dict[str, Any]:
        return {"url": request.getfixturevalue(fixture).url}

    return options


TARGET_FACTORIES: dict[str, list[TargetFactory]] = {
    "sql": [
        TargetFactory(
            "sqlite",
            _db_options("sqlite_db"),
            {"url": "sqlite:////nonexistent-ferryman-dir/sub/target.db"},
        ),
        TargetFactory(
            "postgres",
            _db_options("postgres_db"),
            {"url": f"postgresql://ferry:{SECRET}@127.0.0.1:1/nowhere"},
        ),
        TargetFactory(
            "mariadb",
            _db_options("mariadb_db"),
            {"url": f"mysql://ferry:{SECRET}@127.0.0.1:1/nowhere"},
        ),
    ],
}
