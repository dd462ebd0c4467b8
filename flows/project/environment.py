"""Process environment for ferryman: nothing phones home, nothing prints progress bars.

Prefect runs on its ephemeral local API (a temporary server for the life of the process)
unless the user points PREFECT_API_URL at a server of theirs. Called before Prefect or GX
is imported; every value is a default the user can override by setting it first.
"""

from __future__ import annotations

from collections.abc import MutableMapping

QUIET_DEFAULTS = {
    # no usage analytics, from either Prefect or GX
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "GX_ANALYTICS_ENABLED": "false",
    # the temporary local server: no block registration (would import every collection),
    # no UI build
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
    # the temporary server logs cancellation tracebacks when it stops at the end of a
    # run; they are noise to someone reading a cutover log. ferryman's own errors are
    # reported by ferryman.
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
}


def quiet_environment(environ: MutableMapping[str, str]) -> None:
    for key, value in QUIET_DEFAULTS.items():
        environ.setdefault(key, value)
