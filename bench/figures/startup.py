"""Start-up: from starting the console to the first paint of its login screen.

Each run spawns a fresh interpreter on a pseudo-terminal (80×24) and stops the clock when
the login screen's title reaches the terminal. Three things are started, interleaved, in the
same run:

- ``desk.cli.console.launch`` (settings, language, the app) — the console itself, the figure
  with the 1 s target;
- the whole ``desk --db URL`` command, which first imports the CLI's command groups;
- the baseline: a bare Textual app with one ``Label``, started the same way.

A third figure is the time until the login is usable: the data layer (database, schema
check, policy) has loaded in the background and, on a demo database, the demo accounts
appear on the screen. Each figure is the median of :data:`RUNS` runs.

Run on its own: ``python -m bench.figures.startup [DB_FILE]`` (a fresh demo-marked database
is made when no file is given).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from bench.core import BenchContext, Figure

RUNS = 5
TIMEOUT_SECONDS = 60.0
TARGET_MS = 1000.0

LOGIN_PAINTED = b"customer-service console"  # the login screen's title
LOGIN_USABLE = b"demo123"  # the demo hint: shown once the data layer is ready
BARE_PAINTED = b"bare-textual-ready"

_LAUNCH = (
    "from desk.cli.common import State\n"
    "from desk.cli.console import launch\n"
    "launch(State(db_url={url!r}))\n"
)
_COMMAND = "import sys\nfrom desk.cli import main\nsys.argv = ['desk', '--db', {url!r}]\nmain()\n"
_BARE = (
    "from textual.app import App\n"
    "from textual.widgets import Label\n"
    "class Bare(App):\n"
    "    def compose(self):\n"
    "        yield Label('bare-textual-ready')\n"
    "Bare().run()\n"
)


class StartupFailed(RuntimeError):
    pass


def _until(argv: list[str], markers: tuple[bytes, ...], env: dict[str, str]) -> list[float]:
    """Milliseconds from spawning ``argv`` on a pty until each marker was written."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    found: dict[bytes, float] = {}
    deadline = start + TIMEOUT_SECONDS
    try:
        while len(found) < len(markers):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise StartupFailed(f"no {markers} within {TIMEOUT_SECONDS}s: {seen[-300:]!r}")
            ready, _, _ = select.select([master], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise StartupFailed(f"exited before painting: {seen[-500:]!r}")
            seen += chunk
            now = time.perf_counter()
            for marker in markers:
                if marker not in found and marker in seen:
                    found[marker] = (now - start) * 1000
    finally:
        process.kill()
        process.wait()
        os.close(master)
    return [found[marker] for marker in markers]


def _environment(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DESK_") and key not in ("TEXTUAL", "TEXTUAL_DRIVER")
    }
    env.update(
        TERM="xterm-256color",
        COLUMNS="80",
        LINES="24",
        DESK_LANG="en",
        DESK_DATA_DIR=str(data_dir),
    )
    return env


def measure(ctx: BenchContext) -> list[Figure]:
    url = ctx.url
    from desk.services.setup import is_demo

    demo = is_demo(ctx.db)
    python = sys.executable
    launch_markers = (LOGIN_PAINTED, LOGIN_USABLE) if demo else (LOGIN_PAINTED,)
    samples: dict[str, list[float]] = {"bare": [], "launch": [], "usable": [], "command": []}
    with tempfile.TemporaryDirectory() as data_dir:
        env = _environment(Path(data_dir))
        for _ in range(1 if ctx.quick else RUNS):  # interleaved: a busy moment hits all alike
            samples["bare"].extend(_until([python, "-c", _BARE], (BARE_PAINTED,), env))
            times = _until([python, "-c", _LAUNCH.format(url=url)], launch_markers, env)
            samples["launch"].append(times[0])
            samples["usable"].extend(times[1:])
            samples["command"].extend(
                _until([python, "-c", _COMMAND.format(url=url)], (LOGIN_PAINTED,), env)
            )
    bare_ms = statistics.median(samples["bare"])
    bare_label = "bare Textual app (one Label), same pty, same run"
    figures = [
        Figure(
            name="startup.login_painted",
            value=statistics.median(samples["launch"]),
            unit="ms",
            baseline=bare_ms,
            baseline_label=bare_label,
            target=TARGET_MS,
            note=f"desk.cli.console.launch (settings, app) to the login title; median of {RUNS}",
        ),
        Figure(
            name="startup.desk_command_painted",
            value=statistics.median(samples["command"]),
            unit="ms",
            baseline=bare_ms,
            baseline_label=bare_label,
            note=f"the whole `desk --db URL` command (CLI groups imported first); median of {RUNS}",
        ),
    ]
    if samples["usable"]:
        figures.append(
            Figure(
                name="startup.login_usable",
                value=statistics.median(samples["usable"]),
                unit="ms",
                baseline=bare_ms,
                baseline_label=bare_label,
                note="launch until the data layer has loaded behind the login screen "
                f"(the demo accounts appear); median of {RUNS}",
            )
        )
    return figures


def _main(argv: list[str]) -> None:
    from desk.infra import migrations
    from desk.infra.database import Database
    from desk.models import Meta

    with tempfile.TemporaryDirectory() as scratch:
        if argv:
            path = Path(argv[0])
        else:
            path = Path(scratch) / "startup.db"
            db = Database.from_url(f"sqlite:///{path}")
            migrations.upgrade(db)
            db.run(lambda session: session.add(Meta(key="demo", value="1")), write=True)
            db.dispose()
        db = Database.from_url(f"sqlite:///{path}")
        ctx = BenchContext(db_path=path, db=db, customers=0, days=0, seed=0)
        for figure in measure(ctx):
            print(
                f"{figure.name}: {figure.value:.0f} {figure.unit} "
                f"(baseline {figure.baseline:.0f} {figure.unit}, {figure.baseline_label}; "
                f"ratio {figure.ratio:.2f}; target {figure.target}; {figure.note})"
            )
        db.dispose()


if __name__ == "__main__":
    _main(sys.argv[1:])
