"""No traceback, ever: each way a command can fail is one line on standard error and an exit
code that says what kind of failure it was (see ``desk.cli.failures``)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from desk.cli import _register, app
from desk.cli.failures import (
    EXIT_DATABASE,
    EXIT_REFUSED,
    EXIT_USAGE,
    describe,
    printable,
)

_register()
runner = CliRunner()


def _run(*args: str, env: dict[str, str] | None = None, input: str | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env, input=input)


def _one_line_error(result, code: int, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    """Exactly one line, ``error: …`` holding every fragment, and the exit code."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def initialised(tmp_path: Path) -> Path:
    path = tmp_path / "desk.db"
    result = _run("--db", f"sqlite:///{path}", "init", "--admin-password", "secret1")
    assert result.exit_code == 0, result.output
    return path


def test_an_empty_db_url_is_refused_not_the_default_database(tmp_path: Path) -> None:
    result = _run("--db", "", "user", "list")
    _one_line_error(result, EXIT_USAGE, "--db", "empty")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("url", ["notaurl", "foo://somewhere/x", "sqlite+nodriver:///x.db"])
def test_a_bad_db_url_is_named(url: str) -> None:
    _one_line_error(_run("--db", url, "user", "list"), EXIT_USAGE, "--db", "sqlite:///PATH")


@pytest.mark.parametrize("command", [("user", "list"), ("check",), ("audit", "verify")])
def test_a_wrong_postgresql_port(command: tuple[str, ...]) -> None:
    result = _run("--db", "postgresql://postgres@127.0.0.1:1/test", *command)
    _one_line_error(result, EXIT_DATABASE, "cannot connect to the database server", "port 1")


def test_an_unreachable_postgresql_host() -> None:
    result = _run("--db", "postgresql://postgres@nohost.invalid/test", "user", "list")
    _one_line_error(result, EXIT_DATABASE, "cannot connect to the database server", "nohost")


def test_a_missing_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'desk.db'}"
    _one_line_error(_run("--db", url, "user", "list"), EXIT_DATABASE, "no database at")
    _one_line_error(
        _run("--db", url, "init", "--admin-password", "secret1"),
        EXIT_DATABASE,
        "directory is missing",
    )
    assert not (tmp_path / "nowhere").exists()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n")
    _one_line_error(
        _run("--db", f"sqlite:///{path}", "user", "list"), EXIT_DATABASE, "not a SQLite database"
    )
    assert path.read_text() == "shopping list\n"


def test_a_directory_given_as_the_database(tmp_path: Path) -> None:
    result = _run("--db", f"sqlite:///{tmp_path}", "user", "list")
    _one_line_error(result, EXIT_DATABASE, "is a directory")


def test_a_read_only_database(initialised: Path) -> None:
    url = f"sqlite:///file:{initialised}?mode=ro&uri=true"
    result = _run(
        "--db", url, "user", "add", "bob", "--role", "agent", "--password-stdin", input="abcdef\n"
    )
    _one_line_error(result, EXIT_DATABASE, "read-only", "nothing was changed")
    assert _run("--db", url, "user", "list").exit_code == 0  # reading still works


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB file system of its own (tmpfs); skipped where mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk(initialised: Path, small_disk: Path) -> None:
    path = small_disk / "desk.db"
    with sqlite3.connect(initialised) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(initialised, path)
    with (small_disk / "filler").open("wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
        except OSError:
            pass
    result = _run(
        "--db",
        f"sqlite:///{path}",
        "user",
        "add",
        "bob",
        "--role",
        "agent",
        "--password-stdin",
        input="abc123\n",
    )
    _one_line_error(result, EXIT_DATABASE, "disk", "full")
    (small_disk / "filler").unlink()
    logins = sqlite3.connect(path).execute("SELECT login FROM staff_user").fetchall()
    assert ("bob",) not in logins


def test_a_disk_that_fills_during_a_large_import(
    initialised: Path, small_disk: Path, tmp_path: Path
) -> None:
    """The import's second process at work (a file over 1 MB) when the disk fills: one line,
    and a database that checks out with nothing of the file in it."""
    path = small_disk / "desk.db"
    with sqlite3.connect(initialised) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(initialised, path)
    rows = tmp_path / "many.csv"
    rows.write_text(
        "customer_no,name,phone,region,address\n"
        + "".join(f"F{n},客户{n},139{n:08d},杭州,文三路{n}号 {'x' * 60}\n" for n in range(16_000)),
        encoding="utf-8",
    )
    assert rows.stat().st_size > 1024 * 1024
    result = _run("--db", f"sqlite:///{path}", "import", "customers", str(rows))
    _one_line_error(result, EXIT_DATABASE, "disk", "full")
    customers = sqlite3.connect(path).execute("SELECT COUNT(*) FROM customer").fetchone()
    assert customers == (0,)
    assert _run("--db", f"sqlite:///{path}", "check").exit_code == 0


def test_an_unknown_migration_revision(initialised: Path) -> None:
    url = f"sqlite:///{initialised}"
    _one_line_error(
        _run("--db", url, "db", "upgrade", "nosuch"), EXIT_USAGE, "unknown migration revision"
    )
    with sqlite3.connect(initialised) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_future'")
    _one_line_error(_run("--db", url, "user", "list"), EXIT_DATABASE, "9999_future", "newer desk")
    _one_line_error(
        _run("--db", url, "db", "upgrade"), EXIT_USAGE, "unknown migration revision '9999_future'"
    )


def test_a_bad_desk_lang(initialised: Path) -> None:
    result = _run("--db", f"sqlite:///{initialised}", "user", "list", env={"DESK_LANG": "fr"})
    _one_line_error(result, EXIT_USAGE, "DESK_LANG", "'fr'", "en or zh_CN")


@pytest.mark.parametrize(("value", "said"), [("", "empty"), ("FILE", "not a directory")])
def test_a_bad_desk_data_dir(tmp_path: Path, value: str, said: str) -> None:
    if value == "FILE":
        value = str(tmp_path / "a-file")
        Path(value).write_text("x")
    result = _run("user", "list", env={"DESK_DATA_DIR": value})
    _one_line_error(result, EXIT_USAGE, "DESK_DATA_DIR", said)


def test_a_non_utf8_argument(initialised: Path) -> None:
    bad = b"caf\xe9".decode("utf-8", "surrogateescape")  # what Python makes of Latin-1 argv
    result = _run("--db", f"sqlite:///{initialised}", "user", "add", bad, "--role", "agent")
    _one_line_error(result, EXIT_USAGE, "argument 5 is not valid UTF-8", "caf\\udce9")


@pytest.mark.parametrize("seed", [str(10**30), "-1", "10**30"])
def test_an_absurd_number(tmp_path: Path, seed: str) -> None:
    result = _run(
        "--db", f"sqlite:///{tmp_path / 'demo.db'}", "demo", "--no-launch", "--seed", seed
    )
    _one_line_error(result, EXIT_USAGE, "--seed")
    assert not (tmp_path / "demo.db").exists()


def test_an_unknown_option_is_one_line() -> None:
    _one_line_error(_run("user", "list", "--bogus"), EXIT_USAGE, "--bogus")


def test_a_read_only_command_never_creates_a_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for args in (
        ["user", "list"],
        ["db", "current"],
        ["--db", f"sqlite:///{tmp_path / 'x.db'}", "user", "list"],
        ["--db", f"sqlite:///{tmp_path / 'x.db'}", "db", "current"],
    ):
        result = _run(*args)
        _one_line_error(result, EXIT_DATABASE, "no database at", "desk init")
    assert not data.exists()
    assert not (tmp_path / "x.db").exists()


def test_an_unexpected_error_is_one_line_too() -> None:
    message, code = describe(ZeroDivisionError("division by zero\nsecond line"))
    assert (message, code) == ("unexpected error: ZeroDivisionError: division by zero", 70)


def test_a_refusal_of_a_service_exits_one(initialised: Path) -> None:
    result = _run("--db", f"sqlite:///{initialised}", "user", "disable", "ghost")
    _one_line_error(result, EXIT_REFUSED, "ghost")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("王芳", "王芳"),
        ("evil\x1b[31mred", "evil\\x1b[31mred"),
        ("bell\x07", "bell\\x07"),
        ("rtl\u202eoverride", "rtl\\u202eoverride"),
        ("bad\udcff", "bad\\udcff"),
    ],
)
def test_printable_escapes_control_characters(raw: str, shown: str) -> None:
    assert printable(raw) == shown
