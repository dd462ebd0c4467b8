"""Canonical JSON text: one spelling per value, stable, and what PostgreSQL's jsonb gives
back for it (after canonicalising what it returns): the property the journal's hashes,
upsert comparisons and rollbacks of json columns rely on."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from ferryman.connectors.json_text import JsonProblem, canonical_json, canonical_value
from ferryman.connectors.sql.types import JsonText
from tests.conftest import Database


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('{"b": 1, "a": {"d": [], "c": {}}}', '{"a":{"c":{},"d":[]},"b":1}'),
        ("[1e2, 1.0e2, 2.50, 1.5E-3, -0, -0.0, 0E-5]", "[100,100,2.50,0.0015,0,0.0,0.00000]"),
        ("12345678901234567890123456789", "12345678901234567890123456789"),
        ('"\\u00e9\\n\\"\\\\\\t\\u001f"', '"é\\n\\"\\\\\\t\\u001f"'),
        ('{"é": 1, "Z": 2, "z": 3, "": 4}', '{"":4,"Z":2,"z":3,"é":1}'),
        (" true ", "true"),
        ("null", "null"),
    ],
)
def test_canonical_spelling(text: str, canonical: str) -> None:
    assert canonical_json(text) == canonical
    assert canonical_json(canonical) == canonical


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"a": 1, "a": 1}', "has the key 'a' twice"),
        ('["\\u0000"]', "\\u0000"),
        ('"\\ud800"', "lone UTF-16 surrogate"),
        ("1e131072", "numeric range"),
        ("1e-16384", "numeric range"),
    ],
)
def test_json_that_cannot_be_kept_exactly_is_refused(text: str, problem: str) -> None:
    with pytest.raises(JsonProblem, match=problem.replace("\\", "\\\\")):
        canonical_json(text)


@pytest.mark.parametrize("text", ["NaN", "{'a': 1}", "", "[1,]", "01"])
def test_text_that_is_not_json_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="JSON|Expecting|Extra data"):
        canonical_json(text)


TEXT = st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(TEXT, max_size=4), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, indent=st.sampled_from([None, 0, 2]), sort=st.booleans())
def test_canonical_text_does_not_depend_on_the_spelling(
    value: Any, indent: int | None, sort: bool
) -> None:
    spelt = json.dumps(value, indent=indent, sort_keys=sort, ensure_ascii=sort)
    canonical = canonical_json(spelt)
    assert canonical_json(canonical) == canonical
    assert canonical_json(json.dumps(value)) == canonical
    exact = {"parse_float": Decimal, "parse_int": Decimal}
    assert json.loads(canonical, **exact) == json.loads(spelt, **exact)  # nothing lost
    assert canonical_value(value) == canonical


def _number(rng: random.Random) -> str:
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25))).lstrip("0")
    text = rng.choice(["-", ""]) + (digits or "0")
    if rng.random() < 0.6:
        text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))
    if rng.random() < 0.4:
        text += rng.choice("eE") + rng.choice(["", "+", "-"]) + str(rng.randint(0, 40))
    return text


def _string(rng: random.Random) -> str:
    alphabet = ['"', "\\", "\n", "\x01", "\x1f", "é", "€", "😀", "a", " ", "/", "\u2028"]
    return json.dumps("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))))


def _document(rng: random.Random, depth: int = 0) -> str:
    kind = rng.choice(["num", "str", "lit", "list", "obj"] if depth < 3 else ["num", "str"])
    if kind == "num":
        return _number(rng)
    if kind == "str":
        return _string(rng)
    if kind == "lit":
        return rng.choice(["true", "false", "null"])
    if kind == "list":
        return "[" + " , ".join(_document(rng, depth + 1) for _ in range(rng.randint(0, 4))) + "]"
    keys = {json.loads(_string(rng)) for _ in range(rng.randint(0, 4))}
    return (
        "{" + ",".join(f"{json.dumps(k)} :{_document(rng, depth + 1)}" for k in sorted(keys)) + "}"
    )


def test_jsonb_gives_back_the_canonical_text_it_was_given(postgres_db: Database) -> None:
    """600 documents with every number spelling and awkward strings: stored in jsonb as
    canonical text and read back through JsonText, each is exactly the text written."""
    rng = random.Random(20261126)
    written = [canonical_json(_document(rng)) for _ in range(600)]
    table = sa.Table(
        "docs",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("doc", JsonText()),
    )
    with postgres_db.engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"id": i, "doc": d} for i, d in enumerate(written)])
        stored = conn.execute(sa.text("SELECT CAST(doc AS TEXT) FROM docs ORDER BY id")).scalars()
        read = conn.execute(sa.select(table.c.doc).order_by(table.c.id)).scalars().all()
        kind = conn.execute(
            sa.text("SELECT data_type FROM information_schema.columns WHERE table_name = 'docs'"
                    " AND column_name = 'doc' AND table_schema = current_schema()")
        ).scalar_one()  # fmt: skip
    assert kind == "jsonb"
    assert read == written
    # jsonb really keeps the value, not the text: most come back spelt its own way
    assert sum(s != w for s, w in zip(stored, written, strict=True)) > 100


def test_deep_nesting_is_serialised_without_recursion() -> None:
    deep = "[" * 400 + '{"a":1}' + "]" * 400
    assert canonical_json(deep) == deep
    with pytest.raises(JsonProblem, match="nests deeper"):
        canonical_json("[" * 5000 + "]" * 5000)
