"""Did-you-mean suggestions for unknown names, used by every layer's error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """` Did you mean 'x'?` when a close candidate exists, else the list of valid names."""
    names = sorted(candidates)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f" Did you mean {close[0]!r}?"
    if len(names) <= 40:
        return f" Known: {', '.join(names)}." if names else ""
    return ""
