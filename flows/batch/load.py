"""One batch through the whole path: map, validate, check keys and parents, then write its
rows, its quarantine rows and its ledger row in ONE target transaction.

Plain functions, no Prefect: the flow calls them from a task per batch, tests call them
directly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ferryman.connectors.base import ROW_POSITION, Batch, Reject, Source, Target
from ferryman.flows.batch.faults import fault_point
from ferryman.flows.batch.keymap import SqlKeyMap, renumber, surrogate_columns
from ferryman.flows.batch.write import write_rows
from ferryman.flows.ledger.aggregates import column_aggregates
from ferryman.flows.ledger.journal import Journal
from ferryman.flows.ledger.store import BatchRecord, Ledger
from ferryman.mappings.compile import ROW_INDEX, CompiledMapping
from ferryman.mappings.model import ForeignKey, MappingSpec
from ferryman.validations.gx_runner import SuiteRunner


class GateFailed(Exception):
    """A batch-level expectation failed: the batch is not loaded and the run stops."""

    def __init__(self, table: str, batch_no: int, failures: Sequence[str]) -> None:
        self.table, self.batch_no, self.failures = table, batch_no, list(failures)
        super().__init__(
            f"{table} batch {batch_no}: batch expectation failed: " + "; ".join(failures)
        )


@dataclass
class TableJob:
    """Everything needed to load one target table: built once per run, used per batch."""

    spec: MappingSpec
    compiled: CompiledMapping
    source: Source
    suites: SuiteRunner | None
    batch_size: int
    keymap: SqlKeyMap | None = None
    """The store behind the spec's surrogate keys (the one compile_spec was given)."""
    more: list[TableJob] = field(default_factory=list)
    """The jobs of the spec's `more_sources`, loaded after this one into the same table."""

    @property
    def streams(self) -> list[TableJob]:
        """This job's stream, then each of `more_sources`, in load order."""
        return [self, *self.more]

    @property
    def table(self) -> str:
        return self.spec.target

    @property
    def stream(self) -> str:
        return self.spec.source.stream


@dataclass
class BatchOutcome:
    """The counts of one committed batch (read = loaded + quarantined + filtered)."""

    table: str
    batch_no: int
    read: int
    loaded: int
    quarantined: int
    filtered: int
    seconds: float
    rules: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def process_batch(
    job: TableJob, target: Target, ledger: Ledger, run_id: str, batch: Batch, batch_no: int
) -> BatchOutcome:
    """Map, validate and load one batch; its rows, journal, quarantine rows and ledger row
    are committed in ONE transaction, or nothing of it is."""
    started = time.perf_counter()
    if job.keymap is not None:
        job.keymap.discard()  # proposals of a failed attempt are not this batch's
    mapped = job.compiled.apply(batch.data)
    rows, rejects = mapped.rows, list(mapped.rejects)
    warnings: list[str] = []
    if job.suites is not None and rows.num_rows:
        outcome = job.suites.validate(rows)
        if outcome.batch_failures:
            raise GateFailed(job.table, batch_no, outcome.batch_failures)
        warnings = list(outcome.warnings)
        rejects.extend(outcome.rejects)
        rows = _without(rows, {r.row for r in outcome.rejects})
    with target.begin() as conn:
        if job.keymap is not None:
            # New surrogate keys are written with the rows, in this transaction, or not at all.
            changes = job.keymap.commit(conn, run_id, batch_no).get(job.table, {})
            rows = renumber(rows, surrogate_columns(job.spec.fields), changes)
        key_rejects = _duplicate_keys(job.spec, target, conn, rows)
        rows = _without(rows, {r.row for r in key_rejects})
        fk_rejects = _missing_parents(job.spec, target, conn, rows)
        rows = _without(rows, {r.row for r in fk_rejects})
        rejects.extend(key_rejects + fk_rejects)
        counts = write_rows(
            conn,
            target,
            Journal(ledger, target),
            run_id=run_id,
            table=job.table,
            mode=job.spec.mode,
            key=list(job.spec.key),
            batch_no=batch_no,
            rows=rows.drop_columns([ROW_POSITION, ROW_INDEX]),
        )
        loaded = counts.loaded
        # Source rejects are numbered by record, the others by row of the batch: two calls.
        raw_records = {r.row: {"record": r.raw_value} for r in batch.rejects}
        ledger.record_quarantine(conn, run_id, job.table, batch_no, batch.rejects, raw_records)
        sources = _source_rows(batch.data, {r.row for r in rejects})
        ledger.record_quarantine(conn, run_id, job.table, batch_no, rejects, sources)
        all_rejects = [*batch.rejects, *rejects]
        quarantined = len(batch.rejects) + len({r.row for r in rejects})
        outcome_ = BatchOutcome(
            table=job.table,
            batch_no=batch_no,
            read=batch.rows_read,
            loaded=loaded,
            quarantined=quarantined,
            filtered=mapped.filtered,
            seconds=time.perf_counter() - started,
            rules=_count_rules(all_rejects),
            warnings=warnings,
            inserted=counts.inserted,
            updated=counts.updated,
            unchanged=counts.unchanged,
        )
        _check_accounting(outcome_)
        ledger.record_batch(
            conn,
            run_id,
            BatchRecord(
                table=job.table,
                batch_no=batch_no,
                start_rows=batch.start.rows,
                end=batch.end,
                read=outcome_.read,
                loaded=loaded,
                quarantined=quarantined,
                filtered=mapped.filtered,
                seconds=outcome_.seconds,
                inserted=counts.inserted,
                updated=counts.updated,
                unchanged=counts.unchanged,
                aggregates=column_aggregates(counts.written)
                if counts.written is not None and counts.written.num_rows
                else None,
            ),
        )
        fault_point("before_commit", job.table, batch_no)
    fault_point("after_commit", job.table, batch_no)
    return outcome_


def _check_accounting(o: BatchOutcome) -> None:
    if o.read != o.loaded + o.quarantined + o.filtered:
        # Never commit a batch that cannot account for every row it read.
        raise AssertionError(
            f"{o.table} batch {o.batch_no}: read {o.read} != loaded {o.loaded} + quarantined"
            f" {o.quarantined} + filtered {o.filtered}; the batch was rolled back"
        )


def _without(rows: pa.Table, drop: set[int]) -> pa.Table:
    if not drop or rows.num_rows == 0:
        return rows
    mask = pc.invert(pc.is_in(rows.column(ROW_INDEX), pa.array(sorted(drop), pa.int32())))
    return rows.filter(mask)


def _key_tuples(rows: pa.Table, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    return list(zip(*[rows.column(c).to_pylist() for c in columns], strict=True))


def _describe_key(columns: Sequence[str], values: tuple[Any, ...]) -> str:
    return ", ".join(f"{c}={v!r}" for c, v in zip(columns, values, strict=True))


def _key_reject(
    idx: int, pos: str, columns: Sequence[str], key: tuple[Any, ...], rule: str, message: str
) -> Reject:
    return Reject(
        row=idx,
        position=pos,
        column=",".join(columns),
        raw_value=_describe_key(columns, key),
        rule=rule,
        message=message,
    )


def _duplicate_keys(spec: MappingSpec, target: Target, conn: Any, rows: pa.Table) -> list[Reject]:
    """Rows whose key repeats an earlier row of this batch, or a row already in the table.

    The first row read wins; later ones are quarantined rather than overwriting it
    (`insert` mode) or failing the whole batch on the primary key.
    """
    if rows.num_rows == 0:
        return []
    keys = _key_tuples(rows, spec.key)
    in_table: set[tuple[Any, ...]] = set()
    if spec.mode != "upsert":  # upsert updates keys already in the table
        present = target.existing_keys(conn, spec.target, spec.key, rows.select(spec.key))
        in_table = set(_key_tuples(present, spec.key))
    seen: dict[tuple[Any, ...], str] = {}
    rejects = []
    indexes = rows.column(ROW_INDEX).to_pylist()
    positions = rows.column(ROW_POSITION).to_pylist()
    for key, idx, pos in zip(keys, indexes, positions, strict=True):
        if key in in_table:
            why = f"is already in {spec.target} (loaded by an earlier batch or run)"
        elif key in seen:
            why = f"repeats the row at {seen[key]}, which was kept"
        else:
            seen[key] = pos
            continue
        message = f"key {_describe_key(spec.key, key)} {why}"
        rejects.append(_key_reject(idx, pos, spec.key, key, "duplicate_key", message))
    return rejects


def _missing_parents(spec: MappingSpec, target: Target, conn: Any, rows: pa.Table) -> list[Reject]:
    """Rows whose foreign key has no parent row in the target: quarantined with the key and
    the missing parent, instead of the database rejecting the whole batch."""
    rejects: list[Reject] = []
    for fk in spec.foreign_keys:
        if fk.parent_table != spec.target:
            rejects.extend(_orphans(fk, target, conn, rows, self_reference=False))
            continue
        # A row whose parent is itself held back loses its parent too: repeat until stable.
        remaining = rows
        while new := _orphans(fk, target, conn, remaining, self_reference=True):
            rejects.extend(new)
            remaining = _without(remaining, {r.row for r in new})
    return rejects


def _orphans(
    fk: ForeignKey, target: Target, conn: Any, rows: pa.Table, self_reference: bool
) -> list[Reject]:
    """Rows whose parent is neither in the target nor, for a table that references itself
    (employees.reports_to), among the rows this batch loads."""
    if rows.num_rows == 0:
        return []
    values = rows.select(fk.columns).rename_columns(fk.parent_columns)
    keys = _key_tuples(values, fk.parent_columns)
    candidates = [k for k in keys if all(v is not None for v in k)]
    if not candidates:
        return []
    probe = pa.Table.from_pylist(
        [dict(zip(fk.parent_columns, k, strict=True)) for k in set(candidates)],
        schema=values.schema,
    )
    found = set(
        _key_tuples(
            target.existing_keys(conn, fk.parent_table, fk.parent_columns, probe), fk.parent_columns
        )
    )
    if self_reference:
        found |= set(_key_tuples(rows, fk.parent_columns))
    rejects = []
    for key, idx, pos in zip(
        keys, rows.column(ROW_INDEX).to_pylist(), rows.column(ROW_POSITION).to_pylist(), strict=True
    ):
        if all(v is not None for v in key) and key not in found:
            message = f"{_describe_key(fk.columns, key)} has no parent row in {fk.references}"
            rejects.append(_key_reject(idx, pos, fk.columns, key, "foreign_key", message))
    return rejects


def _source_rows(data: pa.Table, indexes: set[int]) -> dict[int, dict[str, Any]]:
    """The whole raw source row of each rejected row, for the quarantine."""
    if not indexes:
        return {}
    ordered = sorted(i for i in indexes if 0 <= i < data.num_rows)
    taken = data.take(pa.array(ordered, pa.int64())).drop_columns([ROW_POSITION])
    return dict(zip(ordered, taken.to_pylist(), strict=True))


def _count_rules(rejects: Sequence[Reject]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rejects:
        counts[r.rule] = counts.get(r.rule, 0) + 1
    return counts
