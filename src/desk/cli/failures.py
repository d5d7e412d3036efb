"""Every failure of every command as one line on standard error and an exit code.

The root command group (:class:`DeskGroup`) runs each command inside :func:`guarded`; whatever
escapes a command (a refusal of a service, a database that cannot be opened, a full disk, a
bad environment variable, a usage error of the parser) is described here once, so no command
ever shows a traceback. ``DESK_DEBUG=1`` lets an unexpected error through with its traceback,
for a developer.

Exit codes: 0 done; 1 refused, invalid input or a check that found a problem; 2 a bad command
line or environment; 3 the database (or its disk) cannot be used; 4 skipped because another
process holds the job's lease; 70 an unexpected error; 130 interrupted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_SKIPPED = 4
EXIT_BUSY = 5  # desk ring: the agent is on a call; the call is stored as abandoned
EXIT_UNEXPECTED = 70
EXIT_INTERRUPTED = 130
FULL_DISK_BYTES = 1 << 20  # less free space than this beside an I/O error: a full disk

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences, bidi overrides)
    shown as ``\\xNN`` / ``\\uNNNN``, undecodable bytes as ``\\udcNN``, never sent raw."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    text = _CONTROL.sub(escape, text)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: str) -> str:
    """The first meaningful line of ``text``, printable."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return printable(lines[0] if lines else str(text).strip())


class CommandFailed(Exception):
    """Raised by a command (or :func:`describe`) with the line to print and the exit code."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _database_problem(error: Any) -> tuple[str, int]:
    """An error of the database driver, said as what a person can do about it."""
    original = getattr(error, "orig", None) or error
    text = one_line(str(original))
    lowered = text.lower()
    statement_free = text.split(" [SQL:")[0]
    if "unable to open database file" in lowered:
        return (
            "cannot open the database file: its directory is missing or not accessible "
            "(check --db or DESK_DATA_DIR)",
            EXIT_DATABASE,
        )
    if "file is not a database" in lowered or "not a database" in lowered:
        return "the database file is not a SQLite database (check --db)", EXIT_DATABASE
    if "readonly database" in lowered or "read-only" in lowered:
        return "the database is read-only: nothing was changed", EXIT_DATABASE
    if "database or disk is full" in lowered or "no space left" in lowered:
        return "the disk holding the database is full: nothing was changed", EXIT_DATABASE
    if "database is locked" in lowered:
        return "the database is busy (locked by another process): try again", EXIT_DATABASE
    if "disk i/o error" in lowered:
        if _disk_full():
            return "the disk holding the database is full: nothing was changed", EXIT_DATABASE
        name = getattr(original, "sqlite_errorname", "")
        return (
            f"the database file could not be read or written (disk I/O error {name})".replace(
                " )", ")"
            ),
            EXIT_DATABASE,
        )
    if any(
        word in lowered
        for word in ("connection", "could not translate host name", "resolve host", "timeout")
    ):
        return f"cannot connect to the database server: {statement_free}", EXIT_DATABASE
    if "does not exist" in lowered and "database" in lowered:
        return f"the database does not exist on the server: {statement_free}", EXIT_DATABASE
    return f"database error: {statement_free}", EXIT_DATABASE


_database_file: list[Path] = []


def note_database_file(path: Path) -> None:
    """Remember the SQLite file a command opened, to tell a full disk from a failing one."""
    _database_file[:] = [path]


def _disk_full() -> bool:
    if not _database_file:
        return False
    try:
        return shutil.disk_usage(_database_file[0].parent).free < FULL_DISK_BYTES
    except OSError:
        return False


def _os_problem(error: OSError) -> tuple[str, int]:
    where = f": {error.filename}" if error.filename else ""
    if error.errno == errno.ENOSPC:
        return f"no space left on the disk{where}: nothing was changed", EXIT_DATABASE
    if error.errno == errno.EROFS:
        return f"the file system is read-only{where}", EXIT_DATABASE
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}", EXIT_REFUSED
    if error.errno == errno.ENOENT:
        return f"no such file or directory{where}", EXIT_REFUSED
    if error.errno == errno.ENOTDIR:
        return f"not a directory{where}", EXIT_REFUSED
    if error.errno == errno.EISDIR:
        return f"is a directory{where}", EXIT_REFUSED
    reason = error.strerror or type(error).__name__
    return f"{reason}{where}", EXIT_REFUSED


def _validation_problem(error: Any) -> tuple[str, int]:
    """A pydantic error: from the settings (``DESK_*``) or an unhandled model."""
    first = error.errors()[0]
    location = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if error.title == "Settings":
        return f"DESK_{location.upper()}: {message}", EXIT_USAGE
    return (f"{location}: {message}" if location else message), EXIT_REFUSED


def describe(error: BaseException) -> tuple[str, int]:
    """The one line and the exit code for ``error``."""
    from pydantic import ValidationError

    from desk.infra.errors import DatabaseUnavailable, DeskError, SchemaOutOfDate

    if isinstance(error, CommandFailed):
        return one_line(error.message), error.code
    if isinstance(error, DatabaseUnavailable):
        # the console's wording ("tried again on the next action") is no use to a command
        # that ends here: say what the driver said, where, as any other connection failure
        cause = error.__cause__
        return _database_problem(cause) if cause is not None else (error.message, EXIT_DATABASE)
    if isinstance(error, SchemaOutOfDate):
        return one_line(error.message), EXIT_DATABASE
    if isinstance(error, DeskError):
        return one_line(error.message), EXIT_REFUSED
    if isinstance(error, ValidationError):
        return _validation_problem(error)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    if isinstance(error, TyperException):  # the parser's usage errors
        message = error.format_message().replace("Value error, ", "")  # pydantic's prefix
        return one_line(message), error.exit_code or EXIT_USAGE
    if isinstance(error, typer.Abort):
        return "aborted", EXIT_REFUSED
    if isinstance(error, (OverflowError, RecursionError)):
        return f"a number or value is out of range: {one_line(str(error))}", EXIT_USAGE
    if isinstance(error, UnicodeError):
        return f"text that is not valid UTF-8: {one_line(str(error))}", EXIT_USAGE
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

    if isinstance(error, CommandError):
        text = one_line(str(error))
        match = re.search(r"Can't locate revision identified by '([^']*)'", text)
        if match:
            return (
                f"unknown migration revision {match.group(1)!r}: this version of `desk` does not "
                "know it (run `desk db current` to see what it knows)",
                EXIT_USAGE,
            )
        return f"migration failed: {text}", EXIT_DATABASE
    if isinstance(error, (ArgumentError, NoSuchModuleError)):
        return (
            f"--db: not a database URL that `desk` can open ({one_line(str(error))}); "
            "use sqlite:///PATH or postgresql://USER@HOST:PORT/NAME",
            EXIT_USAGE,
        )
    if isinstance(error, DBAPIError):
        return _database_problem(error)
    if isinstance(error, SQLAlchemyError):
        return f"database error: {one_line(str(error))}", EXIT_DATABASE
    if isinstance(error, OSError):
        return _os_problem(error)
    driver_error = _driver_error(error)
    if driver_error:
        return _database_problem(error)
    return f"unexpected error: {type(error).__name__}: {one_line(str(error))}", EXIT_UNEXPECTED


def _driver_error(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith(("sqlite3", "psycopg"))


def _non_utf8(args: Sequence[str]) -> int | None:
    for position, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return position
    return None


class DeskGroup(TyperGroup):
    """The root command group: runs a command and turns any failure into one line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        arguments = list(sys.argv[1:] if args is None else args)
        code: int
        try:
            bad = _non_utf8(arguments)
            if bad is not None:
                raise CommandFailed(
                    f"argument {bad} is not valid UTF-8: {printable(arguments[bad - 1])}",
                    EXIT_USAGE,
                )
            result = super().main(
                args=arguments,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = result if isinstance(result, int) else 0
        except typer.Exit as exit_:
            code = exit_.exit_code
        except BaseException as error:  # noqa: BLE001 - every failure is said in one line
            if isinstance(error, SystemExit):
                raise
            if os.environ.get("DESK_DEBUG") == "1":
                raise
            message, code = describe(error)
            _say(message)
        if standalone_mode:
            sys.exit(code)
        return code


def _say(message: str) -> None:
    with contextlib.suppress(OSError):  # a closed standard error: the exit code still tells
        typer.echo(f"error: {message}", err=True)
