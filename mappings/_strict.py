"""The base of every spec model, apart so that `ferryman.mappings.model` and the option models it
uses (`ferryman.mappings.options`) share it without importing each other."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class StrictModel(BaseModel):
    """Base of every spec model: unknown keys are errors (a typo never passes silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
