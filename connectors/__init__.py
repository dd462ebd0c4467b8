"""Reading batches from sources and writing them to targets, one class per kind.

Import is cheap: no database driver is loaded until a connector of that kind is built.
"""

from ferryman.connectors.base import (
    ROW_POSITION,
    Batch,
    ColumnSchema,
    Position,
    Reject,
    Source,
    TableSchema,
    Target,
    TargetCapabilities,
)
from ferryman.connectors.kinds import CONNECTORS, ConnectorKind

__all__ = [
    "CONNECTORS",
    "ROW_POSITION",
    "Batch",
    "ColumnSchema",
    "ConnectorKind",
    "Position",
    "Reject",
    "Source",
    "TableSchema",
    "Target",
    "TargetCapabilities",
]
