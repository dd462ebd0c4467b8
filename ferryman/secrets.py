"""Keep secrets out of messages: URLs are shown with their password masked, and any text
can be scrubbed of known secret values before it is logged or raised."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# scheme://user:password@host  -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]*)@")
# key=value secrets in DSNs and query strings
_KV_SECRET = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api_key)=([^\s&;]+)")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***; safe to print."""
    masked = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", url)
    return _KV_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", masked)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL passwords and every known secret value occurring in `text`."""
    out = mask_url(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, MASK)
    return out
