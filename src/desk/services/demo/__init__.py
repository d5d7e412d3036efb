"""``desk demo``: a realistic, reproducible demo database (DESIGN.md §5).

:func:`build_demo` fills an empty migrated database; :func:`demo_params` reads back what a
demo database was built from. Testers can derive any demo customer's service password with
:func:`demo_service_password`; every demo user's password is :data:`DEMO_PASSWORD`.
"""

from __future__ import annotations

from sqlmodel import Session

from desk.models import Meta
from desk.services.database import reads
from desk.services.demo.builder import NotEmpty, build_demo
from desk.services.demo.model import (
    DEMO_PASSWORD,
    DEMO_USERS,
    DemoParams,
    DemoSummary,
    Progress,
    customer_no,
    demo_service_password,
)

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "DemoParams",
    "DemoSummary",
    "NotEmpty",
    "Progress",
    "build_demo",
    "customer_no",
    "demo_params",
    "demo_service_password",
]


@reads
def demo_params(session: Session) -> DemoParams | None:
    """What this demo database was built from, or None when it is not a demo."""
    rows = session.query(Meta).all()  # a handful of rows
    return DemoParams.from_meta({row.key: row.value for row in rows})
