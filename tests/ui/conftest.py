"""UI test helpers: staff and customers in a migrated database, and the app signed in.

The console runs on the ``sqlite_db`` fixture (or ``db`` for tests that must also run on
PostgreSQL); workers are awaited with ``app.workers.wait_for_complete()``, never slept on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, col, select
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot
from textual.widgets import DataTable, Input
from textual.worker import WorkerCancelled, WorkerFailed

from desk.app import DeskApp
from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import AuditEntry, Customer, CustomerPhone, Meta, WorkOrder
from desk.rules.names import name_keys, reverse
from desk.rules.permissions import shell_actor
from desk.rules.vocab import Role
from desk.services import secrets, users

PASSWORD = "secret1"
STAFF = {
    "agent1": Role.AGENT,
    "lead1": Role.LEAD,
    "complaint1": Role.COMPLAINT_LEAD,
    "handler1": Role.HANDLER,
    "supervisor1": Role.SUPERVISOR,
    "admin1": Role.ADMIN,
}
DISPLAY_NAMES = {
    "agent1": "李小红",
    "lead1": "王班长",
    "complaint1": "赵投诉",
    "handler1": "钱处理",
    "supervisor1": "孙主任",
    "admin1": "周管理",
}


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with its production cost takes ~0.5 s a hash here; the UI tests are about
    the screens, so their staff get cheap argon2id hashes (same code path, smaller cost)."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    dummy = hasher.hash("desk-no-such-user")
    monkeypatch.setattr(secrets, "_hasher", lambda: hasher)
    monkeypatch.setattr(secrets, "dummy_hash", lambda: dummy)


def add_staff(db: Database, *logins: str) -> None:
    for login in logins:
        users.add_user(
            db,
            actor=shell_actor("test"),
            new=users.NewUser(
                login=login,
                display_name=DISPLAY_NAMES[login],
                role=STAFF[login],
                password=PASSWORD,
            ),
        )


@dataclass(frozen=True)
class NewCustomer:
    name: str
    phone: str
    id_card: str
    customer_no: str
    tier: str = "standard"
    big_customer_class: str | None = None
    arrears_cents: int = 0
    region: str = "北京市"
    address: str | None = None
    account_manager_name: str | None = None


def add_customers(db: Database, customers: Iterable[NewCustomer]) -> list[int]:
    created = datetime(2025, 1, 1, tzinfo=UTC)

    def insert(session: Session) -> list[int]:
        ids: list[int] = []
        for spec in customers:
            keys = name_keys(spec.name)
            customer = Customer(
                customer_no=spec.customer_no,
                name=spec.name,
                name_spaced=keys.spaced,
                name_pinyin=keys.pinyin,
                name_initials=keys.initials,
                id_card_no=spec.id_card,
                id_card_rev=reverse(spec.id_card),
                tier=spec.tier,
                big_customer_class=spec.big_customer_class,
                account_manager_name=spec.account_manager_name,
                arrears_cents=spec.arrears_cents,
                region=spec.region,
                address=spec.address,
                created_at=created,
            )
            session.add(customer)
            session.flush()
            assert customer.id is not None
            session.add(
                CustomerPhone(
                    customer_id=customer.id, phone=spec.phone, phone_rev=reverse(spec.phone)
                )
            )
            ids.append(customer.id)
        return ids

    return db.run(insert, write=True)


def add_work_order(db: Database, *, customer_id: int, number: str, now: datetime) -> None:
    db.run(
        lambda session: session.add(
            WorkOrder(
                number=number,
                customer_id=customer_id,
                category="complaint",
                title="信号差",
                description="家中信号差",
                status="dispatched",
                created_at=now,
                updated_at=now,
            )
        ),
        write=True,
    )


def mark_demo(db: Database) -> None:
    db.run(lambda session: session.add(Meta(key="demo", value="1")), write=True)


def audit_rows(db: Database, prefix: str) -> list[AuditEntry]:
    return db.run(
        lambda session: list(
            session.exec(
                select(AuditEntry)
                .where(col(AuditEntry.action).startswith(prefix))
                .order_by(col(AuditEntry.id))
            ).all()
        ),
        write=False,
    )


# --- the app --------------------------------------------------------------------------------


def make_app(db: Database, clock: FixedClock, *, language: str = "en") -> DeskApp:
    return DeskApp(database=db, clock=clock, language=language)


class Notes:
    """Captures the notifications an app posts (a ``message_hook`` for ``run_test``)."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.messages.append(message.notification.message)


async def settle(pilot: Pilot[None]) -> None:
    """Let every worker finish and every message they posted be handled. A worker that
    fails or is cancelled while waited for is the app's to handle (its error dialog, its
    one line), not the waiting test's: only the screen tells what happened."""
    for _ in range(2):
        with contextlib.suppress(WorkerFailed, WorkerCancelled):
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def sign_in(pilot: Pilot[None], login: str, password: str = PASSWORD) -> None:
    """Fill the login form and press Enter, as a person would after typing."""
    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#login", Input).value = login
    screen.query_one("#password", Input).value = password
    screen.query_one("#password", Input).focus()
    await pilot.press("enter")
    await settle(pilot)


async def search(pilot: Pilot[None], text: str) -> None:
    """Replace the query by ``text`` (Esc clears the field) and type it key by key; from
    another screen (an agent lands on the F2 workspace) F4 goes to lookup first."""
    if not pilot.app.screen.query("#query"):
        await pilot.press("f4")
        await settle(pilot)
    field = pilot.app.screen.query_one("#query", Input)
    if field.value:
        field.focus()
        await pilot.press("escape")
    await pilot.press(*text)
    screen = pilot.app.screen
    for _ in range(100):  # the debounce: a timer, slower on a busy machine
        if not getattr(screen, "typing", False):
            break
        await pilot.pause(0.05)
    await settle(pilot)


def table_rows(pilot: Pilot[None]) -> list[list[str]]:
    table = pilot.app.screen.query_one("#results", DataTable)
    if not table.display:
        return []
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def screen_text(pilot: Pilot[None]) -> str:
    """Everything the current screen shows now, as plain text lines."""
    strips = pilot.app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)
