"""YAML loading with positions: data, positions, syntax errors and duplicate keys."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ferryman.yaml_positions import (
    UNREADABLE,
    PositionMap,
    SpecError,
    SpecIssue,
    load_yaml,
    read_yaml,
)


def write(tmp_path: Path, text: str, name: str = "f.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_data_is_plain_python_with_yaml_1_2_scalars(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb: 1.5\nc: yes\nd: 2024-01-02\ne: ~\nf: [x, 'y']\ng: ${DB_URL}\n")
    data, _ = load_yaml(path)
    assert data == {
        "a": 1,
        "b": 1.5,
        "c": "yes",  # YAML 1.2: not a boolean (the Norway problem)
        "d": dt.date(2024, 1, 2),
        "e": None,
        "f": ["x", "y"],
        "g": "${DB_URL}",  # interpolation is the project loader's job; untouched here
    }
    assert type(data) is dict
    assert type(data["f"]) is list


def test_positions_of_keys_values_and_items(tmp_path: Path) -> None:
    path = write(tmp_path, "top:\n  inner: {k: v}\n  items:\n    - one\n    - two: 2\n")
    _, pos = load_yaml(path)
    assert pos.key(("top", "inner")) == (2, 3)
    assert pos.value(("top", "inner")) == (2, 10)
    assert pos.value(("top", "inner", "k")) == (2, 14)
    assert pos.value(("top", "items", 1)) == (5, 7)
    assert pos.value(("top", "items", 1, "two")) == (5, 12)
    assert pos.format(("top", "items", 1, "two")) == "top.items[1].two"


def test_unknown_path_falls_back_to_nearest_ancestor(tmp_path: Path) -> None:
    _, pos = load_yaml(write(tmp_path, "a:\n  b: 1\n"))
    assert pos.value(("a", "b", "missing", 3)) == (2, 6)
    assert PositionMap().value(("x",)) == (1, 1)


def test_integer_mapping_keys_are_not_formatted_as_indices(tmp_path: Path) -> None:
    _, pos = load_yaml(write(tmp_path, "m:\n  1: a\nl: [a, b]\n"))
    assert pos.format(("m", 1)) == "m.1"
    assert pos.format(("l", 1)) == "l[1]"


@pytest.mark.parametrize(
    ("text", "offset", "expected"),
    [
        ("f: A == 1\n", 5, (1, 9)),  # plain: start + offset
        ("f: \"A == 'x'\"\n", 5, (1, 10)),  # quoted: + 1 for the quote
        ("f: 'A == 1'\n", 0, (1, 5)),
        ("f: |\n  A == 1\n", 5, (1, 4)),  # block: the node start
        ("f: A ==\n  1\n", 5, (1, 4)),  # multi-line plain: the node start
    ],
)
def test_position_inside_a_scalar(
    tmp_path: Path, text: str, offset: int, expected: tuple[int, int]
) -> None:
    _, pos = load_yaml(write(tmp_path, text))
    assert pos.in_scalar(("f",), offset) == expected


def test_anchor_and_merge_keys_work_and_point_into_the_anchor(tmp_path: Path) -> None:
    text = "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nl: *b\n"
    data, pos = load_yaml(write(tmp_path, text))
    assert data["m"] == {"x": 1, "y": 3}
    assert data["l"] == {"x": 1, "y": 2}
    assert pos.value(("m", "x")) == (1, 14)  # where the merged value is written
    assert pos.value(("m", "y")) == (4, 6)  # the explicit value wins


def test_duplicate_keys_are_all_reported_at_the_repeated_key(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    with pytest.raises(SpecError) as err:
        load_yaml(path, display_path="f.yaml")
    assert str(err.value).splitlines() == [
        "f.yaml:4:3: b.c: duplicate key 'c' (first defined at line 3, column 3);"
        " keep only one of them",
        "f.yaml:5:1: a: duplicate key 'a' (first defined at line 1, column 1);"
        " keep only one of them",
    ]


def test_read_yaml_keeps_data_despite_duplicate_keys(tmp_path: Path) -> None:
    data, _, issues = read_yaml(write(tmp_path, "a: 1\na: 2\n"))
    assert data == {"a": 2}
    assert len(issues) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a:\n\tb: 1\n",
            "f.yaml:2:1: YAML syntax error: a tab character; YAML indents with spaces only:"
            " replace the tab with spaces",
        ),
        (
            "a: [1, 2\nb: 3\n",
            "f.yaml:2:2: YAML syntax error: expected ',' or ']', but got ':'"
            " (while parsing a flow sequence that starts at line 1, column 4)",
        ),
        (
            "a: b: c\n",
            "f.yaml:1:5: YAML syntax error: unexpected ':'; a value containing ': ' must be"
            " quoted, or the indentation is off",
        ),
        (
            "a: *nope\n",
            "f.yaml:1:4: YAML syntax error: an alias (*name) refers to an anchor (&name)"
            " that is not defined",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "f.yaml:2:1: YAML syntax error: the file holds more than one YAML document"
            " (`---`); keep one document per file",
        ),
    ],
)
def test_syntax_errors_are_positioned(tmp_path: Path, text: str, expected: str) -> None:
    data, _, issues = read_yaml(write(tmp_path, text), "f.yaml")
    assert data is UNREADABLE
    assert [str(i) for i in issues] == [expected]


def test_unsupported_tags_and_complex_keys_are_issues(tmp_path: Path) -> None:
    path = write(tmp_path, "a: !secret x\n? [k]\n: 1\nc: !!int nope\nd: 2024-13-45\n")
    _, _, issues = read_yaml(path, "f.yaml")
    assert [str(i) for i in issues] == [
        "f.yaml:1:4: a: unsupported YAML tag '!secret'; remove it",
        "f.yaml:2:3: a key must be a plain value, not a list or mapping",
        "f.yaml:4:4: c: 'nope' is not a valid int",
        "f.yaml:5:4: d: '2024-13-45' is not a valid timestamp",
    ]


def test_recursive_alias_is_an_issue_not_a_hang(tmp_path: Path) -> None:
    _, _, issues = read_yaml(write(tmp_path, "a: &x [*x]\n"), "f.yaml")
    assert [str(i) for i in issues] == [
        # the alias is the anchored node itself, so it is reported where the anchor is
        "f.yaml:1:4: a[0]: an alias refers to itself (recursive anchor)"
    ]


def test_unreadable_file_is_an_issue(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"a: caf\xe9\n")
    data, _, issues = read_yaml(path, "latin1.yaml")
    assert data is UNREADABLE
    assert str(issues[0]).startswith("latin1.yaml:1:1: cannot read: 'utf-8' codec")


def test_empty_file_is_none(tmp_path: Path) -> None:
    assert load_yaml(write(tmp_path, "# only a comment\n"))[0] is None


def test_issue_and_error_formatting_sorted_by_file_line_column() -> None:
    issues = [
        SpecIssue("b.yaml", 1, 1, "", "third"),
        SpecIssue("a.yaml", 10, 2, "x", "second"),
        SpecIssue("a.yaml", 2, 30, "y.z[0]", "first"),
    ]
    err = SpecError(issues)
    assert str(err) == "a.yaml:2:30: y.z[0]: first\na.yaml:10:2: x: second\nb.yaml:1:1: third"
    assert [i.message for i in err.issues] == ["first", "second", "third"]
