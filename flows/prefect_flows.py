"""Every Prefect flow and task of ferryman, and nothing else.

The operations themselves are plain functions (`ferryman.flows.ops`, `ferryman.flows.dryrun`);
this module wraps them for Prefect: retries of transient batch errors, run logs, artifacts,
and the entrypoints `prefect.yaml` deploys (`ferryman.flows.prefect_flows:migrate`, ...).

    migrate / resume / dry-run / replay  (flow)
      -> migrate-table                   (subflow, one per table, in dependency order)
         -> load-batch                   (task, one per batch: never per row)
    rollback                             (flow)

Every flow takes `project_dir`, the project folder (default: the working directory, which a
deployment's pull step sets). Big objects are passed with `quote()` and `NO_CACHE`, so
Prefect neither hashes nor walks them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from ferryman.connectors.base import Batch, Position
from ferryman.connectors.errors import TransientError
from ferryman.flows.batch.load import BatchOutcome, TableJob, process_batch
from ferryman.flows.dryrun.run import plan_run
from ferryman.flows.ops.replay import replay_run
from ferryman.flows.ops.rollback import rollback_run
from ferryman.flows.ops.run import resume_run, run_project, stream_table
from ferryman.flows.project.session import Prepared, UsageError
from ferryman.yaml_positions import SpecError


class _ExpectedOutcomeWithoutTraceback(logging.Filter):
    """Prefect logs a failed flow's exception with its traceback, twice (the flow, then the
    engine). A bad spec, a missing project or a refused operation is an expected outcome
    whose message says it all: keep one line of it."""

    EXPECTED = (SpecError, UsageError)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, self.EXPECTED):
            return True
        if record.getMessage().startswith("Engine execution exited"):
            return False  # the same exception again, called "unexpected"
        record.exc_info, record.exc_text = None, None
        return True


# Installed when the flows are imported (the deployments' entrypoints), once per process.
_flow_run_logs = logging.getLogger("prefect.flow_runs")
if not any(isinstance(f, _ExpectedOutcomeWithoutTraceback) for f in _flow_run_logs.filters):
    _flow_run_logs.addFilter(_ExpectedOutcomeWithoutTraceback())


def _retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a batch only for errors that a retry can fix (lost connection, deadlock):
    the batch's transaction was rolled back, so a retry cannot double anything."""
    try:
        state.result()
    except TransientError:
        return True
    except Exception:  # noqa: BLE001 - any other error is terminal: fail fast
        return False
    return False


@task(
    name="load-batch",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=[1, 5, 15],
    retry_condition_fn=_retry_transient,
    persist_result=False,
    log_prints=False,
)
def load_batch(
    prepared: Prepared, job: TableJob, run_id: str, batch: Batch, batch_no: int
) -> BatchOutcome:
    return process_batch(job, prepared.target, prepared.ledger, run_id, batch, batch_no)


def _batch_as_task(
    prepared: Prepared, job: TableJob, run_id: str, batch: Batch, number: int
) -> BatchOutcome:
    return load_batch(quote(prepared), quote(job), run_id, quote(batch), number)  # type: ignore[call-overload]


@flow(name="migrate-table", persist_result=False, validate_parameters=False)
def migrate_table(
    prepared: Prepared,
    job: TableJob,
    run_id: str,
    after: Position | None,
    first_batch: int,
    first_stream: int = 0,
) -> list[str]:
    """One table's batches, each a `load-batch` task run."""
    return stream_table(
        prepared, job, run_id, after, first_batch, first_stream, load=_batch_as_task
    )


def _table_as_subflow(
    prepared: Prepared,
    job: TableJob,
    run_id: str,
    after: Position | None,
    first_batch: int,
    first_stream: int,
) -> list[str]:
    return migrate_table(  # type: ignore[call-overload]
        quote(prepared), quote(job), run_id, after, first_batch, first_stream
    )


@flow(name="migrate", persist_result=False, validate_parameters=False, log_prints=False)
def migrate(
    project_dir: str = ".", tables: list[str] | None = None, batch_size: int | None = None
) -> dict[str, Any]:
    """Migrate every table of the project (or the ones named) into its target.

    Returns the run summary (also written as JSON and HTML reports, and published as a
    Prefect artifact). Raises on a bad spec before anything is touched.
    """
    return run_project(Path(project_dir), tables, batch_size, load_table=_table_as_subflow)


@flow(name="resume", persist_result=False, validate_parameters=False, log_prints=False)
def resume(run_id: str, project_dir: str = ".", force: bool = False) -> dict[str, Any]:
    """Continue a failed or killed run after its last committed batch, with the same spec
    versions: no row twice, no row lost."""
    return resume_run(Path(project_dir), run_id, force, load_table=_table_as_subflow)


@flow(name="dry-run", persist_result=False, validate_parameters=False, log_prints=False)
def dry_run(
    project_dir: str = ".",
    tables: list[str] | None = None,
    batch_size: int | None = None,
    history: bool | None = None,
) -> dict[str, Any]:
    """Run the migration against the live target and undo every write: what would be
    inserted, updated, deleted, quarantined, the DDL, the gates, and proof that the target
    is unchanged. `history` (default: the project's `dry_run.history`) keeps an entry in
    ferryman_dry_runs."""
    summary = plan_run(Path(project_dir), tables, batch_size, history, load_table=_table_as_subflow)
    return summary.to_json()


@flow(name="rollback", persist_result=False, validate_parameters=False, log_prints=False)
def rollback(
    run_id: str, project_dir: str = ".", to_batch: int | None = None, force: bool = False
) -> dict[str, Any]:
    """Undo run `run_id` (or only its batches numbered above `to_batch`), batch by batch
    in reverse; verified against the run's start fingerprints."""
    return rollback_run(Path(project_dir), run_id, to_batch, force)


@flow(name="replay", persist_result=False, validate_parameters=False, log_prints=False)
def replay(
    run_id: str, file: str, project_dir: str = ".", table: str | None = None
) -> dict[str, Any]:
    """Load the fixed rows of a quarantine export of run `run_id` through the same specs,
    as a new run (roll it back with `ferryman rollback NEW_RUN`). `file` is a path where
    the flow runs."""
    return replay_run(Path(project_dir), run_id, Path(file), table, load_table=_table_as_subflow)
