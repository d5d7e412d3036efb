"""Work produced in a second process while the first one writes it.

An import reads and validates a file (pure Python: one core) and writes what it kept (the
database: the other core, or the server). :func:`produced` runs ``produce(job)``, a generator
of picklable batches, in a child process and yields the batches in the caller's process as they
arrive. A thread of the caller receives them into a bounded queue, so the child keeps
validating while the caller writes; when the queue is full the child waits.

The child is a fork of the caller (it starts in milliseconds and imports nothing again; it
never touches the database connections it inherits, and ends with ``os._exit`` as every
:mod:`multiprocessing` child does, so it closes none of them). Where a platform cannot fork,
the work is done in the caller's process. The child dies with its parent: a thread of it
watches the parent, and its sends fail once the parent's end of the pipe is closed. A
:class:`~desk.infra.errors.DeskError` raised in the child is raised again in the caller as the
same kind of error, with the same message and field; anything else is :class:`ProducerFailed`
with the child's traceback.

Hand-written on the standard library: ``concurrent.futures``' process pool hands back a task's
result only whole, not a stream of batches from one long task, and the order of the batches is
the file's.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar, cast

from desk.infra.errors import DeskError, InvalidInput

T = TypeVar("T")
J = TypeVar("J")

QUEUED = 64  # batches received and not yet written, at most


class ProducerFailed(RuntimeError):
    """The child process failed with an unexpected error (its traceback is the message)."""


@dataclass(frozen=True, slots=True)
class _Done:
    pass


@dataclass(frozen=True, slots=True)
class _Failed:
    kind: type[BaseException] | None
    message: str
    field: str | None = None

    def error(self) -> BaseException:
        kind = self.kind
        if kind is not None and issubclass(kind, InvalidInput):
            prefix = f"{self.field}: " if self.field else ""
            return kind(self.message.removeprefix(prefix), field=self.field)
        if kind is not None and issubclass(kind, DeskError):
            return kind(self.message)
        return ProducerFailed(self.message)


def _die_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(70)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


CHILD_GC_THRESHOLD = 50_000  # young objects between two collections in the child


def _child(sender: Connection, produce: Callable[[Any], Iterator[Any]], job: Any) -> None:
    _die_with_parent()
    # The heap inherited from the parent is never garbage in the child: frozen, the collector
    # neither walks it nor copies its pages; a producer making millions of small objects is
    # collected less often (a third of its time went to the collector at the default).
    gc.freeze()
    gc.set_threshold(CHILD_GC_THRESHOLD, 20, 20)
    try:
        for batch in produce(job):
            sender.send(batch)
        sender.send(_Done())
    except BrokenPipeError:  # the parent is gone: so is the reason to go on
        return
    except DeskError as error:
        field = error.field if isinstance(error, InvalidInput) else None
        sender.send(_Failed(type(error), error.message, field))
    except BaseException:  # noqa: BLE001 - reported to the parent whole, then the child ends
        sender.send(_Failed(None, traceback.format_exc()))
    finally:
        sender.close()


@contextmanager
def produced(
    produce: Callable[[J], Iterator[T]], job: J, *, parallel: bool
) -> Iterator[Iterator[T]]:
    """The batches of ``produce(job)``: made in a child process when ``parallel``, started
    on entry (it works while the caller does something else first), else here, as they are
    asked for. The batches must be picklable. Leaving the block stops the child."""
    if not parallel or not can_fork():
        yield produce(job)
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(sender, produce, job), name="desk-validate", daemon=True
    )
    process.start()
    sender.close()  # the child holds the only sending end: its death reads as end of file
    received: queue.Queue[object] = queue.Queue(maxsize=QUEUED)
    stopping = threading.Event()

    def receive() -> None:
        while not stopping.is_set():
            try:
                item = receiver.recv()
            except (EOFError, OSError):
                item = _Failed(None, "the validating process ended without finishing")
            while not stopping.is_set():
                try:
                    received.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, _Done | _Failed):
                return

    def batches() -> Iterator[T]:
        while True:
            item = received.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error()
            yield cast(T, item)

    thread = threading.Thread(target=receive, name="desk-validate-receiver", daemon=True)
    thread.start()
    try:
        yield batches()
    finally:
        stopping.set()
        if process.is_alive():
            process.terminate()
        process.join(timeout=10)
        thread.join(timeout=1)
        receiver.close()
