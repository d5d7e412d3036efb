"""Change counters: how another terminal learns, cheaply, that a list it shows has changed.

Every transaction that changes work orders (a person's action, the sweep) or messages raises a
counter in ``change_counter`` before it commits (:func:`bump`); a screen reads the counter
once a second (:func:`counters`, one primary-key read) and reloads its page only when the
value moved. On PostgreSQL the raise takes the counter row's lock until commit, so the
counter's order is the commit order: a reader never sees a value whose change is not visible.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from desk.infra.database import Database
from desk.models import ChangeCounter

_TABLE: Any = ChangeCounter.__table__  # type: ignore[attr-defined]


class Topic(StrEnum):
    """What a counter counts changes of."""

    WORK_ORDERS = "work_orders"  # work orders, their events and their callbacks
    INBOX = "inbox"  # messages left outside a call
    KNOWLEDGE = "knowledge"  # knowledge articles and canned replies synced from files


def bump(target: Session | Connection, topic: Topic) -> None:
    """Raise ``topic``'s counter inside the caller's transaction (the row is made at first)."""
    connection = target.connection() if isinstance(target, Session) else target
    module: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = module.insert(_TABLE).values(name=topic.value, value=1)
    statement = statement.on_conflict_do_update(
        index_elements=[_TABLE.c.name], set_={"value": _TABLE.c.value + 1}
    )
    connection.execute(statement)


def counters(db: Database, topics: Collection[Topic]) -> Mapping[Topic, int]:
    """The current value of each counter (0 for one never raised). Needs no permission: it
    says only that something changed, never what."""
    names = [topic.value for topic in topics]

    def read(session: Session) -> dict[Topic, int]:
        rows = session.connection().execute(
            select(_TABLE.c.name, _TABLE.c.value).where(_TABLE.c.name.in_(names))
        )
        found = {str(name): int(value) for name, value in rows}
        return {topic: found.get(topic.value, 0) for topic in topics}

    return db.run(read, write=False)
