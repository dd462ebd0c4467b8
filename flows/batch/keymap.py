"""The stable legacy-key -> new-key map behind `surrogate:` fields, kept in the target's
`ferryman_keymap` control table (a KeyMapStore, see `ferryman.mappings.lookups`).

The mapping asks for keys while it maps a batch, before the batch's transaction opens, so
new assignments are only *proposed* then (held in memory) and written by `commit()` inside
the batch's own transaction: a batch that rolls back, fails or is killed leaves no
assignment behind, and a rerun proposes the same keys again.

Allocation: the next free key is max(new_key)+1 of the table, read again inside the batch
transaction. Two processes never load the same table at once (`ferryman.flows.ledger.locks`), so the
proposal made before the transaction stands; should another writer have taken keys in
between anyway, `commit()` renumbers the proposal after the new maximum and returns the
renumbering for the batch's rows, and the unique (table_name, new_key) constraint makes a
true race fail loudly instead of giving one key twice. A max+1 scheme (no sequence) keeps
keys dense and reproducible: rollback removes a run's assignments, and since runs are
rolled back newest first, they are the top of the range, so the rerun gets them again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ferryman.flows.ledger.store import Ledger

_CHUNK = 900
MAX_LEGACY_KEY = 500


class SqlKeyMap:
    """KeyMapStore over `ferryman_keymap`: reads committed assignments, proposes new ones
    and writes them in the batch transaction the caller gives to `commit()`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.table = ledger.keymap
        self._pending: dict[str, dict[str, int]] = {}

    def discard(self) -> None:
        """Forget proposals not committed (start of a batch, or after a failed one)."""
        self._pending.clear()

    def get_or_assign(self, table: str, legacy_keys: pa.Array) -> pa.Array:
        distinct = [k for k in pc.unique(legacy_keys).to_pylist() if k is not None]
        too_long = [k for k in distinct if len(k) > MAX_LEGACY_KEY]
        if too_long:
            raise ValueError(
                f"{table}: legacy key {too_long[0][:60]!r}... is {len(too_long[0])} characters;"
                f" the key map holds at most {MAX_LEGACY_KEY}. Use shorter `surrogate: from:`"
                " columns"
            )
        pending = self._pending.setdefault(table, {})
        with self.ledger.connect() as conn:
            known = self._known(conn, table, [k for k in distinct if k not in pending])
            following = self._max(conn, table) + 1
        following = max([following, *(v + 1 for v in pending.values())])
        for key in distinct:
            if key not in known and key not in pending:
                pending[key] = following
                following += 1
        answers = {**known, **pending}
        lookup = pa.array(list(answers), pa.string())
        values = pa.array(list(answers.values()), pa.int64())
        return pc.take(values, pc.index_in(legacy_keys, value_set=lookup))

    def commit(self, conn: Connection, run_id: str, batch_no: int) -> dict[str, dict[int, int]]:
        """Write the proposed assignments in the caller's transaction. Returns, per table,
        proposed -> final key for the proposals that had to be renumbered (normally none)."""
        renumbered: dict[str, dict[int, int]] = {}
        for table, proposals in self._pending.items():
            if not proposals:
                continue
            taken = self._known(conn, table, list(proposals))
            fresh = {k: v for k, v in proposals.items() if k not in taken}
            floor = self._max(conn, table) + 1
            changes = {v: taken[k] for k, v in proposals.items() if k in taken}
            if fresh and min(fresh.values()) < floor:
                for i, (k, v) in enumerate(sorted(fresh.items(), key=lambda kv: kv[1])):
                    changes[v] = floor + i
                    fresh[k] = floor + i
            rows = [
                {"table_name": table, "legacy_key": k, "new_key": v, "run_id": run_id,
                 "batch_no": batch_no}
                for k, v in fresh.items()
            ]  # fmt: skip
            for i in range(0, len(rows), 500):
                conn.execute(self.table.insert(), rows[i : i + 500])
            if changes:
                renumbered[table] = changes
        self._pending.clear()
        return renumbered

    def forget_batch(self, conn: Connection, run_id: str, table: str, batch_no: int) -> int:
        """Remove the assignments a batch made (rollback, in the undo's transaction)."""
        t = self.table
        result = conn.execute(
            sa.delete(t).where(
                (t.c.run_id == run_id) & (t.c.table_name == table) & (t.c.batch_no == batch_no)
            )
        )
        return result.rowcount or 0

    def count_of_run(self, run_id: str) -> int:
        t = self.table
        with self.ledger.connect() as conn:
            query = sa.select(sa.func.count()).select_from(t).where(t.c.run_id == run_id)
            return int(conn.execute(query).scalar_one())

    def _known(self, conn: Connection, table: str, keys: Sequence[str]) -> dict[str, int]:
        t = self.table
        found: dict[str, int] = {}
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            query = sa.select(t.c.legacy_key, t.c.new_key).where(
                (t.c.table_name == table) & t.c.legacy_key.in_(part)
            )
            found.update((k, int(v)) for k, v in conn.execute(query))
        return found

    def _max(self, conn: Connection, table: str) -> int:
        t = self.table
        query = sa.select(sa.func.max(t.c.new_key)).where(t.c.table_name == table)
        top = conn.execute(query).scalar()
        return int(top) if top is not None else 0


def renumber(rows: pa.Table, columns: Iterable[str], changes: dict[int, int]) -> pa.Table:
    """`rows` with proposed surrogate keys in `columns` replaced by their final keys."""
    if not changes:
        return rows
    old = pa.array(list(changes), pa.int64())
    new = pa.array(list(changes.values()), pa.int64())
    for name in columns:
        i = rows.column_names.index(name)
        column = rows.column(name).combine_chunks()
        index = pc.index_in(pc.cast(column, pa.int64()), value_set=old)
        replaced = pc.coalesce(pc.take(new, index), pc.cast(column, pa.int64()))
        rows = rows.set_column(i, rows.field(i), pc.cast(replaced, column.type))
    return rows


def surrogate_columns(fields: dict[str, Any]) -> list[str]:
    """Names of a spec's surrogate-key fields."""
    return [name for name, f in fields.items() if getattr(f, "surrogate", None) is not None]
