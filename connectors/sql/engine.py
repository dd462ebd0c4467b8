"""Engines and driver-error mapping shared by the SQL source and target."""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url

from ferryman.connectors.errors import (
    ConnectionFailed,
    ConnectorError,
    TerminalError,
    TransientError,
)
from ferryman.secrets import mask_text, mask_url

# Driver names to use when a URL gives none: the drivers ferryman depends on.
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
# Messages of errors that are worth a retry (lost connection, deadlock, lock wait).
_TRANSIENT_MARKERS = (
    "deadlock",
    "lock wait timeout",
    "server closed the connection",
    "lost connection",
    "connection reset",
    "could not serialize",
    "gone away",
)


def normalise_url(url: str) -> str:
    """Pick ferryman's drivers (psycopg 3, PyMySQL) when the URL names only the dialect."""
    parsed = make_url(url)
    if parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, schema: str | None = None) -> Engine:
    """An engine with ferryman's defaults; connecting happens lazily. A target's dialect
    adds what it needs (`SqlDialect.prepare_engine`)."""
    url = normalise_url(url)
    kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
    dialect = make_url(url).get_backend_name()
    if dialect == "postgresql" and schema:
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    if dialect == "sqlite":
        kwargs.pop("pool_pre_ping")
    return sa.create_engine(url, **kwargs)


_SQLITE_TRANSACTIONAL: weakref.WeakSet[Engine] = weakref.WeakSet()


def sqlite_transactions(engine: Engine) -> None:
    """Let SQLite's own transactions (with DDL and SAVEPOINTs) do the work: pysqlite would
    otherwise run CREATE TABLE outside any transaction. SQLAlchemy's documented recipe;
    applied once per engine."""
    if engine in _SQLITE_TRANSACTIONAL:
        return
    _SQLITE_TRANSACTIONAL.add(engine)

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def describe_url(url: str) -> str:
    return mask_url(normalise_url(url))


def translate_error(
    err: BaseException, connection: str, url: str, secrets: tuple[str, ...] = ()
) -> ConnectorError:
    """Map a driver/SQLAlchemy exception onto the connector taxonomy, with no secret in it."""
    where = f"connection {connection!r} ({describe_url(url)})"
    detail = mask_text(_first_line(err), (*secrets, make_url(url).password or ""))
    if isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError):
        low = detail.lower()
        if any(marker in low for marker in _TRANSIENT_MARKERS):
            return TransientError(f"{where}: {detail}; will retry")
        return ConnectionFailed(
            f"cannot use {where}: {detail}. Check that the server is up and the URL"
            " (host, port, user, database) is right."
        )
    if isinstance(err, sa_exc.NoSuchTableError):
        return TerminalError(f"{where}: table {err} does not exist")
    return TerminalError(f"{where}: {detail}")


def _first_line(err: BaseException) -> str:
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else err).strip()
    return text.splitlines()[0] if text else type(err).__name__
