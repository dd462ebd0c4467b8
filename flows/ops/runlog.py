"""Where run operations log, and which Prefect flow run they belong to.

The operations (run, resume, rollback, replay, dry run) are plain functions: the Prefect
flows in `ferryman.flows.prefect_flows` call them, and so can a test or a script without
Prefect. Inside a flow or task run their lines go to Prefect's run logger (shown in the UI
and on the console); outside one, to the standard `ferryman` logger.
"""

from __future__ import annotations

import logging
from typing import Any


def run_logger() -> Any:
    """Prefect's logger of the current flow or task run, else `logging.getLogger('ferryman')`."""
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.logging import get_run_logger

    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return logging.getLogger("ferryman")
    return get_run_logger()


def flow_run_id() -> str | None:
    """The id of the Prefect flow run this code runs in, if any (kept in the ledger)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    return str(context.flow_run.id)
