"""The run ledger: ferryman's control tables in the target database.

`ferryman_runs` has one row per run, `ferryman_batches` one row per committed batch (the
checkpoint: a resumed run continues after the last one), `ferryman_quarantine` one row per
reason a source row was held back. A batch's rows, its quarantine rows and its ledger row
are written in ONE target transaction by `ferryman.flows.batch.load`, so the ledger never claims a
batch
the target does not hold, nor the reverse.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

from ferryman.connectors.base import Position, Reject, Target

PREFIX = "ferryman_"

RUN_STATES = (
    "running",
    "succeeded",
    "failed",
    "stopped_by_gate",
    "rolling_back",
    "rolled_back",
    "partially_rolled_back",
)
TABLE_STATES = ("pending", "prepared", "loading", "done", "rolled_back")


def _long_text() -> sa.types.TypeEngine[str]:
    # MariaDB's TEXT holds 64 KiB; a batch's journal entry can be megabytes.
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def control_metadata(schema: str | None = None) -> sa.MetaData:
    """The control tables' definitions (one MetaData per target schema)."""
    md = sa.MetaData(schema=schema)
    sa.Table(
        f"{PREFIX}runs",
        md,
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("specs_digest", sa.String(64), nullable=False),
        sa.Column("tables", sa.Text, nullable=False),
        sa.Column("flow_run_id", sa.String(40)),
        sa.Column("error", sa.Text),
        sa.Column("summary", sa.Text),
    )
    sa.Table(
        f"{PREFIX}batches",
        md,
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("table_name", sa.String(128), primary_key=True),
        sa.Column("batch_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("start_rows", sa.BigInteger, nullable=False),
        sa.Column("end_position", sa.Text, nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_loaded", sa.Integer, nullable=False),
        sa.Column("rows_quarantined", sa.Integer, nullable=False),
        sa.Column("rows_filtered", sa.Integer, nullable=False),
        sa.Column("rows_inserted", sa.Integer, nullable=False, default=0),
        sa.Column("rows_updated", sa.Integer, nullable=False, default=0),
        sa.Column("rows_unchanged", sa.Integer, nullable=False, default=0),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("committed_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(32), nullable=False, default="committed"),
        sa.Column("rolled_back_at", sa.DateTime),
        # Column aggregates of the rows the batch wrote (JSON), for reconciliation.
        sa.Column("aggregates", _long_text()),
    )
    sa.Table(
        f"{PREFIX}tables",
        md,
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("table_name", sa.String(128), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("key_columns", sa.Text, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        f"{PREFIX}journal",
        md,
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("table_name", sa.String(128), primary_key=True),
        sa.Column("batch_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("op", sa.String(10), nullable=False),
        sa.Column("payload", _long_text(), nullable=False),
    )
    sa.Table(
        f"{PREFIX}fingerprints",
        md,
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("table_name", sa.String(128), primary_key=True),
        sa.Column("phase", sa.String(10), primary_key=True),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(16), nullable=False),
        sa.Column("taken_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        f"{PREFIX}locks",
        md,
        sa.Column("table_name", sa.String(128), primary_key=True),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        f"{PREFIX}keymap",
        md,
        # legacy-key -> new-key of `surrogate:` fields; written in the batch's transaction,
        # tagged with the run and batch that made each assignment so rollback removes it.
        # legacy_key is VARCHAR(500), not TEXT: MariaDB cannot index a TEXT column whole.
        sa.Column("table_name", sa.String(128), primary_key=True),
        sa.Column("legacy_key", sa.String(500), primary_key=True),
        sa.Column("new_key", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.UniqueConstraint("table_name", "new_key", name=f"ux_{PREFIX}keymap_new_key"),
    )
    sa.Table(
        f"{PREFIX}quarantine",
        md,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("run_id", sa.String(40), nullable=False, index=True),
        sa.Column("table_name", sa.String(128), nullable=False),
        sa.Column("batch_no", sa.Integer, nullable=False),
        sa.Column("source_position", sa.String(500), nullable=False),
        sa.Column("column_name", sa.String(128)),
        sa.Column("raw_value", sa.Text),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("source_row", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        # The run that replayed this row from a fixed export (`ferryman quarantine replay`).
        sa.Column("replayed_in", sa.String(40)),
    )
    sa.Table(
        f"{PREFIX}replays",
        md,
        # A run that loads fixed quarantine rows of an earlier run: written before it starts,
        # so a replay is known as one even if it is killed (it cannot be resumed).
        sa.Column("run_id", sa.String(40), primary_key=True),
        sa.Column("replay_of", sa.String(40), nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("tables", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
    )
    return md


@dataclass(frozen=True)
class BatchRecord:
    """What the ledger keeps of one committed batch."""

    table: str
    batch_no: int
    start_rows: int
    end: Position
    read: int
    loaded: int
    quarantined: int
    filtered: int
    seconds: float
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    state: str = "committed"
    aggregates: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    mode: str
    state: str
    project: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    specs_digest: str
    tables: list[str]
    flow_run_id: str | None
    error: str | None
    summary: dict[str, Any] | None


class Ledger:
    """Reads and writes the control tables through connections the caller provides."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.md = control_metadata(target.schema)
        self.runs = self.md.tables[self._key("runs")]
        self.batches = self.md.tables[self._key("batches")]
        self.quarantine = self.md.tables[self._key("quarantine")]
        self.tables = self.md.tables[self._key("tables")]
        self.journal = self.md.tables[self._key("journal")]
        self.fingerprints = self.md.tables[self._key("fingerprints")]
        self.locks = self.md.tables[self._key("locks")]
        self.keymap = self.md.tables[self._key("keymap")]
        self.replays = self.md.tables[self._key("replays")]

    def begin(self) -> AbstractContextManager[Connection]:
        """A transaction of its own on the target (committed on a clean exit)."""
        return self.target.begin()

    def connect(self) -> AbstractContextManager[Connection]:
        """A connection for reads on the target."""
        return self.target.connect()

    def _key(self, name: str) -> str:
        schema = self.md.schema
        return f"{schema}.{PREFIX}{name}" if schema else f"{PREFIX}{name}"

    def install(self) -> None:
        """Create the control tables that are missing (idempotent)."""
        with self.begin() as conn:
            self.md.create_all(conn, checkfirst=True)
            self._add_missing_columns(conn)

    def _add_missing_columns(self, conn: Connection) -> None:
        """Control tables made by an older ferryman lack the nullable columns added since."""
        for table, column in ((self.batches, "aggregates"), (self.quarantine, "replayed_in")):
            have = {c["name"] for c in sa.inspect(conn).get_columns(table.name, self.md.schema)}
            if column not in have:
                kind = table.c[column].type.compile(dialect=conn.dialect)
                name = conn.dialect.identifier_preparer.format_table(table)
                conn.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN {column} {kind}"))

    def exists(self) -> bool:
        with self.connect() as conn:
            return self.target.has_table(conn, f"{PREFIX}runs")

    # --- runs -----------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        mode: str,
        project: str,
        digest: str,
        tables: Sequence[str],
        flow_run_id: str | None,
    ) -> None:
        with self.begin() as conn:
            conn.execute(
                self.runs.insert().values(
                    run_id=run_id,
                    mode=mode,
                    state="running",
                    project=project,
                    started_at=_now(),
                    specs_digest=digest,
                    tables=json.dumps(list(tables)),
                    flow_run_id=flow_run_id,
                )
            )

    def finish_run(
        self, run_id: str, state: str, summary: dict[str, Any], error: str | None = None
    ) -> None:
        assert state in RUN_STATES, state
        with self.begin() as conn:
            conn.execute(
                self.runs.update()
                .where(self.runs.c.run_id == run_id)
                .values(
                    state=state,
                    finished_at=_now(),
                    summary=json.dumps(summary, default=str),
                    error=error,
                )
            )

    def update_summary(self, run_id: str, summary: dict[str, Any]) -> None:
        """Rewrite a finished run's summary, leaving its state alone."""
        with self.begin() as conn:
            conn.execute(
                self.runs.update()
                .where(self.runs.c.run_id == run_id)
                .values(summary=json.dumps(summary, default=str))
            )

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.connect() as conn:
            row = conn.execute(sa.select(self.runs).where(self.runs.c.run_id == run_id)).first()
        return _run_record(row) if row else None

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        with self.connect() as conn:
            rows = conn.execute(
                sa.select(self.runs)
                .order_by(self.runs.c.started_at.desc(), self.runs.c.run_id.desc())
                .limit(limit)
            ).all()
        return [_run_record(r) for r in rows]

    def replay_record(self, run_id: str) -> dict[str, Any] | None:
        """What `run_id` replays (`replay_of`, `file`, ...), or None when it is no replay."""
        with self.connect() as conn:
            if not sa.inspect(conn).has_table(self.replays.name, schema=self.md.schema):
                return None
            row = conn.execute(
                sa.select(self.replays).where(self.replays.c.run_id == run_id)
            ).first()
        return dict(row._mapping) if row else None

    # --- batches --------------------------------------------------------------------------

    def record_batch(self, conn: Connection, run_id: str, rec: BatchRecord) -> None:
        """Write the checkpoint row; call inside the batch's own transaction."""
        conn.execute(
            self.batches.insert().values(
                run_id=run_id,
                table_name=rec.table,
                batch_no=rec.batch_no,
                start_rows=rec.start_rows,
                end_position=json.dumps(rec.end.to_json()),
                rows_read=rec.read,
                rows_loaded=rec.loaded,
                rows_quarantined=rec.quarantined,
                rows_filtered=rec.filtered,
                rows_inserted=rec.inserted,
                rows_updated=rec.updated,
                rows_unchanged=rec.unchanged,
                seconds=rec.seconds,
                committed_at=_now(),
                state="committed",
                aggregates=None
                if rec.aggregates is None
                else json.dumps(rec.aggregates, separators=(",", ":"), ensure_ascii=False),
            )
        )

    def batches_of(self, run_id: str, table: str | None = None) -> list[BatchRecord]:
        q = sa.select(self.batches).where(self.batches.c.run_id == run_id)
        if table is not None:
            q = q.where(self.batches.c.table_name == table)
        with self.connect() as conn:
            rows = conn.execute(
                q.order_by(self.batches.c.table_name, self.batches.c.batch_no)
            ).all()
        return [
            BatchRecord(
                table=r.table_name,
                batch_no=r.batch_no,
                start_rows=r.start_rows,
                end=Position.from_json(json.loads(r.end_position)),
                read=r.rows_read,
                loaded=r.rows_loaded,
                quarantined=r.rows_quarantined,
                filtered=r.rows_filtered,
                seconds=r.seconds,
                inserted=r.rows_inserted,
                updated=r.rows_updated,
                unchanged=r.rows_unchanged,
                state=r.state,
                aggregates=json.loads(r.aggregates) if r.aggregates else None,
            )
            for r in rows
        ]

    # --- quarantine -----------------------------------------------------------------------

    def record_quarantine(
        self,
        conn: Connection,
        run_id: str,
        table: str,
        batch_no: int,
        rejects: Iterable[Reject],
        source_rows: dict[int, dict[str, Any]],
    ) -> int:
        """Write one quarantine row per reject; returns how many were written."""
        now = _now()
        rows = [
            {
                "run_id": run_id,
                "table_name": table,
                "batch_no": batch_no,
                "source_position": r.position[:500],
                "column_name": r.column,
                "raw_value": r.raw_value,
                "rule": r.rule[:200],
                "message": r.message,
                "source_row": json.dumps(source_rows.get(r.row), default=str, ensure_ascii=False),
                "created_at": now,
            }
            for r in rejects
        ]
        for i in range(0, len(rows), 500):
            conn.execute(self.quarantine.insert(), rows[i : i + 500])
        return len(rows)


def _run_record(row: Any) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        mode=row.mode,
        state=row.state,
        project=row.project,
        started_at=row.started_at,
        finished_at=row.finished_at,
        specs_digest=row.specs_digest,
        tables=json.loads(row.tables),
        flow_run_id=row.flow_run_id,
        error=row.error,
        summary=json.loads(row.summary) if row.summary else None,
    )


class LedgerState:
    """Run, table and batch states, and fingerprints: the bookkeeping resume and rollback
    read. Methods taking `conn` run inside the caller's transaction."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def set_run_state(self, run_id: str, state: str, error: str | None = None) -> None:
        assert state in RUN_STATES, state
        runs = self.ledger.runs
        values: dict[str, Any] = {"state": state}
        if error is not None:
            values["error"] = error
        with self.ledger.begin() as conn:
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(**values))

    def set_table_state(
        self,
        conn: Connection,
        run_id: str,
        table: str,
        state: str,
        *,
        position: int = 0,
        mode: str = "insert",
        key: Sequence[str] = (),
    ) -> None:
        assert state in TABLE_STATES, state
        t = self.ledger.tables
        where = (t.c.run_id == run_id) & (t.c.table_name == table)
        if conn.execute(sa.select(t.c.state).where(where)).first() is None:
            conn.execute(
                t.insert().values(
                    run_id=run_id,
                    table_name=table,
                    position=position,
                    mode=mode,
                    key_columns=json.dumps(list(key)),
                    state=state,
                    updated_at=_now(),
                )
            )
        else:
            conn.execute(t.update().where(where).values(state=state, updated_at=_now()))

    def table_states(self, run_id: str) -> list[dict[str, Any]]:
        t = self.ledger.tables
        with self.ledger.connect() as conn:
            rows = (
                conn.execute(sa.select(t).where(t.c.run_id == run_id).order_by(t.c.position))
                .mappings()
                .all()
            )
        return [{**r, "key_columns": json.loads(r["key_columns"])} for r in rows]

    def mark_batch_rolled_back(
        self, conn: Connection, run_id: str, table: str, batch_no: int
    ) -> None:
        b = self.ledger.batches
        conn.execute(
            b.update()
            .where((b.c.run_id == run_id) & (b.c.table_name == table) & (b.c.batch_no == batch_no))
            .values(state="rolled_back", rolled_back_at=_now())
        )

    def record_fingerprint(
        self, conn: Connection, run_id: str, table: str, phase: str, rows: int, digest: int
    ) -> None:
        f = self.ledger.fingerprints
        conn.execute(
            sa.delete(f).where(
                (f.c.run_id == run_id) & (f.c.table_name == table) & (f.c.phase == phase)
            )
        )
        conn.execute(
            f.insert().values(
                run_id=run_id,
                table_name=table,
                phase=phase,
                row_count=rows,
                digest=f"{digest:016x}",
                taken_at=_now(),
            )
        )

    def fingerprint_of(self, run_id: str, table: str, phase: str) -> tuple[int, int] | None:
        f = self.ledger.fingerprints
        with self.ledger.connect() as conn:
            row = conn.execute(
                sa.select(f.c.row_count, f.c.digest).where(
                    (f.c.run_id == run_id) & (f.c.table_name == table) & (f.c.phase == phase)
                )
            ).first()
        return (int(row[0]), int(row[1], 16)) if row else None

    def later_runs(self, run_id: str, tables: Sequence[str]) -> list[RunRecord]:
        """Runs started after `run_id` that changed one of `tables` and still stand."""
        this = self.ledger.get_run(run_id)
        assert this is not None
        out = []
        for run in self.ledger.list_runs(limit=1000):
            if run.run_id == run_id or run.started_at < this.started_at:
                continue
            if run.state == "rolled_back" or run.mode != "run":
                continue
            if set(run.tables) & set(tables):
                out.append(run)
        return out
