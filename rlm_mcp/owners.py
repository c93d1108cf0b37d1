"""Who holds a staging row or a claim: an owner id `host:pid[:thread]`, and whether that owner runs.

One check for both the loader (is the process that left this staging row still loading?) and the
embedding queue (may a restarted worker take over a dead process's claims at once?).
"""

import os
import socket
import threading
from typing import Literal

OwnerState = Literal["this process", "running", "gone", "elsewhere"]


def owner_id(with_thread: bool = False) -> str:
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{threading.get_ident()}" if with_thread else base


def owner_state(owner: str | None) -> OwnerState:
    """'gone' only for a process of this host that no longer runs; another host's (or a malformed id)
    is 'elsewhere': nothing here can tell whether it still runs."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return "elsewhere"
    if int(pid) == os.getpid():
        return "this process"
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:  # alive, another user's
        return "running"
    return "running"
