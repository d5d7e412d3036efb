"""Keys typed before the console owns the terminal are not echoed (a password typed ahead
would stay on the shell's screen), and the terminal is given back as it was."""

from __future__ import annotations

import io
import os
import select
import termios
from collections.abc import Iterator

import pytest

from desk.cli.terminal import launches_console, typed_ahead_unechoed


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, io.TextIOWrapper]]:
    controller, terminal = os.openpty()
    stream = os.fdopen(terminal, "r", closefd=True)
    yield controller, stream
    stream.close()
    os.close(controller)


def echoed(controller: int) -> bytes:
    """What the terminal sent back to the keyboard's side within a moment."""
    out = b""
    while select.select([controller], [], [], 0.2)[0]:
        chunk = os.read(controller, 1024)
        if not chunk:
            break
        out += chunk
    return out


def test_typed_ahead_keys_are_kept_but_not_echoed(pty_pair: tuple[int, io.TextIOWrapper]) -> None:
    controller, stream = pty_pair
    before = termios.tcgetattr(stream.fileno())
    assert before[3] & termios.ECHO
    os.write(controller, b"plain\n")
    assert b"plain" in echoed(controller)  # an ordinary terminal echoes

    with typed_ahead_unechoed(stream):
        os.write(controller, b"s3cret-pass\n")
        assert b"s3cret" not in echoed(controller)
    # The keys are still there for whoever reads the terminal next (the console).
    # (A terminal in line mode hands over one line per read.)
    lines = [os.read(stream.fileno(), 1024) for _ in range(2)]
    assert lines == [b"plain\n", b"s3cret-pass\n"]
    assert termios.tcgetattr(stream.fileno()) == before


def test_the_terminal_is_given_back_when_the_console_fails(
    pty_pair: tuple[int, io.TextIOWrapper],
) -> None:
    _, stream = pty_pair
    before = termios.tcgetattr(stream.fileno())
    with pytest.raises(RuntimeError), typed_ahead_unechoed(stream):
        raise RuntimeError("the console stopped")
    assert termios.tcgetattr(stream.fileno()) == before


def test_not_a_terminal_is_left_alone() -> None:
    with typed_ahead_unechoed(io.StringIO()):
        pass


@pytest.mark.parametrize(
    ("arguments", "console"),
    [
        ([], True),
        (["--db", "sqlite:///x.db"], True),
        (["--db=sqlite:///x.db"], True),
        (["demo"], False),
        (["--db", "sqlite:///x.db", "user", "add"], False),
        (["--help"], False),
    ],
)
def test_the_console_is_told_from_the_command_line(arguments: list[str], console: bool) -> None:
    assert launches_console(arguments) is console
