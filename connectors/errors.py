"""Connector error taxonomy: transient (retry), terminal (fail fast), data (quarantine).

Each connector maps its driver's exceptions onto these. Messages never carry secrets:
build them with `ferryman.secrets.mask` applied to anything that may hold a URL.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every connector error."""


class TransientError(ConnectorError):
    """May succeed if retried: connection reset, deadlock, lock timeout."""


class TerminalError(ConnectorError):
    """Will not succeed if retried: bad credentials, missing table, wrong schema."""


class ConnectionFailed(TerminalError):
    """The connection could not be opened. The message names the connection, never its
    password."""
