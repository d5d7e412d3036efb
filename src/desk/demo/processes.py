"""The demo build's processes (:mod:`multiprocessing`): whether they can be forked, how many
workers, and how a child ends when its parent does."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading

MAX_WORKERS = 4


def can_fork() -> bool:
    """Whether a helper process can start as a fork of this one (it then inherits the drawn
    world instead of drawing it again; where a platform cannot fork, the build runs in one
    process)."""
    return "fork" in multiprocessing.get_all_start_methods()


def workers() -> int:
    """Worker processes for the work orders' rules: one per CPU this process may use."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform says
        available = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, available))


def die_with_parent() -> None:
    """In a child: exit as soon as the parent process is gone (killed or ended)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(70)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
