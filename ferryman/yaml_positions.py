"""YAML loading that remembers where every value came from.

Every spec file (mapping specs, validation suites, ferryman.yaml) is read through
`load_yaml`, which returns plain Python data (dicts, lists, scalars) plus a `PositionMap`
from each value's path (`("fields", "email", "transform", 0)`) to its line and column.
Error reporting then turns any path (from pydantic, from our own checks) into
`file:line:column`, which is what an engineer needs to fix a file at 2 a.m.

We compose the document with ruamel.yaml (YAML 1.2: `yes`/`no` stay strings) and build the
data ourselves from the node graph rather than letting ruamel construct it. That way
every key and value keeps its position, *all* duplicate keys are reported (ruamel stops at
the first), and merge keys (`<<: *anchor`) still work. Scalars are typed by ruamel's own
safe constructor, so `1` is an int and `2024-01-01` a date, as in any YAML tool.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, StreamMark
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

YamlPath = tuple[Hashable, ...]
"""Keys and list indices from the document root to a value."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:set"}
_SEQ_TAGS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:pairs", "tag:yaml.org,2002:omap"}


@dataclass(frozen=True)
class SpecIssue:
    """One problem in one file, at a 1-based line and column."""

    file: str
    line: int
    column: int
    path: str
    """Dotted path of the value at fault (`fields.email.transform[0]`); empty for the file."""
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.path, self.message)


class SpecError(Exception):
    """One or more spec files are wrong. `str(err)` is one issue per line, in file order."""

    def __init__(self, issues: Iterable[SpecIssue]) -> None:
        self.issues: list[SpecIssue] = sorted(issues, key=SpecIssue.sort_key)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass(frozen=True)
class NodePosition:
    """Where one value sits in the file (1-based), and where its key sits if it has one."""

    line: int
    column: int
    end_line: int
    end_column: int
    style: str | None
    """Scalar style: None (plain), `'`, `"`, `|` or `>`; None for mappings and lists."""
    key_line: int | None = None
    key_column: int | None = None
    in_sequence: bool = False
    """True when the value is a list item (its last path element is an index)."""


class PositionMap:
    """Path -> position of every value of one document. Unknown paths fall back to the
    nearest known ancestor, so an error is never without a position."""

    def __init__(self) -> None:
        self._nodes: dict[YamlPath, NodePosition] = {}

    def __contains__(self, path: object) -> bool:
        return path in self._nodes

    def get(self, path: YamlPath) -> NodePosition | None:
        return self._nodes.get(tuple(path))

    def set(self, path: YamlPath, position: NodePosition) -> None:
        self._nodes[tuple(path)] = position

    def _nearest(self, path: YamlPath) -> NodePosition | None:
        path = tuple(path)
        while path not in self._nodes and path:
            path = path[:-1]
        return self._nodes.get(path)

    def value(self, path: YamlPath) -> tuple[int, int]:
        """Line and column where the value at `path` starts."""
        pos = self._nearest(path)
        return (pos.line, pos.column) if pos else (1, 1)

    def key(self, path: YamlPath) -> tuple[int, int]:
        """Line and column of the key of the entry at `path` (the value's when no key)."""
        pos = self._nearest(path)
        if pos is None:
            return (1, 1)
        if pos.key_line is not None and pos.key_column is not None:
            return (pos.key_line, pos.key_column)
        return (pos.line, pos.column)

    def in_scalar(self, path: YamlPath, offset: int) -> tuple[int, int]:
        """Position of character `offset` of the scalar at `path`.

        Exact for single-line plain and quoted scalars (escapes aside); for block and
        multi-line scalars the text no longer maps onto columns, so the scalar's start.
        """
        pos = self.get(path)
        if pos is None:
            return self.value(path)
        if pos.style in ("|", ">") or pos.line != pos.end_line:
            return (pos.line, pos.column)
        quote = 1 if pos.style in ("'", '"') else 0
        return (pos.line, pos.column + quote + max(offset, 0))

    def format(self, path: Sequence[Hashable]) -> str:
        """`fields.email.transform[0]`: indices of lists in brackets, keys dotted."""
        out = ""
        for i, part in enumerate(path):
            pos = self._nodes.get(tuple(path[: i + 1]))
            is_index = pos.in_sequence if pos else isinstance(part, int)
            if is_index:
                out += f"[{part}]"
            else:
                out += f".{part}" if out else str(part)
        return out


def _mark(mark: StreamMark) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1)


class _Builder:
    """Turns a composed node graph into plain data, filling a PositionMap and issues."""

    def __init__(self, yaml: YAML, display: str) -> None:
        self.yaml = yaml
        self.display = display
        self.positions = PositionMap()
        self.issues: list[SpecIssue] = []
        self._stack: set[int] = set()

    def issue(self, mark: StreamMark, path: YamlPath, message: str) -> None:
        line, column = _mark(mark)
        self.issues.append(
            SpecIssue(self.display, line, column, self.positions.format(path), message)
        )

    def build(
        self, node: Node, path: YamlPath, key: Node | None = None, in_seq: bool = False
    ) -> Any:
        (line, col), (end_line, end_col) = _mark(node.start_mark), _mark(node.end_mark)
        key_line, key_col = _mark(key.start_mark) if key is not None else (None, None)
        style = node.style if isinstance(node, ScalarNode) else None
        self.positions.set(
            path,
            NodePosition(line, col, end_line, end_col, style, key_line, key_col, in_seq),
        )
        if id(node) in self._stack:
            self.issue(node.start_mark, path, "an alias refers to itself (recursive anchor)")
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        self._stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, _SEQ_TAGS, path)
                return [self.build(n, (*path, i), in_seq=True) for i, n in enumerate(node.value)]
            if isinstance(node, MappingNode):
                self._check_tag(node, _MAP_TAGS, path)
                return self._mapping(node, path)
            return None
        finally:
            self._stack.discard(id(node))

    def _check_tag(self, node: Node, allowed: set[str], path: YamlPath) -> None:
        if node.tag not in allowed:
            self.issue(node.start_mark, path, f"unsupported YAML tag {node.tag!r}; remove it")

    def _scalar(self, node: ScalarNode, path: YamlPath) -> Any:
        try:
            return self.yaml.constructor.construct_object(node, deep=True)
        except MarkedYAMLError as e:
            problem = e.problem or str(e)
            if "could not determine a constructor" in problem:
                problem = f"unsupported YAML tag {node.tag!r}; remove it"
            self.issue(node.start_mark, path, problem)
        except (ValueError, TypeError):  # e.g. `!!int nope`, or the date 2024-13-45
            kind = str(node.tag).rsplit(":", 1)[-1]
            self.issue(node.start_mark, path, f"{node.value!r} is not a valid {kind}")
        return None

    def _key(self, node: Node, path: YamlPath) -> tuple[bool, Hashable]:
        """(usable, key): complex keys (`? [a, b]`) are reported and skipped."""
        if not isinstance(node, ScalarNode):
            self.issue(node.start_mark, path, "a key must be a plain value, not a list or mapping")
            return False, None
        value = self._scalar(node, path)
        return isinstance(value, Hashable), value

    def _mapping(self, node: MappingNode, path: YamlPath) -> dict[Hashable, Any]:
        result: dict[Hashable, Any] = {}
        for knode, vnode in node.value:
            if knode.tag == _MERGE_TAG:
                self._merge(result, vnode, path)
        first_seen: dict[Hashable, Node] = {}
        for knode, vnode in node.value:
            if knode.tag == _MERGE_TAG:
                continue
            usable, key = self._key(knode, path)
            if not usable:
                continue
            if key in first_seen:
                line, column = _mark(first_seen[key].start_mark)
                self.issue(
                    knode.start_mark,
                    (*path, key),
                    f"duplicate key {key!r} (first defined at line {line}, column {column});"
                    " keep only one of them",
                )
            first_seen[key] = knode
            result[key] = self.build(vnode, (*path, key), key=knode)
        return result

    def _merge(self, result: dict[Hashable, Any], vnode: Node, path: YamlPath) -> None:
        """`<<: *a` or `<<: [*a, *b]`: earlier sources win, explicit keys win over all."""
        sources = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
        for source in sources:
            if not isinstance(source, MappingNode) or id(source) in self._stack:
                self.issue(source.start_mark, path, "`<<` merges other mappings only (`<<: *a`)")
                continue
            for key, value in self._mapping(source, path).items():
                result.setdefault(key, value)


_HINTS = {
    "found character '\\t' that cannot start any token": (
        "a tab character; YAML indents with spaces only: replace the tab with spaces"
    ),
    "mapping values are not allowed here": (
        "unexpected ':'; a value containing ': ' must be quoted, or the indentation is off"
    ),
    "found undefined alias": "an alias (*name) refers to an anchor (&name) that is not defined",
    "but found another document": (
        "the file holds more than one YAML document (`---`); keep one document per file"
    ),
}


def syntax_issue(error: MarkedYAMLError, display: str) -> SpecIssue:
    """A ruamel syntax error as a positioned issue, with a hint for the usual mistakes."""
    mark = error.problem_mark or error.context_mark
    line, column = _mark(mark) if mark is not None else (1, 1)
    problem = (error.problem or str(error)).strip()
    message = next((hint for text, hint in _HINTS.items() if text in problem), None)
    if message is None:
        message = problem
        if error.context and error.context_mark is not None:
            ctx_line, ctx_col = _mark(error.context_mark)
            message += f" ({error.context} that starts at line {ctx_line}, column {ctx_col})"
    return SpecIssue(display, line, column, "", f"YAML syntax error: {message}")


class _Unreadable:
    """Marker: the file could not be parsed at all, so there is no data to validate."""


UNREADABLE: Any = _Unreadable()


def read_yaml(path: Path, display: str | None = None) -> tuple[Any, PositionMap, list[SpecIssue]]:
    """Data, positions and the YAML-level issues of one file; never raises for bad YAML.

    The data is `UNREADABLE` when the file cannot be read or parsed (syntax error).
    Duplicate keys are issues, yet the data is still returned (the last value wins) so
    that validation can report everything else in the same pass.
    """
    display = display if display is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return UNREADABLE, PositionMap(), [SpecIssue(display, 1, 1, "", f"cannot read: {e}")]
    yaml = YAML(typ="safe", pure=True)
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as e:
        return UNREADABLE, PositionMap(), [syntax_issue(e, display)]
    builder = _Builder(yaml, display)
    data = None if node is None else builder.build(node, ())
    return data, builder.positions, builder.issues


def load_yaml(path: Path, *, display_path: str | None = None) -> tuple[Any, PositionMap]:
    """Plain data and its positions; raises SpecError for syntax errors and duplicate keys."""
    data, positions, issues = read_yaml(path, display_path)
    if issues:
        raise SpecError(issues)
    return data, positions
