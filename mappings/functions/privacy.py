"""`hash`: pseudonymise personal data with a keyed hash, so the same person gets the same
pseudonym in every table and run, and nobody without the key can reverse or re-derive it.

The key (the "salt") comes from the environment, never from the spec file: the spec names
the variable (`salt: ${PSEUDONYM_KEY}`), a literal value is refused when the spec loads.
"""

from __future__ import annotations

import hashlib
import hmac
import re

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, PrivateAttr, field_validator

from ferryman.mappings._arrow import StepResult
from ferryman.mappings._casts import per_value
from ferryman.mappings.functions.base import DocExample, TextFunction, expect_args
from ferryman.mappings.lookups import CompileContext
from ferryman.mappings.model import StrictModel

_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class HashArgs(StrictModel):
    salt: str = Field(
        description="The secret key, as a reference to an environment variable:"
        " '${PSEUDONYM_KEY}' (never the value itself). At least 16 characters."
    )
    algorithm: str = Field(default="sha256", description="sha256 (HMAC-SHA-256), the only one.")
    length: int | None = Field(
        default=None, ge=8, le=64, description="Keep only the first N hex digits (default 64)."
    )
    _key: bytes = PrivateAttr(default=b"")

    @field_validator("salt")
    @classmethod
    def _from_environment(cls, v: str) -> str:
        if not _ENV_REF.match(v):
            raise ValueError(
                "the salt must come from the environment, written '${VARIABLE}'; a key in"
                " the spec file would let anyone with the file re-identify people"
            )
        return v

    @field_validator("algorithm")
    @classmethod
    def _sha256(cls, v: str) -> str:
        if v != "sha256":
            raise ValueError(f"algorithm {v!r} is not supported; use sha256")
        return v

    @property
    def variable(self) -> str:
        m = _ENV_REF.match(self.salt)
        assert m is not None  # checked by the validator
        return m.group(1)


class Hash(TextFunction):
    """HMAC-SHA-256 of the value's text with a key from the environment, as hex.
    Runs in Python once per distinct value of the batch (Arrow has no SHA-256)."""

    name = "hash"
    args_model = HashArgs
    scalar_arg = "salt"
    doc_example = DocExample(
        step="hash: {salt: '${FERRYMAN_DOC_SALT}', length: 16}",
        inputs=[["ada@example.org", None]],
        output=["792b48d7b855c6cc", None],
        environ={"FERRYMAN_DOC_SALT": "doc-salt-0123456789"},
    )

    def prepare(self, args: BaseModel, ctx: CompileContext) -> BaseModel:
        a = expect_args(args, HashArgs)
        key = ctx.environ.get(a.variable)
        if key is None:
            raise ValueError(
                f"environment variable {a.variable} is not set; export it (the pseudonym"
                " key) before running ferryman"
            )
        if len(key) < 16:
            raise ValueError(
                f"environment variable {a.variable} holds {len(key)} characters; a pseudonym"
                " key needs at least 16 (e.g. `openssl rand -hex 32`)"
            )
        bound = a.model_copy()
        bound._key = key.encode()
        return bound

    def transform(self, text: pa.Array, args: BaseModel) -> StepResult:
        a = expect_args(args, HashArgs)
        if not a._key:
            raise RuntimeError("hash was applied without prepare(): compile the spec first")
        key = a._key

        def digest(value: str) -> str:
            return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()

        hashed = per_value(text, digest, pa.string())
        if a.length is not None:
            hashed = pc.utf8_slice_codeunits(hashed, start=0, stop=a.length)
        return StepResult(hashed)
