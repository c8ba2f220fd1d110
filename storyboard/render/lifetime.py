"""Render workers die with the process that started them.

A worker left rendering after its run was killed would spend the machine on a render nobody
waits for (and, before the take store, could replace a newer shot file). On Linux the kernel
kills the worker when its parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere a watchdog
thread also ends the worker within half a second of its parent going away.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 0.5  # seconds between two looks at the parent


def die_with_parent(parent_pid: int) -> None:
    """Run in a worker as it starts (a pool initializer): end it when ``parent_pid`` dies."""
    if sys.platform.startswith("linux"):
        _set_pdeathsig()
    if os.getppid() != parent_pid:  # the parent died before we could ask
        os._exit(1)
    threading.Thread(target=_watch, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _set_pdeathsig() -> None:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watchdog still ends the worker


def _watch(parent_pid: int) -> None:
    stop = threading.Event()
    while not stop.wait(WATCH_INTERVAL):
        if os.getppid() != parent_pid:
            os._exit(1)
