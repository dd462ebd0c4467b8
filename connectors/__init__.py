"""Reading batches from sources and writing them to targets, one class per kind.

Import is cheap: no database driver is loaded until a connector of that kind is built.
"""

from ferryman.connectors.base import (
    ROW_POSITION,
    Batch,
    ColumnSchema,
    IndexSchema,
    PinnedTarget,
    PlannedDdl,
    Position,
    Reject,
    Source,
    TableSchema,
    Target,
    TargetCapabilities,
    Upserted,
)
from ferryman.connectors.kinds import CONNECTORS, ConnectorKind

__all__ = [
    "CONNECTORS",
    "ROW_POSITION",
    "Batch",
    "ColumnSchema",
    "ConnectorKind",
    "IndexSchema",
    "PinnedTarget",
    "PlannedDdl",
    "Position",
    "Reject",
    "Source",
    "TableSchema",
    "Target",
    "TargetCapabilities",
    "Upserted",
]
