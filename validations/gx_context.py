"""The one Great Expectations context of the process, and a batch loaded into it.

Why a module of its own:

* GX is slow to import (~2.5 s) and creating a context costs more; both happen once per
  process, lazily, on first use (`import validations.suites` stays cheap for `--help`).
* GX must be quiet and offline: analytics are switched off through the environment
  *before* GX is imported and again in the context config, and the tqdm progress bars
  ("Calculating Metrics" on stderr, once per validation) through `progress_bars`.
  The context is ephemeral: in-memory stores, no files, no data docs, no network.
* Every batch goes through the same pandas data source, dataframe asset and
  whole-dataframe batch definition; the dataframe is a runtime batch parameter, so
  nothing accumulates in the context from batch to batch (GX keeps the last batch only).

GX's pandas execution engine is shared per data source and holds the "active batch", so
two threads validating at once would mix their batches up: `VALIDATION_LOCK` serialises
validations (they are CPU-bound Python anyway; the GIL gives threads nothing here).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )

VALIDATION_LOCK = threading.RLock()
_CREATE_LOCK = threading.Lock()
_HANDLES: GxHandles | None = None


def import_gx() -> Any:
    """`great_expectations`, imported with analytics off (the variable is read at import)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx

    return gx


@dataclass(frozen=True)
class GxHandles:
    """What validation needs from the context, created once."""

    context: Any
    batch_definition: Any
    execution_engine: Any
    """The pandas engine of the data source: asked which expectations it can run."""


def gx_handles() -> GxHandles:
    """The process-wide context and batch definition (created on first call)."""
    global _HANDLES
    if _HANDLES is None:
        with _CREATE_LOCK:
            if _HANDLES is None:
                _HANDLES = _create()
    return _HANDLES


def _create() -> GxHandles:
    gx = import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    context = gx.get_context(project_config=config, mode="ephemeral")
    source = context.data_sources.add_pandas("ferryman")
    definition = source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("all")
    return GxHandles(context, definition, source.get_execution_engine())


class LoadedBatch:
    """One dataframe loaded into GX once, validated in one or more passes.

    `Batch.validate` (the public path) builds a new validator per call, and each one loads
    and fingerprints the dataframe again (GX hashes every cell: ~5 ms per 5,000 rows with
    Arrow dtypes). A second pass over the same batch (COMPLETE results for the row
    expectations that failed) would pay that twice more. GX's own v1 `Validator`, which
    `Batch.validate` and `ValidationDefinition.run` both wrap, loads the batch once per
    instance and reads its result format per call, so we keep one per batch. Measured on
    a 5,000-row batch with 4 expectations: 30 ms (clean) / 39 ms (with failing rows),
    against 37 / 52 ms through `Batch.validate`.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        from great_expectations.validator.v1_validator import Validator

        self._validator = Validator(
            batch_definition=gx_handles().batch_definition,
            batch_parameters={"dataframe": frame},
        )

    def validate(
        self, suite: ExpectationSuite, result_format: dict[str, Any]
    ) -> list[ExpectationValidationResult]:
        """Results of every expectation of `suite`, in no particular order (GX groups
        them by domain): match them to expectations through their `meta`."""
        self._validator.result_format = result_format
        return list(self._validator.validate_expectation_suite(suite).results)


# --- the expectation registry -------------------------------------------------------------

# On pandas, GX answers these per column (the dtype), not per row: nothing to quarantine.
_NO_ROW_VERDICT = {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}
_NEEDS_OTHER_DATA = {
    "expect_table_row_count_to_equal_other_table": (
        "it compares with another table, which a batch does not have; reconciliation"
        " compares source and target counts after the load"
    ),
}


@cache
def _register_core() -> None:
    import_gx()
    from great_expectations.expectations.registry import register_core_expectations

    register_core_expectations()


def expectation_classes() -> dict[str, Any]:
    """Expectation type -> class, for every expectation registered with GX (the core ones
    and any a plugin registered)."""
    _register_core()
    from great_expectations.expectations import registry

    names = registry.list_registered_expectation_implementations()
    return {name: registry.get_expectation_impl(name) for name in names}


@cache
def reserved_arguments() -> frozenset[str]:
    """Fields every GX expectation has that ferryman sets itself (meta, result_format...)."""
    _register_core()
    from great_expectations.expectations.expectation import Expectation

    return frozenset(Expectation.__fields__) | {"batch_id"}


def is_row_level(type_: str) -> bool:
    """True when GX judges each row (column-map, column-pair and multicolumn expectations):
    only those have failing rows to quarantine."""
    _register_core()
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    cls = expectation_classes().get(type_)
    kinds = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    return cls is not None and issubclass(cls, kinds) and type_ not in _NO_ROW_VERDICT


def in_memory_problem(type_: str) -> str | None:
    """Why GX cannot run this expectation on a pandas batch, or None when it can.

    Asks GX's metric registry whether the pandas engine provides the metrics the
    expectation needs (the LIKE-pattern ones, for instance, exist for SQL only)."""
    if type_ in _NEEDS_OTHER_DATA:
        return _NEEDS_OTHER_DATA[type_]
    from great_expectations.exceptions import MetricProviderError
    from great_expectations.expectations.registry import get_metric_provider

    cls = expectation_classes()[type_]
    map_metric = getattr(cls, "map_metric", None)
    metrics = [f"{map_metric}.condition"] if map_metric else list(cls.metric_dependencies)
    for metric in metrics:
        try:
            get_metric_provider(metric, gx_handles().execution_engine)
        except MetricProviderError:
            hint = " (use expect_column_values_to_match_regex)" if "like_pattern" in type_ else ""
            return f"GX implements it for SQL databases only{hint}"
    return None
