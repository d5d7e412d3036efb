"""Twenty parallel login attempts against one account evaluate at most the limit, and no
write lock is held while a password is hashed."""

from __future__ import annotations

import threading
import time

import pytest

from desk.infra.database import Database
from desk.rules.permissions import shell_actor
from desk.rules.policy import load_policy
from desk.rules.vocab import Role
from desk.services import users

POLICY = load_policy()
LIMIT = POLICY.login.max_failures


@pytest.fixture
def agent(db: Database) -> str:
    users.add_user(
        db,
        actor=shell_actor("test"),
        new=users.NewUser(login="agent1", display_name="a", role=Role.AGENT, password="secret1"),
    )
    return "agent1"


def test_twenty_parallel_guesses_evaluate_at_most_the_limit(
    db: Database, agent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluated: list[str] = []
    real = users.verify_secret

    def slow_verify(stored: str | None, secret: str) -> bool:
        evaluated.append(secret)
        time.sleep(0.05)  # every guess is in flight at once
        return real(stored, secret)

    monkeypatch.setattr(users, "verify_secret", slow_verify)
    barrier = threading.Barrier(20)
    outcomes: list[users.LoginOutcome] = []

    def guess(n: int) -> None:
        barrier.wait()
        outcomes.append(users.authenticate(db, login=agent, password=f"wrong{n}", policy=POLICY))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 20
    assert all(outcome.actor is None for outcome in outcomes)
    assert len(evaluated) <= LIMIT
    locked = users.authenticate(db, login=agent, password="secret1", policy=POLICY)
    assert locked.failure is users.LoginFailure.LOCKED


def test_a_login_holds_no_write_lock_while_hashing(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sqlite_db
    users.add_user(
        db,
        actor=shell_actor("test"),
        new=users.NewUser(login="agent1", display_name="a", role=Role.AGENT, password="secret1"),
    )
    hashing = threading.Event()
    release = threading.Event()
    real = users.verify_secret

    def blocking_verify(stored: str | None, secret: str) -> bool:
        hashing.set()
        release.wait(5)
        return real(stored, secret)

    monkeypatch.setattr(users, "verify_secret", blocking_verify)
    login = threading.Thread(
        target=lambda: users.authenticate(db, login="agent1", password="secret1", policy=POLICY)
    )
    login.start()
    assert hashing.wait(5)
    started = time.perf_counter()
    with db.engine.connect() as connection:  # another terminal writes meanwhile
        connection = connection.execution_options(desk_write=True)
        with connection.begin():
            connection.exec_driver_sql("INSERT INTO desk_meta (key, value) VALUES ('x', 'y')")
    waited = time.perf_counter() - started
    release.set()
    login.join()
    assert waited < 1.0  # it did not wait for the hash
