"""Who holds an upload's lease: this process, named so that another process of the same machine
can tell when the holder is gone (its pid no longer runs, or runs another program)."""

from __future__ import annotations

import os
import socket


def _started(pid: int) -> str | None:
    """When a process of this machine started (clock ticks since boot), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


HOST = socket.gethostname()
_mine: tuple[int, str] = (0, "")


def holder() -> str:
    """This process, as a lease holder: read again after a fork (a worker forked from the
    supervisor is not the process that imported this module)."""
    global _mine
    pid = os.getpid()
    if _mine[0] != pid:
        _mine = (pid, f"{HOST}:{pid}:{_started(pid) or 0}")
    return _mine[1]


def dead(holder: str) -> bool:
    """A holder of this machine that no longer runs (its pid is gone or is another process)."""
    host, _, rest = holder.partition(":")
    pid, _, started = rest.partition(":")
    return host == HOST and pid.isdigit() and _started(int(pid)) != started
