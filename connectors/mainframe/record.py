"""Decode one record's bytes into a row of text values, following a layout.

A record with an item that cannot be decoded is not half-loaded: the whole record is
reported (every bad item named) and becomes one reject.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferryman.connectors.errors import TerminalError
from ferryman.connectors.mainframe.decode import (
    CONTROL_TO_SPACE,
    DecodeProblem,
    decode_number,
    trim,
    zoned_rules,
)
from ferryman.connectors.mainframe.layout import Field, Layout, normalise
from ferryman.connectors.mainframe.options import EbcdicOptions, RedefinesSelector


@dataclass(frozen=True)
class Problem:
    field: Field
    raw: bytes
    message: str

    def describe(self) -> str:
        f = self.field
        raw = f" = {self.raw.hex().upper()}" if self.raw else ""
        return (
            f"{f.column} (bytes {f.offset + 1}-{f.offset + f.size}, {f.kind}){raw}: {self.message}"
        )


class RecordDecoder:
    """Knows the layout, the code page and the selectors; decodes records to rows."""

    def __init__(self, layout: Layout, options: EbcdicOptions, where: str) -> None:
        self.layout = layout
        self.codec = options.code_page
        rules = zoned_rules(options.code_page)
        if rules is None:
            raise TerminalError(
                f"{where}: code page {options.code_page!r} does not write digits as single"
                " bytes (EBCDIC F0-F9 or ASCII 30-39), so its DISPLAY numbers cannot be read"
            )
        self.rules = rules
        self.trim = options.trim
        self.controls = options.control_chars == "space"
        self.selectors = _check_selectors(layout, options.redefines, where)
        self.counts = _count_fields(layout, where)
        control = {field.column for field, _ in self.selectors.values()}
        control |= {field.column for field in self.counts.values()}
        self._control = [f for f in layout.fields if f.column in control]

    def decode(self, record: bytes) -> tuple[list[str | None], list[Problem]]:
        problems: list[Problem] = []
        known: dict[str, str | None] = {}
        for f in self._control:
            known[f.column] = self._value(f, record, problems)
        chosen = self._chosen(known, problems)
        counts = self._counts(known, problems)
        row: list[str | None] = []
        for f in self.layout.fields:
            if f.column in known:
                row.append(known[f.column])
            elif not self._present(f, chosen, counts):
                row.append(None)
            else:
                row.append(self._value(f, record, problems))
        return row, problems

    def _present(self, f: Field, chosen: dict[str, str], counts: dict[str, int]) -> bool:
        for base, variant in f.variants:
            if base in chosen and chosen[base] != variant:
                return False
        return all(index <= counts.get(name, index) for name, index in f.occurs)

    def _value(self, f: Field, record: bytes, problems: list[Problem]) -> str | None:
        if f.offset >= len(record):
            return None  # a short variable-length record ends before this item
        raw = record[f.offset : f.offset + f.size]
        try:
            if f.kind in ("text", "edited"):
                return self._text(raw)
            return decode_number(f, raw, self.rules)
        except (DecodeProblem, UnicodeDecodeError) as err:
            if not self._unselected(f):
                problems.append(Problem(f, raw, str(err)))
            return None

    def _unselected(self, f: Field) -> bool:
        """In a REDEFINES area without a selector the bytes may belong to another variant:
        a value that does not decode there is NULL, not a bad record."""
        return any(base not in self.selectors for base, _ in f.variants)

    def _text(self, raw: bytes) -> str:
        text = raw.decode(self.codec)
        if self.controls:
            text = text.translate(CONTROL_TO_SPACE)
        return trim(text, self.trim)

    def _chosen(self, known: dict[str, str | None], problems: list[Problem]) -> dict[str, str]:
        chosen: dict[str, str] = {}
        for base, (selector, sel) in self.selectors.items():
            value = (known.get(selector.column) or "").strip()
            variant = sel.when.get(value)
            if variant is None:
                problems.append(
                    Problem(
                        selector,
                        b"",
                        f"value {value!r} selects no variant of {base}"
                        f" (known values: {', '.join(map(repr, sel.when))});"
                        f" add it under `redefines: {base}: when:`",
                    )
                )
                continue
            chosen[base] = normalise(variant)
        return chosen

    def _counts(self, known: dict[str, str | None], problems: list[Problem]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name, f in self.counts.items():
            text = known.get(f.column)
            if text is None:
                continue
            try:
                value = int(text or "0")
            except ValueError:
                problems.append(Problem(f, b"", f"OCCURS count {text!r} is not a whole number"))
                continue
            limit = self._max_occurs(name)
            if not 0 <= value <= limit:
                problems.append(
                    Problem(f, b"", f"OCCURS DEPENDING ON count is {value}, allowed 0-{limit}")
                )
                continue
            counts[name] = value
        return counts

    def _max_occurs(self, name: str) -> int:
        return max(index for f in self.layout.fields for n, index in f.occurs if n == name)


def _check_selectors(
    layout: Layout, selectors: dict[str, RedefinesSelector], where: str
) -> dict[str, tuple[Field, RedefinesSelector]]:
    bases = layout.redefines
    out: dict[str, tuple[Field, RedefinesSelector]] = {}
    for base, sel in selectors.items():
        # the area may be named by the redefined item or by any item that redefines it
        key = next((b for b, vs in bases.items() if normalise(base) in vs), None)
        if key is None:
            raise TerminalError(
                f"{where}: `redefines: {base}`: no REDEFINES area of the copybook has an item"
                f" of that name; redefined items: {', '.join(sorted(bases)) or 'none'}"
            )
        unknown = [v for v in sel.when.values() if normalise(v) not in bases[key]]
        if unknown:
            raise TerminalError(
                f"{where}: `redefines: {base}`: {', '.join(unknown)} is not a variant of {key};"
                f" its variants are {', '.join(bases[key])}"
            )
        fields = [f for f in layout.by_cobol_name(sel.field) if not f.occurs]
        if len(fields) != 1:
            raise TerminalError(
                f"{where}: `redefines: {base}: field: {sel.field}`: the copybook has"
                f" {'no' if not fields else 'several'} such item outside OCCURS"
            )
        out[key] = (fields[0], sel)
    return out


def _count_fields(layout: Layout, where: str) -> dict[str, Field]:
    names = {name for f in layout.fields for name, _ in f.occurs}
    out: dict[str, Field] = {}
    for name in names:
        fields = [f for f in layout.by_cobol_name(name) if not f.occurs]
        if len(fields) != 1:
            raise TerminalError(
                f"{where}: OCCURS DEPENDING ON {name}: the copybook has"
                f" {'no' if not fields else 'several'} such numeric item outside OCCURS"
            )
        out[name] = fields[0]
    return out
