"""The terminal before the console owns it.

Between ``desk`` starting and the console switching the terminal to raw mode (about a second
of imports), the terminal still echoes what is typed. A fast typist or a badge reader sends the
login and the password in that second: the console still receives every key (the terminal keeps
them for it), but the echo would print the password on the shell's screen, where it stays in
the scroll-back after the console exits. :func:`typed_ahead_unechoed` turns the echo off for
that second and gives the terminal back as it was when the console ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def typed_ahead_unechoed(stream: TextIO | None = None) -> Iterator[None]:
    """Keys typed until the console takes the terminal are not echoed; the terminal's modes
    are restored on the way out. Does nothing where ``stream`` is not a terminal."""
    try:
        import termios
    except ImportError:  # not a POSIX terminal (Windows): nothing to hide
        yield
        return
    stream = sys.stdin if stream is None else stream
    try:
        fd = stream.fileno()
        saved = termios.tcgetattr(fd)
    except (AttributeError, OSError, ValueError, termios.error):  # not a terminal
        yield
        return
    quiet = list(saved)
    quiet[3] = saved[3] & ~termios.ECHO  # the local modes, without echo
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def launches_console(arguments: list[str]) -> bool:
    """``desk`` with no subcommand (perhaps ``--db URL``): the command line that runs the
    console, so the echo goes off before anything else is imported."""
    rest = list(arguments)
    if rest[:1] == ["--db"]:
        rest = rest[2:]
    elif rest[:1] and rest[0].startswith("--db="):
        rest = rest[1:]
    return not rest
