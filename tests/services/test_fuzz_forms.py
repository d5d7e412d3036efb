"""Hypothesis against the forms that take input, on SQLite and PostgreSQL: an arriving inbox
message (the service; ``desk inbox add`` is fuzzed in tests/cli), each service request of a
verified caller, the quick-create form for an unknown caller, and a new work order. Each
input ends in success or a clear error (a :class:`DeskError`, or the form's own validation
error naming a field), never another exception; a refused input writes nothing, and a row it
did not add is left as it was."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import text

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import DeskError
from desk.rules.permissions import shell_actor
from desk.rules.policy import load_policy
from desk.rules.vocab import Channel, InboxChannel, Priority, RequestType, WorkOrderSource
from desk.services import contacts, inbox, service_requests, verification, work_orders
from tests.workspace_world import SERVICE_PASSWORD, ZHANG_PHONE, World, build_world

SHELL = shell_actor("fuzz")
POLICY = load_policy(None)
FORMS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
HUGE = st.integers(min_value=-(2**70), max_value=2**70)
# every row of these is compared before and after a refusal
TABLES = (
    "customer",
    "customer_phone",
    "account",
    "account_add_on",
    "contact",
    "work_order",
    "work_order_event",
    "inbox_message",
    "audit_log",
)


def _state(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.engine.connect() as connection:
        return {
            table: sorted(
                (
                    tuple(map(repr, row))
                    for row in connection.execute(text(f"SELECT * FROM {table}"))
                ),
            )
            for table in TABLES
        }


def _clear_or_success(call: Callable[[], Any], db: Database) -> Any:
    """Run ``call``: its result, or None after a clear refusal that changed nothing."""
    before = _state(db)
    try:
        return call()
    except (DeskError, ValidationError) as error:
        refusal = error
    assert str(refusal).strip()
    after = _state(db)
    changed = [table for table in TABLES if after[table] != before[table]]
    assert not changed, f"refused ({refusal}) but {', '.join(changed)} changed"
    return None


@pytest.fixture
def world(db: Database, clock: FixedClock) -> World:
    return build_world(db, clock.now())


@FORMS
@given(
    channel=st.one_of(st.sampled_from([c.value for c in InboxChannel]), TEXT),
    sender=TEXT,
    body=TEXT,
    at=st.one_of(
        st.none(),
        TEXT,
        st.datetimes(timezones=st.sampled_from([None, UTC])).map(lambda d: d.isoformat()),
    ),
    ref=st.one_of(st.none(), TEXT),
)
def test_an_arriving_inbox_message_fuzzed(
    db: Database,
    world: World,
    channel: str,
    sender: str,
    body: str,
    at: str | None,
    ref: str | None,
) -> None:
    del world  # the customers whose phones a sender may match
    row: dict[str, Any] = {"channel": channel, "sender": sender, "text": body}
    if at is not None:
        row["received_at"] = at
    if ref is not None:
        row["external_ref"] = ref

    def add() -> Any:
        return inbox.add_messages(
            db, actor=SHELL, messages=inbox.parse_messages([row]), policy=POLICY
        )

    _clear_or_success(add, db)


REQUESTS = ("plan", "add_on", "suspend", "resume", "password", "address")


@FORMS
@given(
    what=st.sampled_from(REQUESTS),
    value=st.one_of(TEXT, st.sampled_from(["P5G58", "P10G98", "FLOW10", "246810", "135791"])),
    confirm=TEXT,
    account=st.one_of(st.none(), HUGE),
    version=HUGE,
    contact=st.one_of(st.none(), HUGE),
)
def test_the_service_requests_of_a_verified_caller_fuzzed(
    db: Database,
    world: World,
    what: str,
    value: str,
    confirm: str,
    account: int | None,
    version: int,
    contact: int | None,
) -> None:
    open_ = contacts.open_contact(db, actor=world.agent)
    if open_ is None:
        open_ = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE)
        verification.check_service_password(
            db, actor=world.agent, contact_id=open_.id, password=SERVICE_PASSWORD, policy=POLICY
        )
    contact_id = open_.id if contact is None else contact
    agent = world.agent
    calls: dict[str, Callable[[], Any]] = {
        "plan": lambda: service_requests.change_plan(
            db, actor=agent, contact_id=contact_id, account_id=account, plan_code=value,
            policy=POLICY,
        ),
        "add_on": lambda: service_requests.add_add_on(
            db, actor=agent, contact_id=contact_id, account_id=account, code=value, policy=POLICY
        ),
        "suspend": lambda: service_requests.suspend_account(
            db, actor=agent, contact_id=contact_id, account_id=account, policy=POLICY
        ),
        "resume": lambda: service_requests.resume_account(
            db, actor=agent, contact_id=contact_id, account_id=account, policy=POLICY
        ),
        "password": lambda: service_requests.reset_service_password(
            db, actor=agent, contact_id=contact_id, new_password=value,
            confirm=value if confirm == "" else confirm, policy=POLICY,
        ),
        "address": lambda: service_requests.change_address(
            db, actor=agent, contact_id=contact_id, version=version,
            change=service_requests.AddressChange(address=value), policy=POLICY,
        ),
    }  # fmt: skip
    _clear_or_success(calls[what], db)


_NUMBERS = itertools.count(1)


@FORMS
@given(
    name=st.one_of(TEXT, st.sampled_from(["王五", "Li Lei", "欧阳娜娜"])),
    id_card=st.one_of(TEXT, st.from_regex(r"[0-9]{17}[0-9Xx]", fullmatch=True)),
    region=TEXT,
    address=st.one_of(st.none(), TEXT),
)
def test_the_quick_create_form_fuzzed(
    db: Database, world: World, name: str, id_card: str, region: str, address: str | None
) -> None:
    open_ = contacts.open_contact(db, actor=world.agent)
    if open_ is not None and open_.customer_id is not None:  # the last example created one
        with db.engine.begin() as connection:
            connection.execute(
                text("UPDATE contact SET ended_at = answered_at WHERE id = :id"), {"id": open_.id}
            )
        open_ = None
    if open_ is None:
        number = f"1370{next(_NUMBERS):07d}"
        open_ = contacts.start_contact(db, actor=world.agent, number=number)
    contact_id = open_.id

    def create() -> Any:
        new = contacts.new_caller(name=name, id_card_no=id_card, region=region, address=address)
        return contacts.quick_create_customer(db, actor=world.agent, contact_id=contact_id, new=new)

    _clear_or_success(create, db)


@FORMS
@given(
    title=TEXT,
    description=TEXT,
    topic=st.one_of(st.none(), TEXT),
    callback=st.one_of(st.none(), TEXT),
    customer=st.one_of(st.none(), HUGE),
    contact=st.one_of(st.none(), HUGE),
    department=st.one_of(st.none(), HUGE),
    category=st.sampled_from(list(RequestType)),
    priority=st.sampled_from(list(Priority)),
    consent=st.booleans(),
)
def test_a_new_work_order_fuzzed(
    db: Database,
    world: World,
    title: str,
    description: str,
    topic: str | None,
    callback: str | None,
    customer: int | None,
    contact: int | None,
    department: int | None,
    category: RequestType,
    priority: Priority,
    consent: bool,
) -> None:
    def create() -> Any:
        draft = work_orders.WorkOrderDraft(
            customer_id=customer if customer != 0 else world.zhang,
            contact_id=contact,
            category=category,
            topic=topic,
            title=title,
            description=description,
            priority=priority,
            department_id=department,
            callback_number=callback,
            channel=Channel.PHONE,
            source=WorkOrderSource.AGENT,
            consent=consent,
        )
        return work_orders.create_work_order(db, actor=world.agent, draft=draft, policy=POLICY)

    _clear_or_success(create, db)


def test_the_fuzzed_forms_reach_success_too(db: Database, world: World) -> None:
    """The fuzzers above are not only refusals: a plain input of each form succeeds."""
    added = inbox.add_messages(
        db,
        actor=SHELL,
        messages=inbox.parse_messages(
            [{"channel": "web", "sender": ZHANG_PHONE, "text": "宽带断网"}]
        ),
        policy=POLICY,
    )
    assert len(added.added) == 1
    view = contacts.start_contact(db, actor=world.agent, number="13700009999")
    created = contacts.quick_create_customer(
        db,
        actor=world.agent,
        contact_id=view.id,
        new=contacts.new_caller(name="王五", id_card_no="11010519491231002x", region="北京市"),
    )
    assert created.customer_id is not None
