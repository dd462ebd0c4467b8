"""ferryman: migrate and cleanse legacy data, with checkpointed loads you can resume and roll back.

The installed package holds the layers as sub-packages, each importing only from those
before it: this core (did-you-mean, secret masking, YAML positions, the value codec)
<- `ferryman.connectors` <- `ferryman.mappings` <- `ferryman.validations` <- `ferryman.flows`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ferryman")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
