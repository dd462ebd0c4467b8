"""One encoding option type for every connector kind that reads text: the same check, the
same message, the same codecs (EBCDIC pages included) wherever an encoding is named."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from ferryman.connectors.kinds import CONNECTORS

REQUIRED = {"path": ".", "layout": [{"name": "a", "start": 0, "length": 1}], "copybook": "x"}


def _with_encoding() -> list[tuple[str, type[BaseModel], str]]:
    out = []
    for name in CONNECTORS.names():
        options = CONNECTORS.get(name).options_model()
        for field in ("encoding", "code_page"):
            if field in options.model_fields:
                out.append((name, options, field))
    return out


def _options(model: type[BaseModel], field: str, value: str) -> BaseModel:
    known = {k: v for k, v in REQUIRED.items() if k in model.model_fields}
    return model.model_validate({**known, field: value})


@pytest.mark.parametrize(
    ("kind", "model", "field"), _with_encoding(), ids=[k for k, _, _ in _with_encoding()]
)
def test_every_encoding_option_is_checked_alike(
    kind: str, model: type[BaseModel], field: str
) -> None:
    what = field.replace("_", " ")
    with pytest.raises(ValidationError, match=f"unknown {what} 'cp9999'; use a Python codec name"):
        _options(model, field, "cp9999")
    assert getattr(_options(model, field, "latin-1"), field) == "latin-1"


def test_the_kinds_that_read_text_all_name_their_encoding() -> None:
    assert {k for k, _, _ in _with_encoding()} == {"csv", "fixed_width", "dbf", "jsonl", "ebcdic"}


@pytest.mark.parametrize("kind", ["csv", "fixed_width"])
def test_auto_is_offered_where_detection_is(kind: str) -> None:
    model = CONNECTORS.get(kind).options_model()
    assert _options(model, "encoding", "auto").encoding == "auto"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="or `auto` to detect it"):
        _options(model, "encoding", "cp9999")
