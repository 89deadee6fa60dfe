"""Named crash points for the fault drills (``make drill``): kill -9 at an exact step.

A drill sets ``CROWNSYNC_FAILPOINT=<name>[@<n>]`` in the environment of a loader it starts;
the n-th time (default the first) that process passes :func:`failpoint` with that name, it
kills itself with SIGKILL — no cleanup, no ``finally``, exactly like the OOM killer. Unset
(always, outside drills) a failpoint is one dictionary look-up.

Crash points *inside* one SQL statement (mid-merge, mid-COPY on the server) cannot be hit
this way; the drills reach those by watching ``pg_stat_activity`` and killing from outside.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "CROWNSYNC_FAILPOINT"


def _parse(spec: str) -> tuple[str, int] | None:
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    return name.strip(), int(nth) if nth.strip() else 1


_UNREAD = ("", 0)
_armed: tuple[str, int] | None = _UNREAD
_passes: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Die here with SIGKILL if a drill armed this point (see module docstring)."""
    global _armed
    if _armed is _UNREAD:  # read once, on first use (not at import)
        _armed = _parse(os.environ.get(ENV_VAR, ""))
    if _armed is None or _armed[0] != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if _passes[name] >= _armed[1]:
        os.kill(os.getpid(), signal.SIGKILL)
