"""Connection options of the `sql` kind, as written in ferryman.yaml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class SqlOptions(BaseModel):
    """A database reached through SQLAlchemy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: SecretStr = Field(
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; put passwords in"
        " the environment: ${TARGET_URL}."
    )
    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Schema (PostgreSQL) holding the tables; the connection's default if unset.",
    )
