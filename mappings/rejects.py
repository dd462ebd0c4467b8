"""A rejected row: what failed, where it came from, and why.

The type lives in `ferryman.connectors.base` because sources reject malformed records too; it is
re-exported here for the mapping and validation code that produces most rejects.
"""

from __future__ import annotations

from ferryman.connectors.base import Reject

__all__ = ["Reject"]
