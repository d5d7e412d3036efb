"""Proof under load and faults: scenarios the tests run briefly and ``bench/figures/faults.py``
runs long, on SQLite and PostgreSQL alike (each takes the database's URL).

- :func:`run_writers`: worker processes, each a lead of its own, create work orders and add
  notes to a small shared set of orders (so they collide) through the services for a while.
  Every worker reports what it committed; :func:`check_writers` then holds the database to it:
  no error, every reported order present with its one ``created`` event, each shared order's
  notes exactly the ones reported (no lost update), its version 1 + its notes, and the
  work-order change counter raised once per committed change.
- :func:`run_killed_writer`: a writer process creating work orders is killed with SIGKILL at
  random instants, again and again; it reports each order after its commit returned. Every
  reported order must be there, whole (its ``created`` event), and the database must pass
  ``desk check`` (integrity, foreign keys, audit chain).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from desk.infra.database import Database

SHARED_ORDERS = 12


@dataclass
class WriterOutcome:
    created: list[int] = field(default_factory=list)
    notes: Counter[int] = field(default_factory=Counter)
    conflicts: int = 0  # someone saved first: read again and retried (not an error)
    errors: list[str] = field(default_factory=list)


@dataclass
class WritersResult:
    processes: int
    seconds: float
    shared: list[int]
    outcomes: list[WriterOutcome]
    counter_before: int

    @property
    def created(self) -> int:
        return sum(len(o.created) for o in self.outcomes)

    @property
    def notes(self) -> int:
        return sum(sum(o.notes.values()) for o in self.outcomes)

    @property
    def conflicts(self) -> int:
        return sum(o.conflicts for o in self.outcomes)

    @property
    def errors(self) -> list[str]:
        return [e for o in self.outcomes for e in o.errors]


def _draft(title: str) -> Any:
    from desk.rules.vocab import Channel, Priority, RequestType, WorkOrderSource
    from desk.services.work_orders import WorkOrderDraft

    return WorkOrderDraft(
        customer_id=None,
        contact_id=None,
        category=RequestType.COMPLAINT,
        topic=None,
        title=title,
        description="load test",
        priority=Priority.NORMAL,
        department_id=None,
        callback_number=None,
        channel=Channel.PHONE,
        source=WorkOrderSource.AGENT,
        consent=True,
    )


def make_leads(db: Database, count: int, prefix: str) -> list[Any]:
    """``count`` active leads (no password: nothing here signs in)."""
    from sqlmodel import Session

    from desk.infra.database import now_of
    from desk.models import StaffUser
    from desk.rules.permissions import Actor
    from desk.rules.vocab import Role

    def add(session: Session) -> list[Actor]:
        actors = []
        for index in range(count):
            user = StaffUser(
                login=f"{prefix}{index}",
                display_name=f"{prefix} {index}",
                role=Role.LEAD.value,
                password_hash="!",
                created_at=now_of(session),
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            actors.append(Actor(user.id, user.login, Role.LEAD))
        return actors

    return db.run(add, write=True)


def _counter(db: Database) -> int:
    with db.engine.connect() as connection:
        value = connection.execute(
            text("SELECT value FROM change_counter WHERE name = 'work_orders'")
        ).scalar()
    return int(value or 0)


def _writer(url: str, actor: Any, shared: list[int], seconds: float, seed: int, queue: Any) -> None:
    from desk.rules.policy import load_policy
    from desk.services.work_order_actions import add_note
    from desk.services.work_orders import WorkOrderChanged, create_work_order

    db = Database.from_url(url)
    policy = load_policy(None)
    rng = random.Random(seed)
    outcome = WriterOutcome()
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                if rng.random() < 0.3:
                    view = create_work_order(
                        db, actor=actor, draft=_draft(f"load {seed}"), policy=policy
                    )
                    outcome.created.append(view.id)
                    continue
                order = rng.choice(shared)
                while True:
                    with db.engine.connect() as connection:
                        version = connection.execute(
                            text("SELECT version FROM work_order WHERE id = :id"), {"id": order}
                        ).scalar_one()
                    try:
                        add_note(
                            db,
                            actor=actor,
                            work_order_id=order,
                            version=int(version),
                            note=f"note from {seed}",
                            policy=policy,
                        )
                    except WorkOrderChanged:
                        outcome.conflicts += 1
                        continue
                    outcome.notes[order] += 1
                    break
            except Exception as error:  # noqa: BLE001 - every failure is counted and shown
                outcome.errors.append(f"{type(error).__name__}: {error}")
    finally:
        db.dispose()
        queue.put(outcome)


def run_writers(db: Database, *, processes: int = 8, seconds: float = 30.0) -> WritersResult:
    """``processes`` writers for ``seconds`` on ``db`` (its URL; the processes are spawned)."""
    from desk.rules.policy import load_policy
    from desk.services.work_orders import create_work_order

    url = db.engine.url.render_as_string(hide_password=False)
    actors = make_leads(db, processes + 1, f"load{os.getpid()}-{int(time.time() * 1000)}-")
    policy = load_policy(None)
    shared = [
        create_work_order(db, actor=actors[-1], draft=_draft("shared"), policy=policy).id
        for _ in range(SHARED_ORDERS)
    ]
    before = _counter(db)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_writer, args=(url, actors[i], shared, seconds, i, queue))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [queue.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    return WritersResult(processes, seconds, shared, outcomes, before)


def check_writers(db: Database, result: WritersResult) -> list[str]:
    """What the database says against what the writers reported: a list of problems."""
    problems = [f"error: {e}" for e in result.errors[:10]]
    created = [i for o in result.outcomes for i in o.created]
    notes: Counter[int] = Counter()
    for outcome in result.outcomes:
        notes.update(outcome.notes)
    with db.engine.connect() as connection:
        if created:
            found = dict(
                connection.execute(
                    text(
                        "SELECT w.id, COUNT(e.id) FROM work_order w LEFT JOIN work_order_event e "
                        "ON e.work_order_id = w.id AND e.kind = 'created' "
                        "WHERE w.id IN (SELECT value FROM json_each(:ids)) GROUP BY w.id"
                        if db.is_sqlite
                        else "SELECT w.id, COUNT(e.id) FROM work_order w "
                        "LEFT JOIN work_order_event e ON e.work_order_id = w.id "
                        "AND e.kind = 'created' WHERE w.id = ANY(CAST(:ids AS bigint[])) "
                        "GROUP BY w.id"
                    ),
                    {"ids": _id_list(created, db)},
                ).all()
            )
            missing = [i for i in created if i not in found]
            if missing:
                problems.append(f"{len(missing)} reported orders missing, e.g. {missing[:5]}")
            doubled = [i for i, n in found.items() if n != 1]
            if doubled:
                problems.append(f"orders without exactly one created event: {doubled[:5]}")
        for order in result.shared:
            stored, version = connection.execute(
                text(
                    "SELECT (SELECT COUNT(*) FROM work_order_event "
                    "WHERE work_order_id = :id AND kind = 'note'), "
                    "(SELECT version FROM work_order WHERE id = :id)"
                ),
                {"id": order},
            ).one()
            if stored != notes[order]:
                problems.append(
                    f"order {order}: {stored} notes stored, {notes[order]} reported (lost update)"
                )
            if version != 1 + notes[order]:
                problems.append(f"order {order}: version {version}, 1 + {notes[order]} notes")
    counter = _counter(db) - result.counter_before
    if counter != len(created) + sum(notes.values()):
        problems.append(
            f"change counter moved {counter}, {len(created) + sum(notes.values())} changes made"
        )
    return problems


def _id_list(ids: list[int], db: Database) -> str:
    inside = ",".join(str(i) for i in ids)
    return f"[{inside}]" if db.is_sqlite else f"{{{inside}}}"


# --- a writer killed again and again ---------------------------------------------------------


@dataclass
class KillResult:
    kills: int
    reported: list[int]
    problems: list[str]
    rows_after: int


def _doomed_writer(url: str, actor: Any, descriptor: int) -> None:
    from desk.rules.policy import load_policy
    from desk.services.work_orders import create_work_order

    db = Database.from_url(url)
    policy = load_policy(None)
    os.write(descriptor, b"ready\n")
    while True:  # until killed
        view = create_work_order(db, actor=actor, draft=_draft("doomed"), policy=policy)
        os.write(descriptor, f"{view.id}\n".encode())


def run_killed_writer(
    db: Database, *, kills: int = 25, seed: int = 1, longest: float = 0.4
) -> KillResult:
    """Start a writer, wait for its first commit, let it work on for a random moment, SIGKILL
    it; ``kills`` times. Then check every order it reported and run ``desk check``."""
    from desk.rules.permissions import shell_actor
    from desk.services.backups import check

    url = db.engine.url.render_as_string(hide_password=False)
    actor = make_leads(db, 1, f"doomed{os.getpid()}-{int(time.time() * 1000)}-")[0]
    db.dispose()
    rng = random.Random(seed)
    context = multiprocessing.get_context("fork")
    reported: list[int] = []
    for _ in range(kills):
        reading, writing = os.pipe()
        process = context.Process(target=_doomed_writer, args=(url, actor, writing))
        process.start()
        os.close(writing)
        with os.fdopen(reading, "rb") as pipe:
            if pipe.readline() != b"ready\n":
                raise RuntimeError("the writer did not start")
            first = pipe.readline()  # its first commit: the kill falls in the stream after it
            reported.append(int(first))
            time.sleep(rng.uniform(0.0, longest))
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
            process.join()
            reported.extend(int(line) for line in pipe.read().split() if line.strip())
    problems: list[str] = []
    with db.engine.connect() as connection:
        rows = int(connection.execute(text("SELECT COUNT(*) FROM work_order")).scalar_one())
        if reported:
            whole = connection.execute(
                text(
                    "SELECT COUNT(DISTINCT w.id) FROM work_order w JOIN work_order_event e "
                    "ON e.work_order_id = w.id AND e.kind = 'created' "
                    + (
                        "WHERE w.id IN (SELECT value FROM json_each(:ids))"
                        if db.is_sqlite
                        else "WHERE w.id = ANY(CAST(:ids AS bigint[]))"
                    )
                ),
                {"ids": _id_list(reported, db)},
            ).scalar_one()
            if whole != len(set(reported)):
                problems.append(f"{len(set(reported)) - whole} reported commits missing")
    report = check(db, actor=shell_actor("faults"))
    if not report.ok:
        problems.append(f"desk check: {report.as_dict()}")
    return KillResult(kills, reported, problems, rows)
