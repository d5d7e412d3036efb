"""The shift handover: the summary gathered set-based, signed once, acknowledged by the next
lead; problems noted during the shift; on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied
from desk.models import AuditEntry, Handover, Shift
from desk.rules.policy import Policy, load_policy
from desk.rules.vocab import ShiftNoteKind
from desk.services import callbacks, handover
from tests.services.shift_world import World, make_world


@pytest.fixture
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def busy_shift(world: World, clock: FixedClock) -> int:
    """The morning shift (08:00-16:00 Shanghai, 00:00-08:00 UTC) with a bit of everything;
    the clock stands at 10:00 inside it."""
    now = clock.now()
    start = now - timedelta(hours=2)
    shift = world.shift("早班", start, lead="lead1")
    customer = world.customer()
    for minutes, request_type in ((5, "complaint"), (10, "bill_inquiry"), (20, "bill_inquiry")):
        world.contact(customer, at=start + timedelta(minutes=minutes), request_type=request_type)
    world.contact(None, at=start + timedelta(minutes=30), outcome="abandoned", answered=False)
    world.contact(customer, at=start - timedelta(minutes=30))  # the shift before
    world.work_order(customer, at=start + timedelta(minutes=6))  # created, open, on time
    world.work_order(
        customer,
        at=start - timedelta(days=3),
        status="closed",
        closed_at=start + timedelta(hours=1),
    )
    world.work_order(  # overdue: its reply is late
        customer,
        at=start - timedelta(days=2),
        status="dispatched",
        dispatched_at=start - timedelta(days=2),
        reply_due=start,
        next_due=start,  # the nearest awaited deadline, as the ladder's refresh keeps it
        escalation_level=1,
    )
    world.work_order(  # major, proposed to headquarters
        customer,
        at=start - timedelta(days=1),
        status="dispatched",
        is_major=True,
        escalation_level=2,
        number="WO20261101MAJOR",
    )
    world.work_order(  # returned to the department, not replied again
        customer,
        at=start - timedelta(days=1),
        status="dispatched",
        redispatch_count=1,
        category="fault_report",
        number="WO20261101RET",
    )
    return shift


def test_the_summary_gathers_the_shift(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    shift = busy_shift(world, clock)
    lead = world.actor("lead1")
    world.customer("流失", tier="gold", last_activity_at=clock.now() - timedelta(days=70))
    callbacks.plan_callbacks(db, actor=callbacks.system_actor(), policy=policy)
    handover.note_shift_problem(
        db,
        actor=world.actor("agent1"),
        policy=policy,
        kind=ShiftNoteKind.SYSTEM,
        text="CRM 查询缓慢",
    )
    view = handover.handover_view(db, actor=lead, policy=policy)
    assert view.shift.id == shift
    assert view.can_sign
    assert view.signed is None
    s = view.summary
    assert s["contacts"]["complaint"] == 1
    assert s["contacts"]["bill_inquiry"] == 2
    assert (s["contacts_total"], s["abandoned"], s["contacts_answered"]) == (4, 1, 3)
    assert (s["work_orders_created"], s["work_orders_closed"]) == (1, 1)
    assert (s["work_orders_open"], s["work_orders_overdue"]) == (4, 1)
    assert (s["complaints_reminded"], s["complaints_hq_proposed"]) == (1, 1)
    assert s["major_complaints"] == 1
    assert [item["number"] for item in s["major_list"]] == ["WO20261101MAJOR"]
    assert s["returns_unanswered"] == 1
    assert [item["number"] for item in s["returns_list"]] == ["WO20261101RET"]
    assert s["callbacks_due_next_shift"] == {"win_back": 1}
    assert [(p["kind"], p["text"], p["author"]) for p in s["problems"]] == [
        ("system", "CRM 查询缓慢", "李小红")
    ]


def test_sign_once_then_the_next_lead_acknowledges(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    shift = busy_shift(world, clock)
    lead1, lead2 = world.actor("lead1"), world.actor("lead2")
    signed = handover.sign_handover(
        db, actor=lead1, policy=policy, shift_id=shift, notes="  宽带故障工单已全部派发  "
    )
    assert signed.signed is not None
    assert signed.signed.notes == "宽带故障工单已全部派发"
    assert signed.signed.signed_at == clock.now()
    assert signed.summary["contacts_total"] == 4
    assert not signed.can_sign
    assert signed.sign_refusal == "signed"
    with pytest.raises(InvalidInput, match="signed once"):
        handover.sign_handover(db, actor=lead1, policy=policy, shift_id=shift, notes="again")
    # the stored summary stays as it was at the sign-off
    world.contact(None, at=clock.now(), request_type="complaint")
    clock.advance(timedelta(minutes=30))
    again = handover.handover_view(db, actor=lead2, policy=policy, shift_id=shift)
    assert again.summary["contacts_total"] == 4
    assert [h.id for h in again.awaiting] == [signed.signed.id]
    with pytest.raises(PermissionDenied):
        handover.acknowledge_handover(
            db, actor=lead1, policy=policy, handover_id=signed.signed.id, acknowledgement=""
        )
    acknowledged = handover.acknowledge_handover(
        db, actor=lead2, policy=policy, handover_id=signed.signed.id, acknowledgement="已阅"
    )
    assert acknowledged.signed is not None
    assert acknowledged.signed.incoming_lead == "陈班长"
    assert acknowledged.signed.acknowledged_at == clock.now()
    assert acknowledged.awaiting == ()
    with pytest.raises(InvalidInput, match="acknowledged already by 陈班长"):
        handover.acknowledge_handover(
            db, actor=lead2, policy=policy, handover_id=signed.signed.id, acknowledgement=""
        )
    actions = db.run(lambda s: [a.action for a in s.exec(select(AuditEntry)).all()], write=False)
    assert actions.count("handover.sign") == 1
    assert actions.count("handover.acknowledge") == 1


def test_only_the_shifts_lead_signs_and_not_before_it_began(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    shift = busy_shift(world, clock)
    later = world.shift("中班", clock.now() + timedelta(hours=6))
    with pytest.raises(PermissionDenied, match="王班长"):
        handover.sign_handover(
            db, actor=world.actor("lead2"), policy=policy, shift_id=shift, notes=""
        )
    with pytest.raises(InvalidInput, match="not begun"):
        handover.sign_handover(
            db, actor=world.actor("lead2"), policy=policy, shift_id=later, notes=""
        )
    with pytest.raises(PermissionDenied):
        handover.sign_handover(
            db, actor=world.actor("agent1"), policy=policy, shift_id=shift, notes=""
        )
    with pytest.raises(InvalidInput) as raised:
        handover.sign_handover(
            db, actor=world.actor("lead1"), policy=policy, shift_id=shift, notes="长" * 8001
        )
    assert raised.value.field == "notes"
    assert db.run(lambda s: s.exec(select(Handover)).all(), write=False) == []


def test_a_shift_without_a_lead_is_signed_by_the_lead_who_signs_it(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    shift = world.shift("早班", clock.now() - timedelta(hours=2))
    view = handover.sign_handover(
        db, actor=world.actor("lead2"), policy=policy, shift_id=shift, notes=""
    )
    assert view.shift.lead_name == "陈班长"


def test_shifts_are_opened_from_the_policys_pattern_once(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    first = callbacks.plan_callbacks(db, actor=callbacks.system_actor(), policy=policy)
    assert first.shifts_opened == 2
    clock.advance(timedelta(minutes=10))
    assert (
        callbacks.plan_callbacks(db, actor=callbacks.system_actor(), policy=policy).shifts_opened
        == 0
    )
    shifts = db.run(lambda s: s.exec(select(Shift).order_by(Shift.starts_at)).all(), write=False)
    assert [(s.name, s.ends_at - s.starts_at) for s in shifts] == [
        ("早班", timedelta(hours=8)),
        ("中班", timedelta(hours=8)),
    ]
    view = handover.handover_view(db, actor=world.actor("lead1"), policy=policy)
    assert view.shift.name == "早班"


def test_a_problem_needs_words_and_opens_the_shift_if_needed(
    db: Database, world: World, policy: Policy
) -> None:
    agent = world.actor("agent1")
    with pytest.raises(InvalidInput) as raised:
        handover.note_shift_problem(
            db, actor=agent, policy=policy, kind=ShiftNoteKind.OTHER, text="  "
        )
    assert raised.value.field == "text"
    note = handover.note_shift_problem(
        db, actor=agent, policy=policy, kind=ShiftNoteKind.EQUIPMENT, text="3号座席耳麦损坏"
    )
    assert note.author == "李小红"
    with pytest.raises(PermissionDenied):
        handover.note_shift_problem(
            db, actor=world.actor("handler1"), policy=policy, kind=ShiftNoteKind.OTHER, text="x"
        )


def test_the_log_of_the_last_signed_shift_or_a_shift_as_it_stands(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    shift = busy_shift(world, clock)
    admin = world.actor("admin1")
    with pytest.raises(NotFound):
        handover.handover_log(db, actor=admin, policy=policy)
    unsigned = handover.handover_log(db, actor=admin, policy=policy, shift_id=shift)
    assert unsigned.id == 0
    assert unsigned.summary["contacts_total"] == 4
    handover.sign_handover(
        db, actor=world.actor("lead1"), policy=policy, shift_id=shift, notes="交接"
    )
    log = handover.handover_log(db, actor=admin, policy=policy)
    rows = handover.log_rows(log)
    assert ("shift", "outgoing_lead", "王班长") in rows
    assert ("contacts", "bill_inquiry", "2") in rows
    assert ("notes", "outgoing", "交接") in rows
    with pytest.raises(PermissionDenied):
        handover.handover_log(db, actor=world.actor("agent1"), policy=policy)


def _plans(db: Database, statements: list[tuple[str, object]]) -> dict[str, str]:
    """Each statement's plan as one line of text (SQLite's steps, PostgreSQL's JSON)."""
    import json

    plans: dict[str, str] = {}
    with db.engine.connect() as connection:
        if not db.is_sqlite:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for statement, params in statements:
            if db.is_sqlite:
                rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)  # type: ignore[arg-type]
                plans[statement] = " | ".join(str(row[-1]) for row in rows)
            else:
                (plan,) = connection.exec_driver_sql(
                    "EXPLAIN (FORMAT JSON) " + statement,
                    params,  # type: ignore[arg-type]
                ).one()
                plans[statement] = json.dumps(plan)
    return plans


def test_the_open_orders_of_the_summary_are_counted_from_their_indexes(
    db: Database, world: World, clock: FixedClock
) -> None:
    """The returned orders, the complaints by chase step and the major ones are read from
    their partial indexes (at 300,000 open orders they scanned the table: two seconds), and
    no statement of the summary walks the table of work orders itself."""
    from sqlalchemy import event

    busy_shift(world, clock)
    seen: list[tuple[str, object]] = []

    def capture(_c: object, _cur: object, statement: str, params: object, *_: object) -> None:
        if "FROM work_order " in statement + " ":
            seen.append((statement, params))

    now = clock.now()
    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        db.run(
            lambda s: handover.shift_summary(
                s,
                starts_at=now - timedelta(hours=2),
                ends_at=now + timedelta(hours=6),
                next_ends_at=now + timedelta(hours=14),
            ),
            write=False,
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    plans = _plans(db, seen)

    def plan_of(*words: str) -> str:
        (found,) = [plan for text, plan in plans.items() if all(w in text for w in words)]
        return found

    assert "ix_work_order_returned" in plan_of("count(*)", "redispatch_count > 0")
    assert "ix_work_order_returned" in plan_of("LIMIT", "redispatch_count > 0")
    assert "ix_work_order_open_chase" in plan_of("escalation_level > 0")
    assert "ix_work_order_open_major" in plan_of("count(*)", "is_major")
    for text, plan in plans.items():
        if db.is_sqlite:
            assert "SCAN work_order" not in plan.replace("SCAN work_order USING", ""), text
        else:
            assert '"Seq Scan"' not in plan, text
