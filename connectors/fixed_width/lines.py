"""Finding the records of a block of character units, as the Python reader splits them
(`ferryman.connectors.encoding.split_lines`): on CRLF, LF or a lone CR, or on a given terminator
only, left to right without overlaps; a block's last, unfinished line (and a CR at its
very end, which may be half of a CRLF) waits for the next block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NONE = np.zeros(0, np.intp)


@dataclass(frozen=True)
class Lines:
    """The complete lines of a block, in units from the block's start."""

    starts: np.ndarray
    """Where each line starts; one more entry: where the line after the last starts."""
    body_ends: np.ndarray
    """Where each line's text ends (its terminator starts)."""
    rest: int
    """Where the unfinished line starts (the block's length when it is the last)."""
    ends: np.ndarray
    """Where each terminator ends (== `starts[1:]`)."""

    def __len__(self) -> int:
        return len(self.body_ends)

    @property
    def lengths(self) -> np.ndarray:
        """Characters in each line, its terminator left out."""
        return self.body_ends - self.starts[:-1]


def split(
    units: np.ndarray,
    cr: int | None,
    lf: int | None,
    pattern: list[int | None] | None,
    final: bool,
) -> Lines:
    """The lines of `units`: universal line ends (`pattern` None), else `pattern` only
    (None in it: a character the encoding cannot hold, so it never occurs)."""
    n = len(units)
    if pattern is None:
        starts_t, ends_t = _universal(units, cr, lf, final)
    elif any(u is None for u in pattern):
        starts_t, ends_t = _NONE, _NONE
    else:
        starts_t = _find(units, [int(u) for u in pattern if u is not None])
        ends_t = starts_t + len(pattern)
    rest = int(ends_t[-1]) if ends_t.size else 0
    starts = np.concatenate(([0], ends_t)).astype(np.intp)
    body_ends = starts_t.astype(np.intp)
    if final and rest < n:
        starts = np.append(starts, n)
        body_ends = np.append(body_ends, n)
        rest = n
    return Lines(starts, body_ends, rest, starts[1:])


def _universal(
    units: np.ndarray, cr: int | None, lf: int | None, final: bool
) -> tuple[np.ndarray, np.ndarray]:
    n = len(units)
    if not final and n and cr is not None and units[-1] == cr:
        units = units[:-1]  # maybe the first half of a CRLF: decided with the next block
        n -= 1
    lfs = np.flatnonzero(units == lf) if lf is not None else _NONE
    crs = np.flatnonzero(units == cr) if cr is not None else _NONE
    if crs.size == 0:
        return lfs, lfs + 1
    paired = np.zeros(crs.size, bool)
    inside = crs + 1 < n
    paired[inside] = units[crs[inside] + 1] == lf
    after_cr = np.zeros(lfs.size, bool)
    has_prev = lfs > 0
    after_cr[has_prev] = units[lfs[has_prev] - 1] == cr
    lone = crs[~paired]
    starts = np.concatenate((lfs - after_cr, lone))
    ends = np.concatenate((lfs + 1, lone + 1))
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]


def _find(units: np.ndarray, pattern: list[int]) -> np.ndarray:
    """Where `pattern` starts, leftmost first, matches never overlapping (str.split's)."""
    k = len(pattern)
    if len(units) < k:
        return _NONE
    at = np.flatnonzero(units[: len(units) - k + 1] == pattern[0])
    for j in range(1, k):
        at = at[units[at + j] == pattern[j]]
    if k > 1 and at.size > 1 and bool((np.diff(at) < k).any()):
        kept: list[int] = []
        for a in at.tolist():
            if not kept or a >= kept[-1] + k:
                kept.append(a)
        at = np.array(kept, np.intp)
    return at


def without_terminators(units: np.ndarray, lines: Lines) -> tuple[np.ndarray, np.ndarray]:
    """The lines' text with the terminators cut out, and each line's offsets in it."""
    keep = np.ones(lines.rest, bool)
    widths = lines.ends - lines.body_ends
    for j in range(int(widths.max()) if widths.size else 0):
        at = lines.body_ends[widths > j] + j
        keep[at] = False
    data = units[: lines.rest][keep]
    offsets = np.concatenate(([0], np.cumsum(lines.lengths)))
    return data, offsets
