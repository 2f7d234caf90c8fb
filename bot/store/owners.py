"""Who holds a claim: an outbox row being sent, the scheduler lease.

A holder is named `host:pid:random`, so a process can tell a dead holder on its own host
(take over at once) from a live one or one on another machine (wait for the lease or the
stale timeout).
"""

from __future__ import annotations

import os
import socket
import uuid

__all__ = ["claimer_is_dead", "new_worker_id"]


def new_worker_id() -> str:
    """host:pid:random, so recovery can tell a dead local worker from a live remote one."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claimer_is_dead(claimed_by: str | None) -> bool:
    """True only when the claimer ran on this host and its process no longer exists."""
    if not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
