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

import itertools
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
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
    _skip_batch_fingerprints()
    source = context.data_sources.add_pandas("ferryman")
    definition = source.add_dataframe_asset("batch").add_batch_definition_whole_dataframe("all")
    return GxHandles(context, definition, source.get_execution_engine())


def _skip_batch_fingerprints() -> None:
    """Stop GX hashing every cell of every pandas batch.

    GX's pandas engine puts a fingerprint of the dataframe in each batch's markers (an MD5
    over `pandas.util.hash_pandas_object`, for any frame under `HASH_THRESHOLD`, 1 GB).
    ferryman never reads batch markers, and on Arrow-backed columns the hash cost 40% of
    the whole validation (100 ms of 250 ms per 50,000-row batch). The threshold is a
    module constant GX reads at each batch load; 0 means no frame is hashed.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


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


# --- a table in the target database ----------------------------------------------------------

_SOURCES = itertools.count(1)


@contextmanager
def sql_table_batch(url: str, table: str, schema: str | None = None) -> Iterator[Any]:
    """A GX batch definition for the whole of `table` in the database at `url`, through a
    SQL data source of its own that is removed (and its connections closed) afterwards.

    GX connects with its own engine, so it sees what is committed. PostgreSQL schemas go
    through `search_path`, as ferryman's own engines do; elsewhere `schema` qualifies the
    table. Hold `VALIDATION_LOCK` (the warning filters below are process-wide).
    """
    from ferryman.connectors.sql.engine import normalise_url

    url = normalise_url(url)
    postgres = url.startswith("postgresql")
    kwargs = {"connect_args": {"options": f"-csearch_path={schema}"}} if postgres and schema else {}
    context = gx_handles().context
    name = f"ferryman_target_{next(_SOURCES)}"
    with warnings.catch_warnings():
        # GX suggests its dialect-specific data sources; the generic one serves all three.
        warnings.filterwarnings("ignore", "You are using a generic SQLDatasource", UserWarning)
        warnings.filterwarnings("ignore", ".*schema_name", DeprecationWarning)
        source = context.data_sources.add_sql(name, connection_string=url, kwargs=kwargs)
        try:
            qualifier = {"schema_name": schema} if schema and not postgres else {}
            asset = source.add_table_asset(table, table_name=table, **qualifier)
            yield asset.add_batch_definition_whole_table("whole table")
        finally:
            try:
                source.get_engine().dispose()
            finally:
                context.data_sources.delete(name)


def validate_batch_definition(
    batch_definition: Any, suite: ExpectationSuite, result_format: dict[str, Any]
) -> list[ExpectationValidationResult]:
    """Every expectation of `suite` on the batch GX reads through `batch_definition`."""
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(batch_definition=batch_definition, result_format=result_format)
    return list(validator.validate_expectation_suite(suite).results)


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


@cache
def _core() -> dict[str, Any]:
    _register_core()
    from great_expectations.expectations import registry

    names = registry.list_registered_expectation_implementations()
    return {name: registry.get_expectation_impl(name) for name in names}


def core_expectation_classes() -> dict[str, Any]:
    """Expectation type -> class for GX's own expectations (a project's custom ones are
    in `ferryman.validations.custom`), as registered before any project module was imported."""
    return dict(_core())


expectation_classes = core_expectation_classes


@cache
def reserved_arguments() -> frozenset[str]:
    """Fields every GX expectation has that ferryman sets itself (meta, result_format...)."""
    _register_core()
    from great_expectations.expectations.expectation import Expectation

    return frozenset(Expectation.__fields__) | {"batch_id"}


def _class(expectation: str | type) -> Any:
    return _core().get(expectation) if isinstance(expectation, str) else expectation


def is_row_level(expectation: str | type) -> bool:
    """True when GX judges each row (column-map, column-pair and multicolumn expectations):
    only those have failing rows to quarantine. Takes a GX name or a class."""
    _register_core()
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    cls = _class(expectation)
    if cls is None:
        return False
    kinds = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    per_column = tuple(_core()[name] for name in _NO_ROW_VERDICT)
    return issubclass(cls, kinds) and not issubclass(cls, per_column)


def runs_sql(expectation: str | type) -> bool:
    """True for `UnexpectedRowsExpectation` and its subclasses: their rule is a SQL query."""
    _register_core()
    cls = _class(expectation)
    return cls is not None and issubclass(cls, _core()["unexpected_rows_expectation"])


def in_memory_problem(expectation: str | type) -> str | None:
    """Why GX cannot run this expectation on a pandas batch, or None when it can.

    Asks GX's metric registry whether the pandas engine provides the metrics the
    expectation needs (the LIKE-pattern ones, for instance, exist for SQL only)."""
    cls = _class(expectation)
    name = str(getattr(cls, "expectation_type", expectation))
    if name in _NEEDS_OTHER_DATA:
        return _NEEDS_OTHER_DATA[name]
    if runs_sql(cls):
        return (
            "it runs a SQL query, which needs the loaded table: set `applies_to: target` to"
            " run it after the load"
        )
    missing = _missing_metric(cls, gx_handles().execution_engine)
    if missing:
        hint = " (use expect_column_values_to_match_regex)" if "like_pattern" in name else ""
        return f"GX implements it for SQL databases only{hint}"
    return None


def sql_problem(expectation: str | type) -> str | None:
    """Why GX cannot run this expectation on a table in a SQL database, or None."""
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    cls = _class(expectation)
    name = str(getattr(cls, "expectation_type", expectation))
    if name in _NEEDS_OTHER_DATA:
        return "it compares with another table; reconciliation compares the counts"
    # GX looks metric providers up by the engine's class only: an instance that was never
    # initialised (and so never connects) is enough to ask.
    engine = object.__new__(SqlAlchemyExecutionEngine)
    if _missing_metric(cls, engine):
        return "GX implements it for in-memory data only (pandas, Spark), not for SQL databases"
    return None


def _missing_metric(cls: Any, engine: Any) -> str | None:
    from great_expectations.exceptions import MetricProviderError
    from great_expectations.expectations.registry import get_metric_provider

    map_metric = getattr(cls, "map_metric", None)
    metrics = [f"{map_metric}.condition"] if map_metric else list(cls.metric_dependencies)
    for metric in metrics:
        try:
            get_metric_provider(metric, engine)
        except MetricProviderError:
            return str(metric)
    return None
