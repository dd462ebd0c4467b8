"""Parse a COBOL copybook into a tree of data items.

Only the data description matters here: level numbers, names, PICTURE, USAGE, OCCURS
(with DEPENDING ON), REDEFINES and SIGN. VALUE clauses and level-88 condition names are
read past. What the parser does not understand it refuses with the copybook line, because
a misread layout shifts every byte after it and silently garbles the rest of the record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ferryman.connectors.errors import TerminalError


class CopybookError(TerminalError):
    """The copybook cannot be parsed or uses a feature ferryman does not support."""


@dataclass
class Item:
    """One data description entry (a group or an elementary item)."""

    level: int
    name: str
    line: int
    pic: str | None = None
    usage: str | None = None
    occurs: int | None = None
    depending_on: str | None = None
    redefines: str | None = None
    sign_leading: bool | None = None
    sign_separate: bool = False
    children: list[Item] = field(default_factory=list)

    @property
    def is_filler(self) -> bool:
        return self.name.upper() == "FILLER"


_USAGES = {
    "DISPLAY": "display",
    "COMP": "binary",
    "COMPUTATIONAL": "binary",
    "COMP-4": "binary",
    "COMPUTATIONAL-4": "binary",
    "BINARY": "binary",
    "COMP-5": "native",
    "COMPUTATIONAL-5": "native",
    "COMP-3": "packed",
    "COMPUTATIONAL-3": "packed",
    "PACKED-DECIMAL": "packed",
    "COMP-1": "float",
    "COMPUTATIONAL-1": "float",
    "COMP-2": "float",
    "COMPUTATIONAL-2": "float",
}
# Clauses read past: they do not change the layout of the data.
_IGNORED = {"JUSTIFIED", "JUST", "RIGHT", "BLANK", "WHEN", "ZERO", "ZEROS", "ZEROES", "GLOBAL"}
_TOKEN = re.compile(r"""'(?:[^']|'')*'\.?|"(?:[^"]|"")*"\.?|\S+""")


def source_lines(text: str, free_format: bool) -> Iterator[tuple[int, str]]:
    """(line number, code text) of each line, comments and sequence areas removed.

    Fixed format (the default): columns 1-6 are a sequence area, column 7 the indicator
    (`*` or `/` marks a comment) and columns 8-72 the code. Tabs count as 8 columns.
    """
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.expandtabs(8)
        if free_format:
            stripped = line.strip()
            if stripped.startswith(("*", "*>")):
                continue
            yield number, line.split("*>", 1)[0]
            continue
        if len(line) > 6 and line[6] in "*/":
            continue
        yield number, line[7:72]


def _tokens(text: str, free_format: bool) -> Iterator[tuple[int, str]]:
    for number, code in source_lines(text, free_format):
        for m in _TOKEN.finditer(code):
            yield number, m.group(0)


def _entries(text: str, free_format: bool) -> Iterator[tuple[int, list[str]]]:
    """Each data description entry: its first line and its tokens, the final period gone."""
    current: list[str] = []
    start = 0
    for number, token in _tokens(text, free_format):
        if not current:
            start = number
        if token.endswith(".") and not token.startswith(("'", '"')) or token.endswith(("'.", '".')):
            if token != ".":
                current.append(token[:-1])
            yield start, current
            current = []
        else:
            current.append(token)
    if current:
        raise CopybookError(
            f"copybook line {start}: entry {' '.join(current[:4])!r}... has no final period;"
            " every data description entry ends with '.'"
        )


def parse_copybook(text: str, *, free_format: bool = False) -> Item:
    """The copybook as a tree under a synthetic root (level 0)."""
    root = Item(level=0, name="", line=0)
    stack = [root]
    seen_any = False
    for line, tokens in _entries(text, free_format):
        item = _entry(line, tokens)
        if item is None:
            continue
        seen_any = True
        while stack[-1].level >= item.level:
            stack.pop()
        parent = stack[-1]
        if parent.pic is not None:
            raise CopybookError(
                f"copybook line {line}: {item.name} (level {item.level}) is under"
                f" {parent.name}, which has a PICTURE and so cannot have subordinate items"
            )
        parent.children.append(item)
        stack.append(item)
    if not seen_any:
        raise CopybookError("copybook has no data description entries (is it empty?)")
    return root


def _entry(line: int, tokens: list[str]) -> Item | None:
    if not tokens or not tokens[0].isdigit():
        raise CopybookError(
            f"copybook line {line}: expected a level number, found {tokens[0] if tokens else ''!r}"
            " (is the copybook in free format? set `copybook_format: free`)"
        )
    level = int(tokens[0])
    if level == 88:
        return None
    if level == 66:
        raise CopybookError(f"copybook line {line}: level 66 (RENAMES) is not supported")
    if level == 77:
        level = 1
    if not 1 <= level <= 49:
        raise CopybookError(f"copybook line {line}: level {level} is not a data level (01-49)")
    rest = tokens[1:]
    name = "FILLER"
    if rest and rest[0].upper() not in _CLAUSE_WORDS:
        name = rest.pop(0)  # as written: column names keep the copybook's case
    item = Item(level=level, name=name, line=line)
    _clauses(item, [t for t in rest])
    return item


_CLAUSE_WORDS = {
    "PIC",
    "PICTURE",
    "USAGE",
    "OCCURS",
    "REDEFINES",
    "SIGN",
    "VALUE",
    "VALUES",
    "SYNC",
    "SYNCHRONIZED",
    "LEADING",
    "TRAILING",
    *_USAGES,
    *_IGNORED,
}


def _clauses(item: Item, tokens: list[str]) -> None:
    i = 0
    while i < len(tokens):
        word = tokens[i].upper()
        i += 1
        if word in _USAGES:
            item.usage = _usage(item, word)
        elif word in _IGNORED or word == "IS":
            continue
        elif word in ("SIGN", "LEADING", "TRAILING"):
            i = _sign(item, tokens, i - 1)
        else:
            handler = _HANDLERS.get(word)
            if handler is None:
                raise CopybookError(
                    f"copybook line {item.line}: {item.name}: unknown clause {tokens[i - 1]!r}"
                )
            i = handler(item, tokens, i)


def _optional_is(tokens: list[str], i: int) -> int:
    return i + 1 if i < len(tokens) and tokens[i].upper() in ("IS", "ARE") else i


def _picture(item: Item, tokens: list[str], i: int) -> int:
    i = _optional_is(tokens, i)
    if i >= len(tokens):
        raise CopybookError(f"copybook line {item.line}: {item.name}: PIC without a picture")
    item.pic = tokens[i].upper()
    return i + 1


def _usage_clause(item: Item, tokens: list[str], i: int) -> int:
    i = _optional_is(tokens, i)
    item.usage = _usage(item, tokens[i].upper() if i < len(tokens) else "")
    return i + 1


def _redefines(item: Item, tokens: list[str], i: int) -> int:
    if i >= len(tokens):
        raise CopybookError(f"copybook line {item.line}: {item.name}: REDEFINES what?")
    item.redefines = tokens[i].upper()
    return i + 1


def _sync(item: Item, tokens: list[str], i: int) -> int:
    raise CopybookError(
        f"copybook line {item.line}: {item.name}: SYNCHRONIZED adds slack bytes that"
        " depend on the compiler; it is not supported (remove it only if the file was"
        " written without alignment)"
    )


def _usage(item: Item, word: str) -> str:
    usage = _USAGES.get(word)
    if usage is None:
        raise CopybookError(f"copybook line {item.line}: {item.name}: unknown USAGE {word!r}")
    if usage == "float":
        raise CopybookError(
            f"copybook line {item.line}: {item.name}: {word} (hexadecimal floating point)"
            " is not supported"
        )
    return usage


def _occurs(item: Item, tokens: list[str], i: int) -> int:
    def number(j: int) -> int:
        if j >= len(tokens) or not tokens[j].isdigit():
            raise CopybookError(
                f"copybook line {item.line}: {item.name}: OCCURS needs a number of times"
            )
        return int(tokens[j])

    count = number(i)
    i += 1
    if i < len(tokens) and tokens[i].upper() == "TO":
        count = number(i + 1)
        i += 2
    item.occurs = count
    while i < len(tokens):
        word = tokens[i].upper()
        if word == "TIMES":
            i += 1
        elif word == "DEPENDING":
            i += 1
            if i < len(tokens) and tokens[i].upper() == "ON":
                i += 1
            item.depending_on = tokens[i].upper()
            i += 1
        elif word in ("ASCENDING", "DESCENDING", "INDEXED"):
            i += 1
            while i < len(tokens) and tokens[i].upper() not in _CLAUSE_WORDS:
                i += 1
        else:
            break
    return i


def _sign(item: Item, tokens: list[str], i: int) -> int:
    if tokens[i].upper() == "SIGN":
        i += 1
        if i < len(tokens) and tokens[i].upper() == "IS":
            i += 1
    word = tokens[i].upper() if i < len(tokens) else ""
    if word not in ("LEADING", "TRAILING"):
        raise CopybookError(
            f"copybook line {item.line}: {item.name}: SIGN needs LEADING or TRAILING"
        )
    item.sign_leading = word == "LEADING"
    i += 1
    if i < len(tokens) and tokens[i].upper() == "SEPARATE":
        item.sign_separate = True
        i += 1
        if i < len(tokens) and tokens[i].upper() == "CHARACTER":
            i += 1
    return i


def _skip_value(item: Item, tokens: list[str], i: int) -> int:
    """VALUE clauses hold literals (maybe several, maybe THRU ranges): skip to the next
    clause word."""
    i = _optional_is(tokens, i) + 1
    while i < len(tokens) and tokens[i].upper() not in _CLAUSE_WORDS - {"VALUE", "VALUES"}:
        i += 1
    return i


_HANDLERS: dict[str, Callable[[Item, list[str], int], int]] = {
    "PIC": _picture,
    "PICTURE": _picture,
    "USAGE": _usage_clause,
    "REDEFINES": _redefines,
    "OCCURS": _occurs,
    "VALUE": _skip_value,
    "VALUES": _skip_value,
    "SYNC": _sync,
    "SYNCHRONIZED": _sync,
}
