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


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform says
        return os.cpu_count() or 1


def workers() -> int:
    """Worker processes for the work orders' rules in the helper: one per CPU besides the one
    the building process keeps busy meanwhile. One means none: the helper settles the orders
    itself. An order's trip to a worker and back (pickled both ways, with its events, clocks
    and enums) costs about half a millisecond of CPU, a fifth of settling it, which pays only
    where a core would otherwise idle: on two CPUs the two processes of the build already
    keep both busy."""
    return max(1, min(MAX_WORKERS, available_cpus() - 1))


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
