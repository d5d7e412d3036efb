"""``desk demo``: a realistic, reproducible demo database.

:func:`build_demo` builds one in a scratch place and makes it the database (an empty one, or
a demo it replaces); :func:`demo_params` reads back what a demo database was built from.
Testers can derive any demo customer's service password with
:func:`demo_service_password` (from the customer number alone, e.g. ``C000000001``); every
demo user's password is :data:`DEMO_PASSWORD`. The showcase work orders (every status, the
complaint chase at each level, major complaints, a re-dispatch, a reopen, a customer waiting)
belong to the first customers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect
from sqlmodel import Session, col, select

from desk.demo.builder import DemoBuildFailed, NotEmpty, build_demo
from desk.demo.model import (
    DEMO_PASSWORD,
    DEMO_USERS,
    DemoParams,
    DemoSummary,
    Progress,
    customer_no,
    demo_service_password,
)
from desk.infra import migrations
from desk.infra.database import Database, reads
from desk.models import Customer, Meta, StaffUser

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "DemoBuildFailed",
    "DemoParams",
    "DemoSummary",
    "DemoTarget",
    "NotEmpty",
    "Progress",
    "build_demo",
    "customer_no",
    "demo_params",
    "demo_service_password",
    "inspect_target",
]


@reads
def demo_params(session: Session) -> DemoParams | None:
    """What this demo database was built from, or None when it is not a demo."""
    rows = session.exec(select(Meta)).all()  # a handful of rows
    return DemoParams.from_meta({row.key: row.value for row in rows})


@dataclass(frozen=True, slots=True)
class DemoTarget:
    """What a database holds before ``desk demo`` touches it."""

    has_schema: bool
    schema_current: bool
    params: DemoParams | None  # None: not a demo database
    built_at: str | None
    has_data: bool  # customers or staff exist


def inspect_target(db: Database) -> DemoTarget:
    """Look at a database without changing it: is it a current demo, and of what?"""
    if not inspect(db.engine).has_table("desk_meta"):
        return DemoTarget(False, False, None, None, False)
    current = migrations.is_current(db)
    with db.session(write=False) as session:
        meta = {row.key: row.value for row in session.exec(select(Meta)).all()}
        people = select(StaffUser.id).where(col(StaffUser.is_system).is_(False))  # not desk's own
        has_data = any(
            session.exec(query.limit(1)).first() is not None
            for query in (select(Customer.id), people)
        )
    return DemoTarget(
        True, current, DemoParams.from_meta(meta), meta.get("demo_built_at"), has_data
    )
