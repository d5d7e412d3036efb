"""Customer lookups of two checkouts of desk, paired and interleaved in one run.

``python -m bench.compare_lookups DB_FILE --other CHECKOUT [--other-python PY] [--queries N]``

The wall time of a ~1 ms lookup on a shared two-core machine drifts by up to 2× from one run
to the next, so two separate runs cannot tell whether one code is within 10 % of the other.
This tool measures both codes in the same minutes, query by query:

- Two long-lived worker processes, one running this checkout's desk (this interpreter), the
  other ``CHECKOUT``'s desk (``--other-python``, by default ``CHECKOUT/.venv/bin/python``).
  Each is sent :data:`WORKER` with ``python -I -c`` and puts its checkout's ``src`` first on
  ``sys.path``, so the other checkout needs no file of this tool, and ``desk`` is that
  checkout's own (checked: the worker names the file it imported). Both open the same SQLite
  file: a lookup only reads (no audit entry, in either code: ``reads`` / ``reads_autocommit``),
  so no copy is made.
- Each calls its own code's ``search_customers(db, actor=..., query=...)`` as a console does,
  through that code's own ``Database``. The shim in :data:`WORKER` finds them where each code
  keeps them: ``desk.services.search`` and ``desk.infra.database`` since the refactor,
  ``desk.services.customers`` and ``desk.services.database`` at ``aea95f7``; the signature is
  the same in both. The actor is a real active agent of the file (the current code checks the
  user's row with the page's first statement; ``aea95f7`` checked the role alone).
- Queries are drawn from the data by :mod:`bench.figures.search`'s drawing (exact phone,
  last 4 digits of a phone, ID-card tail, 1 and 2 name characters, pinyin initials, full-pinyin
  prefix), N different ones per kind, none used twice anywhere (a few more per kind prime the
  workers' code paths first and are never timed), so every timed query is new to both workers.
- The file is read into the OS page cache first. Then, in a shuffled order, each query is run
  by both workers, the first alternating from one query of a kind to the next (this, other /
  other, this): each worker runs it once untimed, then ``--rounds`` times (3) timed, back to
  back. Only one worker runs at a time; the other waits on its pipe (one JSON object a line
  each way). ``--turns run`` makes the workers take turns at every run instead (a burst of
  load then tends to hit both sides of a query), but each run then starts with caches the
  other process has just used: on a 2,000-customer demo that added 0.4-0.6 ms to every
  lookup of both codes (0.4 -> 0.8 ms for an exact phone), a constant that pulls every ratio
  towards 1, so it is not the default.
- Per query the value is the **minimum** of its timed runs (``--per-query median`` for the
  median): on a loaded machine the noise only adds time (preemption, another process's
  cache traffic), so the least of a few back-to-back runs is the cost with the least of it,
  and the median over the queries then takes care of an unlucky query.

Printed per kind: the median of each code's per-query values, the ratio of the medians (this /
other: above 1 this code is slower) and the median of the per-query ratios, each with a 95 %
bootstrap interval (queries resampled in pairs, :data:`BOOTSTRAP` times); then whether every
kind is within 10 %, by either: a kind is within when the interval's upper end is at most
1.10, over when its lower end is above 1.10, undecided otherwise. The per-query ratio's
interval is the narrower one: each query's two times are taken minutes apart at most and
share the query's own cost, which the ratio of medians leaves to the luck of which query
lands in the middle of each side. ``--out FILE`` writes the same as JSON, with every query's
times.

What pairing cannot remove: a difference between the two processes themselves (memory
layout, the interpreter build). Pointing ``--other`` at this same checkout (same code on both
sides) shows its size: the intervals should then contain 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import select
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
KINDS = (
    "phone_exact",
    "phone_suffix",
    "id_suffix",
    "name_1char",
    "name_2char",
    "pinyin_initials",
    "pinyin_full",
)
PRIMING = 3  # queries per kind each worker runs before the timed ones, never timed
BOOTSTRAP = 4000  # resamples for the interval
LIMIT = 1.10  # the bound: within 10 % of the other code
READY_TIMEOUT_S = 120.0
REPLY_TIMEOUT_S = 60.0
SEED = 1

# The worker: run with ``python -I -c WORKER SRC URL USER_ID LOGIN``. It answers on stdout,
# one JSON object a line; anything desk itself prints goes to stderr.
WORKER = r"""
import importlib, json, os, sys, time

src, url, user_id, login = sys.argv[1:5]
_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr


def say(message):
    _out.write(json.dumps(message) + "\n")
    _out.flush()


sys.path.insert(0, src)
# The shim: where each code keeps its search and its Database (same call in both).
APIS = (
    ("desk.services.search", "desk.infra.database"),  # since the refactor
    ("desk.services.customers", "desk.services.database"),  # aea95f7
)
try:
    import desk

    where = os.path.realpath(desk.__file__)
    if not where.startswith(os.path.realpath(src) + os.sep):
        raise ImportError(f"desk was imported from {where}, not from {src}")
    tried = []
    for search_module, database_module in APIS:
        try:
            search = importlib.import_module(search_module).search_customers
            Database = importlib.import_module(database_module).Database
        except (ImportError, AttributeError) as error:
            tried.append(f"{search_module}: {error}")
            continue
        api = search_module
        break
    else:
        raise ImportError("no search_customers found (" + "; ".join(tried) + ")")
    from desk.rules.permissions import Actor
    from desk.rules.vocab import Role

    actor = Actor(user_id=int(user_id), login=login, role=Role.AGENT)
    db = Database.from_url(url)
except Exception as error:
    say({"error": f"{type(error).__name__}: {error}"})
    raise SystemExit(1)
say({"ready": True, "desk": where, "api": api, "python": sys.version.split()[0]})
for line in sys.stdin:
    request = json.loads(line)
    if request["op"] == "quit":
        break
    try:
        times = []
        for index in range(request["warmup"] + request["rounds"]):
            start = time.perf_counter_ns()
            page = search(db, actor=actor, query=request["query"])
            elapsed = time.perf_counter_ns() - start
            if index >= request["warmup"]:
                times.append(elapsed / 1e6)
        say({"ms": times, "hits": len(page.hits)})
    except Exception as error:
        say({"error": f"{type(error).__name__}: {error}"})
db.dispose()
"""


class Refused(Exception):
    """Bad input (exit 2) or a worker that failed (exit 1): one sentence, no traceback."""

    def __init__(self, message: str, *, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --- the workers ---------------------------------------------------------------------------------


@dataclass
class Worker:
    name: str  # "this" or "other"
    checkout: Path
    python: Path
    process: subprocess.Popen[str]
    errors: IO[str]  # the worker's stderr
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, name: str, checkout: Path, python: Path, url: str, actor: Agent) -> Worker:
        src = checkout / "src"
        # the worker's stderr: a file, as a pipe nobody reads could fill and block it; it
        # lives as long as the worker (closed by compare)
        errors = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        try:
            process = subprocess.Popen(
                [str(python), "-I", "-c", WORKER, str(src), url, str(actor.user_id), actor.login],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                encoding="utf-8",
                cwd=checkout,
            )
        except OSError as error:
            errors.close()
            raise Refused(f"{python} cannot be run ({error.strerror})") from error
        worker = cls(name, checkout, python, process, errors)
        worker.info = worker._reply(READY_TIMEOUT_S, "starting")
        return worker

    def _reply(self, timeout: float, doing: str) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], timeout)
        line = stdout.readline() if ready else ""
        if not line:
            self.stop()
            self.errors.seek(0)
            errors = self.errors.read()
            code = self.process.returncode
            silent = f"no answer within {timeout:.0f} s" if ready == [] else f"exit code {code}"
            last = errors.strip().splitlines()[-1:] or [silent]
            raise Refused(
                f"the {self.name} worker ({self.python}) failed {doing}: {last[0]}", code=1
            )
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            self.stop()
            raise Refused(
                f"the {self.name} worker ({self.checkout}) failed {doing}: {message['error']}",
                code=1,
            )
        return message

    def run(self, query: str, *, warmup: int, rounds: int) -> dict[str, Any]:
        stdin = self.process.stdin
        assert stdin is not None
        request = {"op": "run", "query": query, "warmup": warmup, "rounds": rounds}
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
        except BrokenPipeError as error:
            raise Refused(f"the {self.name} worker ended before query {query!r}", code=1) from error
        return self._reply(REPLY_TIMEOUT_S, f"on query {query!r}")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.errors.flush()


@dataclass(frozen=True)
class Agent:
    """The agent both workers search as (each makes its own code's ``Actor`` of it)."""

    user_id: int
    login: str


# --- drawing the queries -------------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        connection.execute("SELECT 1 FROM customer LIMIT 1").fetchall()
        return connection
    except sqlite3.Error as error:
        raise Refused(f"{path} is not a desk database ({error})") from error


def _agent(connection: sqlite3.Connection) -> Agent:
    row = connection.execute(
        "SELECT id, login FROM staff_user WHERE role = 'agent' AND active ORDER BY id LIMIT 1"
    ).fetchone()
    if row is None:
        raise Refused("the database has no active agent to search as (is it a demo?)")
    return Agent(int(row[0]), str(row[1]))


def draw(connection: sqlite3.Connection, wanted: int, seed: int = SEED) -> dict[str, list[str]]:
    """Per kind, up to ``wanted`` queries drawn from the data, each different from every other
    query of every kind (so a query is new to a worker the first time it is sent)."""
    # imported here: it imports desk and SQLAlchemy, a second's wait before a refusal
    from bench.figures.search import _queries, _sample_rows

    def fetch(statement: str, parameters: Sequence[Any]) -> list[Any]:
        return connection.execute(statement, tuple(parameters)).fetchall()

    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    seen: set[str] = set()
    for attempt in range(40):  # rows are drawn until every kind has enough distinct queries
        if all(len(found[kind]) >= wanted for kind in KINDS):
            break
        rng = random.Random(seed * 1000 + attempt)
        rows, orders = _sample_rows(fetch, rng, max(wanted, 50) * 2)
        if not rows:
            break
        drawn = _queries(rows, orders, rng)
        for kind in KINDS:
            for query in drawn[kind]:
                if len(found[kind]) < wanted and query not in seen:
                    seen.add(query)
                    found[kind].append(query)
    return found


# --- the figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    kind: str
    query: str
    first: str  # which worker ran it first
    this_ms: list[float]
    other_ms: list[float]
    this_hits: int
    other_hits: int


def _value(times: Sequence[float], per_query: str) -> float:
    return min(times) if per_query == "min" else statistics.median(times)


def _verdict(low: float, high: float) -> str:
    return "within" if high <= LIMIT else "over" if low > LIMIT else "undecided"


def _interval(resampled: list[float]) -> tuple[float, float]:
    resampled.sort()
    return resampled[int(0.025 * len(resampled))], resampled[int(0.975 * len(resampled)) - 1]


def summarise(pairs: Sequence[Pair], per_query: str, seed: int = SEED) -> dict[str, Any]:
    """One kind's figures: both medians, their ratio, the median of the per-query ratios, and
    a bootstrap interval of each (the queries resampled with their pairs, the same resamples
    for both)."""
    this = [_value(pair.this_ms, per_query) for pair in pairs]
    other = [_value(pair.other_ms, per_query) for pair in pairs]
    ratios = [a / b for a, b in zip(this, other, strict=True)]
    rng = random.Random(seed)
    indices = range(len(pairs))
    of_medians: list[float] = []
    of_ratios: list[float] = []
    for _ in range(BOOTSTRAP):
        chosen = rng.choices(indices, k=len(pairs))
        of_medians.append(
            statistics.median(this[i] for i in chosen) / statistics.median(other[i] for i in chosen)
        )
        of_ratios.append(statistics.median(ratios[i] for i in chosen))
    low, high = _interval(of_medians)
    query_low, query_high = _interval(of_ratios)
    return {
        "kind": pairs[0].kind,
        "queries": len(pairs),
        "this_ms": round(statistics.median(this), 4),
        "other_ms": round(statistics.median(other), 4),
        "ratio": round(statistics.median(this) / statistics.median(other), 4),
        "interval": [round(low, 4), round(high, 4)],
        "verdict": _verdict(low, high),
        "median_query_ratio": round(statistics.median(ratios), 4),
        "query_ratio_interval": [round(query_low, 4), round(query_high, 4)],
        "query_ratio_verdict": _verdict(query_low, query_high),
        "hits_differ": sum(pair.this_hits != pair.other_hits for pair in pairs),
    }


def overall(verdicts: Sequence[str]) -> str:
    """Every kind within: yes; one over: no; else undecided."""
    if all(verdict == "within" for verdict in verdicts):
        return "yes"
    if "over" in verdicts:
        return "no"
    return "undecided"


# --- the run -------------------------------------------------------------------------------------


def _commit(checkout: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def _checkout(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise Refused(f"{what} {path} is not a directory")
    if not (path / "src" / "desk" / "__init__.py").is_file():
        raise Refused(f"{what} {path} holds no desk package (src/desk)")
    return path.resolve()


def _python(path: Path) -> Path:
    if not path.is_file() or not os.access(path, os.X_OK):
        raise Refused(f"no Python interpreter at {path} (give --other-python)")
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare_lookups",
        description="Customer lookups of this checkout and another, paired and interleaved "
        "on one SQLite demo file.",
    )
    parser.add_argument("db_file", type=Path, metavar="DB_FILE", help="a SQLite demo database")
    parser.add_argument("--other", type=Path, required=True, metavar="CHECKOUT")
    parser.add_argument(
        "--other-python", type=Path, metavar="PY", help="default CHECKOUT/.venv/bin/python"
    )
    parser.add_argument("--queries", type=int, default=200, metavar="N", help="per kind (200)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per query (3)")
    parser.add_argument("--per-query", choices=("min", "median"), default="min")
    parser.add_argument(
        "--turns",
        choices=("query", "run"),
        default="query",
        help="the workers take turns at every query (default: each its untimed and timed runs "
        "in one go) or at every run",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    if args.queries < 2 or args.rounds < 1:
        parser.error("--queries must be at least 2 and --rounds at least 1")
    return args


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def compare(args: argparse.Namespace) -> dict[str, Any]:
    path: Path = args.db_file
    if not path.is_file():
        raise Refused(f"no database file at {path}")
    path = path.resolve()
    other = _checkout(args.other, "--other")
    other_python = _python(args.other_python or other / ".venv" / "bin" / "python")
    if args.out is not None and not args.out.resolve().parent.is_dir():
        raise Refused(f"--out {args.out}: no such directory")
    with _connect(path) as connection:
        actor = _agent(connection)
        drawn = draw(connection, args.queries + PRIMING, args.seed)
    connection.close()
    priming = {kind: queries[:PRIMING] for kind, queries in drawn.items()}
    measured = {kind: queries[PRIMING:] for kind, queries in drawn.items()}
    short = [kind for kind, queries in measured.items() if len(queries) < 2]
    if short:
        raise Refused(f"too few distinct queries could be drawn for {', '.join(short)}")
    rng = random.Random(args.seed)
    plan = [
        (kind, query, "this" if index % 2 == 0 else "other")
        for kind, queries in measured.items()
        for index, query in enumerate(queries)
    ]
    rng.shuffle(plan)

    url = f"sqlite:///{path}"
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists():  # as `cat DB_FILE > /dev/null`, and its WAL when there is one
            with file.open("rb") as data:
                while data.read(1 << 24):
                    pass
    workers: dict[str, Worker] = {}
    loads = [_load()]
    started = time.perf_counter()
    try:
        workers["this"] = Worker.start("this", ROOT, Path(sys.executable), url, actor)
        workers["other"] = Worker.start("other", other, other_python, url, actor)
        for index, query in enumerate(q for queries in priming.values() for q in queries):
            for name in ("this", "other") if index % 2 == 0 else ("other", "this"):
                workers[name].run(query, warmup=1, rounds=0)
        pairs: list[Pair] = []
        for number, (kind, query, first) in enumerate(plan):
            order = ("this", "other") if first == "this" else ("other", "this")
            times: dict[str, list[float]] = {"this": [], "other": []}
            hits: dict[str, int] = {}
            if args.turns == "query":  # each worker's untimed and timed runs in one go
                steps = [(1, args.rounds)]
            else:
                steps = [(int(run == 0), int(run > 0)) for run in range(1 + args.rounds)]
            for warmup, rounds in steps:
                for name in order:
                    reply = workers[name].run(query, warmup=warmup, rounds=rounds)
                    times[name] += reply["ms"]
                    hits[name] = reply["hits"]
            pairs.append(
                Pair(kind, query, first, times["this"], times["other"], hits["this"], hits["other"])
            )
            if number % 50 == 49:
                loads.append(_load())
    finally:
        for worker in workers.values():
            worker.stop()
            worker.errors.close()
    elapsed = time.perf_counter() - started
    loads.append(_load())
    kinds = [
        summarise([pair for pair in pairs if pair.kind == kind], args.per_query, args.seed)
        for kind in KINDS
    ]
    known = [load for load in loads if load is not None]
    return {
        "run": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "db_file": str(path),
            "this": {"checkout": str(ROOT), "commit": _commit(ROOT), **workers["this"].info},
            "other": {"checkout": str(other), "commit": _commit(other), **workers["other"].info},
            "queries_per_kind": args.queries,
            "rounds": args.rounds,
            "warmup": 1,
            "per_query": args.per_query,
            "turns": args.turns,
            "bootstrap": BOOTSTRAP,
            "seed": args.seed,
            "actor": {"user_id": actor.user_id, "login": actor.login},
            "seconds": round(elapsed, 1),
            "load_1min": {
                "samples": loads,
                "min": min(known, default=None),
                "max": max(known, default=None),
            },
        },
        "kinds": kinds,
        "every_kind_within_10_percent": overall([kind["verdict"] for kind in kinds]),
        "every_kind_within_10_percent_by_query_ratios": overall(
            [kind["query_ratio_verdict"] for kind in kinds]
        ),
        "pairs": [pair.__dict__ for pair in pairs],
    }


def report(result: dict[str, Any]) -> str:
    run = result["run"]
    load = run["load_1min"]
    lines = [
        f"this:  {run['this']['checkout']} ({run['this']['commit'] or '?'}, {run['this']['api']})",
        f"other: {run['other']['checkout']} ({run['other']['commit'] or '?'}, "
        f"{run['other']['api']})",
        f"{run['db_file']}; {run['rounds']} timed runs a query after 1 untimed, the "
        f"{run['per_query']} of them; {run['seconds']} s, load {load['min']}–{load['max']}",
        "ratio: this / other (above 1: this code is slower); q-ratio: the median of the "
        "per-query ratios",
        "",
        f"{'kind':16} {'n':>4} {'this ms':>8} {'other ms':>8} {'ratio':>6} {'95 % interval':>13}"
        f"  {'verdict':9} {'q-ratio':>7} {'95 % interval':>13}  verdict",
    ]
    for kind in result["kinds"]:
        low, high = kind["interval"]
        query_low, query_high = kind["query_ratio_interval"]
        differ = f"  ({kind['hits_differ']} with other hits)" if kind["hits_differ"] else ""
        lines.append(
            f"{kind['kind']:16} {kind['queries']:4d} {kind['this_ms']:8.3f} "
            f"{kind['other_ms']:8.3f} {kind['ratio']:6.3f} {low:6.3f}–{high:<6.3f}  "
            f"{kind['verdict']:9} {kind['median_query_ratio']:7.3f} "
            f"{query_low:6.3f}–{query_high:<6.3f}  {kind['query_ratio_verdict']}{differ}"
        )
    lines += [
        "",
        "every kind within 10 % of the other code (interval's upper end ≤ 1.10): "
        f"{result['every_kind_within_10_percent']} by the ratio of medians, "
        f"{result['every_kind_within_10_percent_by_query_ratios']} by the per-query ratios",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = compare(args)
    except Refused as error:
        print(f"compare_lookups: {error}", file=sys.stderr)
        return error.code
    print(report(result))
    if args.out is not None:
        try:
            args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
        except OSError as error:
            print(
                f"compare_lookups: {args.out} cannot be written ({error.strerror})", file=sys.stderr
            )
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
