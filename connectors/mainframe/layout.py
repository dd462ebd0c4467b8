"""Turn a copybook tree into a flat record layout: one column per elementary item.

Groups disappear (their leaves keep their own names); OCCURS is flattened as NAME_1 ..
NAME_n (nested: NAME_1_2); FILLER takes its bytes but gives no column; REDEFINES overlays
the bytes of the item it redefines. OCCURS DEPENDING ON reserves the maximum number of
elements (the record has a fixed layout); elements past the count are NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ferryman.connectors.mainframe.copybook import CopybookError, Item

_PIC_REPEAT = re.compile(r"(.)\((\d+)\)")


@dataclass(frozen=True)
class Picture:
    """What a PICTURE string says about the bytes."""

    kind: str
    """`text` (X/A), `number` (9, S, V) or `edited` (Z, ., -, CR ...: printed text)."""
    length: int
    """Characters in DISPLAY form (sign and edit characters included)."""
    digits: int = 0
    scale: int = 0
    signed: bool = False


def parse_picture(pic: str, where: str) -> Picture:
    expanded = _PIC_REPEAT.sub(lambda m: m.group(1) * int(m.group(2)), pic.upper())
    if "(" in expanded or ")" in expanded:
        raise CopybookError(f"{where}: cannot read PICTURE {pic!r}")
    chars = set(expanded)
    if chars <= {"X", "A", "9"} and chars & {"X", "A"}:
        return Picture("text", len(expanded))
    if chars <= {"9", "S", "V"}:
        if "P" in chars:
            raise CopybookError(f"{where}: PICTURE {pic!r}: P scaling is not supported")
        body = expanded.replace("S", "")
        integer, _, fraction = body.partition("V")
        return Picture(
            "number",
            len(body.replace("V", "")),
            digits=len(integer) + len(fraction),
            scale=len(fraction),
            signed="S" in expanded,
        )
    if "P" in chars:
        raise CopybookError(f"{where}: PICTURE {pic!r}: P scaling is not supported")
    if chars <= set("9ZB0/,.+-*$CRDBV"):
        length = len(expanded.replace("V", ""))
        return Picture("edited", length)
    raise CopybookError(f"{where}: cannot read PICTURE {pic!r}")


@dataclass(frozen=True)
class Field:
    """One column of the flattened record."""

    column: str
    cobol_name: str
    path: tuple[str, ...]
    offset: int
    size: int
    kind: str
    """`text`, `edited`, `display` (zoned decimal), `packed` (COMP-3) or `binary` (COMP)."""
    digits: int = 0
    scale: int = 0
    signed: bool = False
    sign_leading: bool = False
    sign_separate: bool = False
    native: bool = False
    """COMP-5: the whole binary range is valid, not only the PIC digits."""
    occurs: tuple[tuple[str, int], ...] = ()
    """(ODO count item's COBOL name, 1-based index) per enclosing OCCURS DEPENDING ON."""
    variants: tuple[tuple[str, str], ...] = ()
    """(redefined item, variant) per enclosing REDEFINES area, normalised names: the
    variant is the item itself or one of the items that redefine it."""
    line: int = 0


@dataclass
class Layout:
    fields: list[Field]
    size: int
    redefines: dict[str, list[str]] = field(default_factory=dict)
    """Redefined item -> its variants (itself first), by normalised COBOL name."""

    def columns(self) -> list[str]:
        return [f.column for f in self.fields]

    def by_cobol_name(self, name: str) -> list[Field]:
        key = normalise(name)
        return [f for f in self.fields if normalise(f.cobol_name) == key]


def column_name(name: str) -> str:
    """A COBOL name as a column name: as written, hyphens as underscores."""
    return name.replace("-", "_")


def normalise(name: str) -> str:
    """COBOL names compare without case, and with hyphens and underscores alike."""
    return column_name(name).upper()


@dataclass(frozen=True)
class _Ctx:
    path: tuple[str, ...] = ()
    suffix: str = ""
    occurs: tuple[tuple[str, int], ...] = ()
    variants: tuple[tuple[str, str], ...] = ()
    usage: str | None = None
    sign_leading: bool | None = None
    sign_separate: bool = False


class _Builder:
    def __init__(self) -> None:
        self.fields: list[Field] = []
        self.redefines: dict[str, list[str]] = {}
        self.base_of: dict[str, str] = {}

    def size(self, item: Item, ctx: _Ctx) -> int:
        """Bytes one occurrence of `item` takes."""
        if not item.children:
            return _elementary(item, _inherit(item, ctx))[1]
        return self._group(item, 0, _inherit(item, ctx), emit=False)

    def place(self, item: Item, offset: int, ctx: _Ctx, emit: bool) -> int:
        """Lay `item` (all its occurrences) out at `offset`; return the bytes it takes."""
        ctx = _inherit(item, ctx)
        one = self.size(item, ctx)
        times = item.occurs or 1
        if not emit:
            return one * times
        for n in range(times):
            sub = ctx
            if item.occurs:
                occurs = ctx.occurs
                if item.depending_on:
                    occurs = (*occurs, (item.depending_on, n + 1))
                sub = _Ctx(
                    ctx.path, f"{ctx.suffix}_{n + 1}", occurs, ctx.variants,
                    ctx.usage, ctx.sign_leading, ctx.sign_separate,
                )  # fmt: skip
            self._one(item, offset + n * one, sub)
        return one * times

    def _one(self, item: Item, offset: int, ctx: _Ctx) -> None:
        if item.children:
            sub = _Ctx(
                (*ctx.path, item.name) if item.level > 0 else ctx.path, ctx.suffix,
                ctx.occurs, ctx.variants, ctx.usage, ctx.sign_leading, ctx.sign_separate,
            )  # fmt: skip
            self._group(item, offset, sub, emit=True)
            return
        if item.is_filler:
            return
        kind, size, pic = _elementary(item, ctx)
        self.fields.append(
            Field(
                column=column_name(item.name) + ctx.suffix,
                cobol_name=item.name,
                path=ctx.path,
                offset=offset,
                size=size,
                kind=kind,
                digits=pic.digits,
                scale=pic.scale,
                signed=pic.signed,
                sign_leading=bool(ctx.sign_leading),
                sign_separate=ctx.sign_separate,
                native=ctx.usage == "native",
                occurs=ctx.occurs,
                variants=ctx.variants,
                line=item.line,
            )
        )

    def _group(self, group: Item, offset: int, ctx: _Ctx, emit: bool) -> int:
        cursor = 0
        starts: dict[str, tuple[int, int]] = {}  # name -> (start, end) within the group
        for child in group.children:
            if child.redefines:
                target = normalise(child.redefines)
                base = self.base_of.get(target, target)
                if base not in starts:
                    raise CopybookError(
                        f"copybook line {child.line}: {child.name} REDEFINES {child.redefines},"
                        " which is not an earlier item of the same group"
                    )
                start, end = starts[base]
                variants = (*ctx.variants, (base, normalise(child.name)))
                self.base_of[normalise(child.name)] = base
                if emit:
                    self.redefines.setdefault(base, [base])
                    if normalise(child.name) not in self.redefines[base]:
                        self.redefines[base].append(normalise(child.name))
                size = self.place(child, offset + start, _with_variants(ctx, variants), emit)
                new_end = max(end, start + size)
                starts[base] = (start, new_end)
                cursor = max(cursor, new_end)
                continue
            key = normalise(child.name)
            variants = ctx.variants
            if any(c.redefines and normalise(c.redefines) == key for c in group.children):
                variants = (*variants, (key, key))
            size = self.place(child, offset + cursor, _with_variants(ctx, variants), emit)
            starts[key] = (cursor, cursor + size)
            cursor += size
        return cursor


def _with_variants(ctx: _Ctx, variants: tuple[tuple[str, str], ...]) -> _Ctx:
    return _Ctx(
        ctx.path, ctx.suffix, ctx.occurs, variants, ctx.usage, ctx.sign_leading,
        ctx.sign_separate,
    )  # fmt: skip


def _inherit(item: Item, ctx: _Ctx) -> _Ctx:
    """USAGE and SIGN written on a group apply to every item under it."""
    if item.usage is None and item.sign_leading is None:
        return ctx
    return _Ctx(
        ctx.path, ctx.suffix, ctx.occurs, ctx.variants,
        item.usage or ctx.usage,
        item.sign_leading if item.sign_leading is not None else ctx.sign_leading,
        item.sign_separate if item.sign_leading is not None else ctx.sign_separate,
    )  # fmt: skip


def _elementary(item: Item, ctx: _Ctx) -> tuple[str, int, Picture]:
    where = f"copybook line {item.line}: {item.name}"
    if item.pic is None:
        raise CopybookError(f"{where}: an elementary item needs a PICTURE")
    pic = parse_picture(item.pic, where)
    usage = ctx.usage or "display"
    if pic.kind in ("text", "edited"):
        if usage != "display":
            raise CopybookError(f"{where}: PICTURE {item.pic} cannot be {usage}")
        return pic.kind, pic.length, pic
    if usage == "packed":
        return "packed", pic.digits // 2 + 1, pic
    if usage in ("binary", "native"):
        return "binary", _binary_size(pic.digits, where), pic
    return "display", pic.digits + (1 if ctx.sign_separate else 0), pic


def _binary_size(digits: int, where: str) -> int:
    if digits <= 4:
        return 2
    if digits <= 9:
        return 4
    if digits <= 18:
        return 8
    raise CopybookError(f"{where}: binary items hold at most 18 digits, this one has {digits}")


def build_layout(root: Item) -> Layout:
    """Flatten the tree; several 01 records overlay each other (as in a COBOL FD)."""
    builder = _Builder()
    records = root.children
    for extra in records[1:]:
        if extra.redefines is None:
            extra.redefines = records[0].name
    size = builder._group(root, 0, _Ctx(), emit=True)
    fields = _unique_names(builder.fields)
    return Layout(fields, size, builder.redefines)


def _unique_names(fields: list[Field]) -> list[Field]:
    """Leaf names unless two leaves share one: those get their group path in front."""
    counts: dict[str, int] = {}
    for f in fields:
        counts[f.column] = counts.get(f.column, 0) + 1
    out = []
    for f in fields:
        if counts[f.column] > 1:
            qualified = "_".join(column_name(p) for p in f.path[1:] + (f.column,))
            f = replace(f, column=qualified)
        out.append(f)
    seen: set[str] = set()
    for f in out:
        if f.column in seen:
            raise CopybookError(
                f"copybook line {f.line}: two items flatten to the same column {f.column!r};"
                " rename one in the copybook"
            )
        seen.add(f.column)
    return out
