"""Contacts: started by number, for a customer, or rung by the telephony side; drafts that
survive, closing with its checks; unknown callers created on the spot. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, PermissionDenied, StaleRecord
from desk.models import AuditEntry, Contact, ContactRing, Customer
from desk.rules.policy import load_policy
from desk.rules.vocab import Channel, ContactOutcome, ContactState, RefusalReason, RequestType
from desk.services import audit, contacts, ringing
from desk.services.contacts import ContactDraft
from tests.workspace_world import (
    LI_PHONE,
    UNKNOWN_PHONE,
    ZHANG_PHONE,
    World,
    build_world,
)

POLICY = load_policy()


@pytest.fixture
def world(db: Database, clock: FixedClock) -> World:
    return build_world(db, clock.now())


def _contact(db: Database, contact_id: int) -> Contact:
    row = db.run(lambda s: s.get(Contact, contact_id), write=False)
    assert row is not None
    return row


def test_a_typed_number_starts_an_answered_contact_with_its_customer(
    db: Database, world: World, clock: FixedClock
) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=" 138-0013-8000 ")
    assert view.customer_id == world.zhang
    assert view.state is ContactState.ACTIVE
    assert view.caller_masked == "138****8000"
    assert view.offered_at == view.answered_at == clock.now()
    row = _contact(db, view.id)
    assert row.caller_number == ZHANG_PHONE
    assert row.agent_id == world.agent.user_id


def test_an_unknown_number_starts_a_contact_without_a_customer(db: Database, world: World) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=UNKNOWN_PHONE)
    assert view.customer_id is None


@pytest.mark.parametrize("number", ["", "abc", "12", "1380013800x"])
def test_a_bad_number_is_named_and_nothing_is_stored(
    db: Database, world: World, number: str
) -> None:
    with pytest.raises(InvalidInput, match="number"):
        contacts.start_contact(db, actor=world.agent, number=number)
    assert db.run(lambda s: s.exec(select(Contact)).all(), write=False) == []


def test_one_open_contact_per_agent(db: Database, world: World) -> None:
    contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE)
    with pytest.raises(InvalidInput, match="still open"):
        contacts.start_contact(db, actor=world.agent, number=LI_PHONE)
    contacts.start_contact(db, actor=world.agent2, number=LI_PHONE)  # another agent may


def test_a_contact_starts_for_a_customer_from_lookup(db: Database, world: World) -> None:
    view = contacts.start_contact_for_customer(db, actor=world.agent, customer_id=world.li)
    assert view.customer_id == world.li
    assert view.caller_masked == "139****2222"


def test_ring_pops_on_the_agents_poll_and_answer_stamps_the_time(
    db: Database, world: World, clock: FixedClock
) -> None:
    rung = ringing.ring(
        db,
        actor=world.admin,
        number=ZHANG_PHONE,
        agent_login="agent1",
        policy=POLICY,
        channel=Channel.VIP_LINE,
    )
    assert contacts.pending_ring(db, actor=world.agent2) is None
    pending = contacts.pending_ring(db, actor=world.agent)
    assert pending is not None
    assert (pending.contact_id, pending.customer_id) == (rung.contact_id, world.zhang)
    assert pending.channel is Channel.VIP_LINE
    clock.advance(timedelta(seconds=7))
    view = contacts.answer_ring(db, actor=world.agent, contact_id=rung.contact_id)
    assert view.state is ContactState.ACTIVE
    assert view.answered_at - view.offered_at == timedelta(seconds=7)  # type: ignore[operator]
    assert contacts.pending_ring(db, actor=world.agent) is None
    assert db.run(lambda s: s.exec(select(ContactRing)).all(), write=False) == []


def test_a_ring_not_taken_in_time_is_stored_as_abandoned(
    db: Database, world: World, clock: FixedClock
) -> None:
    rung = ringing.ring(
        db, actor=world.admin, number=UNKNOWN_PHONE, agent_login="agent1", policy=POLICY
    )
    clock.advance(timedelta(seconds=POLICY.contacts.ring_timeout_seconds + 1))
    assert contacts.pending_ring(db, actor=world.agent) is None
    assert contacts.expire_rings(db, actor=world.agent) == 1
    row = _contact(db, rung.contact_id)
    assert row.outcome == ContactOutcome.ABANDONED.value
    assert row.answered_at is None
    assert row.ended_at == rung.expires_at
    with pytest.raises(InvalidInput, match="hung up"):
        contacts.answer_ring(db, actor=world.agent, contact_id=rung.contact_id)


def test_a_ring_to_an_agent_on_a_call_is_abandoned_at_once_with_its_reason(
    db: Database, world: World
) -> None:
    contacts.start_contact(db, actor=world.agent, number=LI_PHONE)
    rung = ringing.ring(
        db, actor=world.admin, number=ZHANG_PHONE, agent_login="agent1", policy=POLICY
    )
    assert rung.busy
    row = _contact(db, rung.contact_id)
    assert row.outcome == ContactOutcome.ABANDONED.value
    assert row.refusal_reason == RefusalReason.AGENT_BUSY.value
    assert (row.answered_at, row.ended_at) == (None, row.offered_at)
    assert db.run(lambda s: s.exec(select(ContactRing)).all(), write=False) == []
    assert contacts.pending_ring(db, actor=world.agent) is None
    free = ringing.ring(
        db, actor=world.admin, number=ZHANG_PHONE, agent_login="agent2", policy=POLICY
    )
    assert not free.busy
    assert contacts.pending_ring(db, actor=world.agent2) is not None


def test_a_declined_ring_is_abandoned(db: Database, world: World) -> None:
    rung = ringing.ring(
        db, actor=world.admin, number=ZHANG_PHONE, agent_login="agent1", policy=POLICY
    )
    view = contacts.decline_ring(db, actor=world.agent, contact_id=rung.contact_id)
    assert view.outcome is ContactOutcome.ABANDONED
    assert view.state is ContactState.CLOSED


def _stored(db: Database, contact_id: int) -> dict[str, str | None]:
    """Every column of a contact as the database holds it (cast to text: a JSON null and a
    SQL NULL, a time's format, a boolean's storage all show)."""
    table = Contact.__table__  # type: ignore[attr-defined]
    names = [column.name for column in table.columns if column.name != "id"]
    casts = ", ".join(f"CAST({name} AS TEXT)" for name in names)
    row = db.run_core(
        lambda c: c.exec_driver_sql(
            f"SELECT {casts} FROM contact WHERE id = {int(contact_id)}"  # noqa: S608
        ).one(),
        write=False,
    )
    return dict(zip(names, row, strict=True))


def test_a_rung_contact_is_stored_as_the_orm_stores_it(
    db: Database, world: World, clock: FixedClock
) -> None:
    """desk ring writes on SQLAlchemy Core: its row holds what the model's own insert of the
    same contact holds, column by column (defaults, times in UTC, the draft's JSON null)."""
    rung = ringing.ring(
        db, actor=world.admin, number=ZHANG_PHONE, agent_login="agent1", policy=POLICY
    )
    now = clock.now()

    def orm_insert(session: Session) -> int:
        row = Contact(
            customer_id=world.zhang,
            caller_number=ZHANG_PHONE,
            channel=Channel.PHONE.value,
            offered_at=now,
            agent_id=world.agent.user_id,
            shift_id=_contact(db, rung.contact_id).shift_id,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id

    twin = db.run(orm_insert, write=True)
    assert _stored(db, rung.contact_id) == _stored(db, twin)
    ring_row = db.run(lambda s: s.get(ContactRing, rung.contact_id), write=False)
    assert ring_row is not None
    assert (ring_row.agent_id, ring_row.offered_at, ring_row.expires_at) == (
        world.agent.user_id,
        now,
        rung.expires_at,
    )


def test_rings_and_orm_entries_make_one_audit_chain(db: Database, world: World) -> None:
    """The ring's audit entry (sealed on a Core connection) and the ORM's entries chain on
    each other, and the whole log verifies."""
    first = ringing.ring(
        db, actor=world.admin, number=ZHANG_PHONE, agent_login="agent1", policy=POLICY
    )
    contacts.decline_ring(db, actor=world.agent, contact_id=first.contact_id)
    db.run(
        lambda s: audit.record(s, action="test.between", actor=world.admin, target_id=1),
        write=True,
    )
    second = ringing.ring(
        db, actor=world.admin, number=LI_PHONE, agent_login="agent1", policy=POLICY
    )
    entries = db.run(
        lambda s: s.exec(
            select(AuditEntry)
            .where(AuditEntry.action.in_(["contact.ring", "test.between"]))  # type: ignore[attr-defined]
            .order_by(col(AuditEntry.id))
        ).all(),
        write=False,
    )
    assert [(e.action, e.target_id) for e in entries] == [
        ("contact.ring", str(first.contact_id)),
        ("test.between", "1"),
        ("contact.ring", str(second.contact_id)),
    ]
    assert entries[-1].detail == {"agent": "agent1", "channel": "phone", "known": True}
    report = audit.verify_chain(db, actor=world.admin)
    assert report.ok, report.reason
    assert report.head is not None
    assert report.head.id == entries[-1].id


@pytest.mark.parametrize(
    ("login", "message"), [("nobody", "no active user"), ("admin1", "does not take calls")]
)
def test_ring_names_a_bad_agent(db: Database, world: World, login: str, message: str) -> None:
    with pytest.raises((InvalidInput, Exception), match=message):
        ringing.ring(db, actor=world.admin, number=ZHANG_PHONE, agent_login=login, policy=POLICY)


def test_an_agent_may_not_ring(db: Database, world: World) -> None:
    with pytest.raises(PermissionDenied):
        ringing.ring(db, actor=world.agent, number=ZHANG_PHONE, agent_login="agent1", policy=POLICY)


def test_the_draft_survives_and_is_offered_again(db: Database, world: World) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE)
    draft = ContactDraft(
        request_type=RequestType.CONSULTATION,
        topic="流量包",
        summary="客户咨询流量包",
        extra={"kb_query": "流量包"},
    )
    saved = contacts.save_draft(
        db, actor=world.agent, contact_id=view.id, version=view.version, draft=draft
    )
    assert saved.version == view.version + 1
    again = contacts.open_contact(db, actor=world.agent)
    assert again is not None
    assert (again.id, again.summary, again.topic) == (view.id, "客户咨询流量包", "流量包")
    assert again.draft == {"kb_query": "流量包"}
    assert contacts.open_contact(db, actor=world.agent2) is None


def test_a_save_over_a_newer_version_says_who_and_when(db: Database, world: World) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE)
    contacts.save_draft(
        db, actor=world.agent, contact_id=view.id, version=view.version, draft=ContactDraft()
    )
    with pytest.raises(StaleRecord, match="changed by AGENT1 at"):
        contacts.save_draft(
            db,
            actor=world.agent,
            contact_id=view.id,
            version=view.version,
            draft=ContactDraft(summary="typed meanwhile"),
        )
    assert _contact(db, view.id).summary is None


def test_another_agents_contact_is_refused(db: Database, world: World) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE)
    with pytest.raises(PermissionDenied):
        contacts.save_draft(
            db, actor=world.agent2, contact_id=view.id, version=view.version, draft=ContactDraft()
        )


@pytest.mark.parametrize(
    ("draft", "field"),
    [
        (ContactDraft(outcome=ContactOutcome.SETTLED, summary="x"), "request_type"),
        (ContactDraft(request_type=RequestType.CONSULTATION, summary="x"), "outcome"),
        (
            ContactDraft(
                request_type=RequestType.CONSULTATION, outcome=ContactOutcome.REFUSED, summary="x"
            ),
            "refusal_reason",
        ),
        (
            ContactDraft(
                request_type=RequestType.COMPLAINT,
                outcome=ContactOutcome.WORK_ORDER,
                summary="x",
            ),
            "outcome",
        ),
        (
            ContactDraft(request_type=RequestType.CONSULTATION, outcome=ContactOutcome.SETTLED),
            "summary",
        ),
    ],
)
def test_closing_checks_what_it_needs(
    db: Database, world: World, draft: ContactDraft, field: str
) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE)
    with pytest.raises(InvalidInput) as raised:
        contacts.close_contact(
            db, actor=world.agent, contact_id=view.id, version=view.version, draft=draft
        )
    assert raised.value.field == field
    assert _contact(db, view.id).ended_at is None


def test_closing_stores_times_outcome_and_satisfaction(
    db: Database, world: World, clock: FixedClock
) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=ZHANG_PHONE)
    clock.advance(timedelta(minutes=4))
    closed = contacts.close_contact(
        db,
        actor=world.agent,
        contact_id=view.id,
        version=view.version,
        draft=ContactDraft(
            request_type=RequestType.CONSULTATION,
            outcome=ContactOutcome.SETTLED,
            satisfaction=5,
            summary="已解答",
            extra={"left": "over"},
        ),
    )
    assert closed.state is ContactState.CLOSED
    row = _contact(db, view.id)
    assert row.ended_at == clock.now()
    assert (row.outcome, row.satisfaction, row.summary) == ("settled", 5, "已解答")
    assert row.verification_method == "none"
    assert row.draft is None
    assert contacts.open_contact(db, actor=world.agent) is None
    customer = db.run(lambda s: s.get(Customer, world.zhang), write=False)
    assert customer is not None
    assert customer.last_activity_at == clock.now()


def test_an_unknown_caller_is_created_and_attached(db: Database, world: World) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=UNKNOWN_PHONE)
    with pytest.raises(InvalidInput, match="check digit"):
        contacts.new_caller(name="王五", id_card_no="110101199003074519", region="北京市")
    with pytest.raises(InvalidInput) as raised:
        contacts.new_caller(name="王五", id_card_no="110101199003074514", region="")
    assert raised.value.field == "region"
    # the id-card number above belongs to 张三 already
    with pytest.raises(InvalidInput, match="exists"):
        contacts.quick_create_customer(
            db,
            actor=world.agent,
            contact_id=view.id,
            new=contacts.new_caller(name="王五", id_card_no="110101199003074514", region="北京市"),
        )
    with pytest.raises(InvalidInput, match=r"birth date in it \(1990-02-30\) is no date"):
        contacts.new_caller(name="王五", id_card_no="110101199002300017", region="北京市")
    fresh = contacts.new_caller(name="王五", id_card_no="11010519491231002x", region="北京市")
    created = contacts.quick_create_customer(db, actor=world.agent, contact_id=view.id, new=fresh)
    assert created.customer_id is not None
    customer = db.run(lambda s: s.get(Customer, created.customer_id), write=False)
    assert customer is not None
    assert customer.birthday == date(1949, 12, 31)  # read from the ID-card number
    again = contacts.start_contact(db, actor=world.agent2, number=UNKNOWN_PHONE)
    assert again.customer_id == created.customer_id
    actions = db.run(
        lambda s: s.exec(
            select(AuditEntry.action).where(col(AuditEntry.action) == "customer.create")
        ).all(),
        write=False,
    )
    assert actions == ["customer.create"]


def test_the_birthday_is_read_from_a_valid_id_card_number_only() -> None:
    assert contacts.id_card_birthday(" 11010519491231002x ") == date(1949, 12, 31)
    assert contacts.id_card_birthday("１１０１０５１９４９１２３１００２Ｘ") == date(1949, 12, 31)
    assert contacts.id_card_birthday("110105194912310021") is None  # wrong check digit
    assert contacts.id_card_birthday("1101051949123") is None  # still being typed
    assert contacts.id_card_birth_date("110101199002300017") is None  # no 30 February


def test_an_id_card_number_born_in_the_future_is_refused(db: Database, world: World) -> None:
    view = contacts.start_contact(db, actor=world.agent, number=UNKNOWN_PHONE)
    future = _with_check_digit("11010520991231001")
    with pytest.raises(InvalidInput, match="future"):
        contacts.quick_create_customer(
            db,
            actor=world.agent,
            contact_id=view.id,
            new=contacts.new_caller(name="王五", id_card_no=future, region="北京市"),
        )


def _with_check_digit(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def test_a_ring_wakes_the_agents_console_at_once_on_postgresql(db: Database, world: World) -> None:
    """PostgreSQL: the ring's NOTIFY reaches the listener of the agent rung, at its commit;
    another agent's listener ignores it. (SQLite has no notifications: its consoles poll.)"""
    if db.is_sqlite:
        pytest.skip("SQLite consoles poll for rings")
    mine = contacts.RingListener(db, agent_id=world.agent.user_id)
    theirs = contacts.RingListener(db, agent_id=world.agent2.user_id)
    try:
        assert mine.wait(0.05) is False
        ringing.ring(db, actor=world.admin, number=ZHANG_PHONE, agent_login="agent1", policy=POLICY)
        assert mine.wait(10.0) is True
        assert theirs.wait(0.2) is False
    finally:
        mine.close()
        theirs.close()
