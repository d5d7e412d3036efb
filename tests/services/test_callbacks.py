"""Callbacks: the plan (idempotent, set-based), the lists and the tries, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, PermissionDenied, StaleRecord
from desk.models import AuditEntry, Callback, CallbackAttempt
from desk.rules import callbacks as rules
from desk.rules.policy import Policy, load_policy
from desk.rules.vocab import CallbackOutcome, CallbackPurpose, CallbackStatus
from desk.services import callbacks
from desk.services.callbacks import Scope, StatusView
from tests.services.shift_world import World, make_world

SYSTEM = callbacks.system_actor()


@pytest.fixture
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def world(db: Database) -> World:
    return make_world(db)


def with_callbacks(policy: Policy, section: str | None = None, **values: Any) -> Policy:
    """The policy with ``callbacks.<section>`` (or ``callbacks``) values replaced."""
    plan = policy.callbacks
    if section is None:
        changed = plan.model_copy(update=values)
    else:
        changed = plan.model_copy(
            update={section: getattr(plan, section).model_copy(update=values)}
        )
    return policy.model_copy(update={"callbacks": changed})


def rows(db: Database) -> list[Callback]:
    return db.run(
        lambda s: list(s.exec(select(Callback).order_by(col(Callback.id))).all()), write=False
    )


def plan(db: Database, policy: Policy, now: datetime | None = None) -> dict[str, int]:
    report = callbacks.plan_callbacks(db, actor=SYSTEM, policy=policy, now=now)
    assert not report.skipped_because_leased
    return {purpose: n for purpose, n in report.added.items() if n}


# --- the plan ----------------------------------------------------------------------------------


def test_surveys_one_per_customer_and_a_second_run_adds_nothing(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    policy = with_callbacks(policy, "survey", sample_percent=100)
    now = clock.now()
    one, two, three = world.customer("张一"), world.customer("张二"), world.customer("张三")
    first = world.contact(one, at=now - timedelta(hours=5))
    world.contact(one, at=now - timedelta(hours=4))  # the same customer again: one survey
    world.contact(two, at=now - timedelta(hours=3), outcome="work_order")  # not settled
    world.contact(three, at=now - timedelta(hours=3), request_type="complaint")  # not surveyed
    world.contact(three, at=now - timedelta(hours=60))  # older than the lookback
    assert plan(db, policy) == {"survey": 1}
    assert plan(db, policy) == {}
    (survey,) = rows(db)
    assert (survey.customer_id, survey.contact_id, survey.purpose) == (one, first, "survey")
    assert survey.plan_key == f"survey:contact:{first}"
    assert survey.owner_id is None
    assert survey.status == "pending"
    ended = now - timedelta(hours=5) + timedelta(minutes=5)
    assert survey.due_at == rules.survey_due(ended, policy)


def test_a_customer_surveyed_within_the_interval_is_not_surveyed_again(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    policy = with_callbacks(policy, "survey", sample_percent=100)
    customer = world.customer()
    world.contact(customer, at=clock.now() - timedelta(hours=3))
    assert plan(db, policy) == {"survey": 1}
    clock.advance(timedelta(days=10))
    world.contact(customer, at=clock.now() - timedelta(hours=3))
    assert plan(db, policy) == {}
    clock.advance(timedelta(days=21))
    world.contact(customer, at=clock.now() - timedelta(hours=3))
    assert plan(db, policy) == {"survey": 1}


def test_the_survey_sample_in_sql_is_the_rules_sample(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    policy = with_callbacks(policy, "survey", sample_percent=30)
    contacts = [
        world.contact(world.customer(f"客户{i}"), at=clock.now() - timedelta(hours=3))
        for i in range(25)
    ]
    plan(db, policy)
    planned = {row.contact_id for row in rows(db)}
    assert planned == {c for c in contacts if rules.survey_sampled(c, 30)}
    assert 0 < len(planned) < len(contacts)


def test_birthday_greetings_for_vip_and_big_customers_only(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    tomorrow = date(2026, 11, 3)  # the clock is Monday 2 November, 10:00 in Shanghai
    vip = world.customer("钻石", tier="diamond", birthday=date(1980, 11, 3))
    big = world.customer("大客户", big="A", birthday=date(1975, 11, 3))
    world.customer("普通", birthday=date(1990, 11, 3))
    world.customer("钻石二", tier="diamond", birthday=date(1980, 12, 3))
    world.customer("停机", tier="diamond", birthday=date(1980, 11, 3), status="closed")
    assert plan(db, policy) == {"birthday": 2}
    assert plan(db, policy) == {}
    greeted = rows(db)
    assert {row.customer_id for row in greeted} == {vip, big}
    for row in greeted:
        assert row.subject == "birthday"
        assert row.kind == "phone"
        assert row.due_at == rules.greeting_due(tomorrow, policy)
        assert row.plan_key == f"greeting:birthday:{row.customer_id}:{tomorrow.isoformat()}"


def test_a_29_february_birthday_is_kept_on_the_28th(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    clock.instant = datetime(2027, 2, 27, 2, 0, tzinfo=UTC)
    leap = world.customer("闰年", tier="platinum", birthday=date(1996, 2, 29))
    assert plan(db, policy) == {"birthday": 1}
    assert rows(db)[0].customer_id == leap


def test_holiday_greetings_on_the_first_day_of_national_day(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    clock.instant = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # the day before
    vip = world.customer("钻石", tier="diamond")
    big = world.customer("大客户", big="B")
    world.customer("普通")
    assert plan(db, policy) == {"holiday": 2}
    clock.advance(timedelta(days=1))  # 1 October: still the same greeting, nothing new
    assert plan(db, policy) == {}
    greeted = rows(db)
    assert {row.customer_id for row in greeted} == {vip, big}
    assert {row.subject for row in greeted} == {"holiday:National Day"}
    assert {row.kind for row in greeted} == {"sms"}
    assert rules.holiday_label("National Day", date(2026, 10, 1), "zh_CN") == "国庆节"


def test_win_back_calls_for_members_not_seen_for_two_months(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    now = clock.now()
    lapsed = world.customer("流失", tier="gold", last_activity_at=now - timedelta(days=61))
    world.customer("活跃", tier="gold", last_activity_at=now - timedelta(days=50))
    world.customer("非会员", last_activity_at=now - timedelta(days=200))
    assert plan(db, policy) == {"win_back": 1}
    assert plan(db, policy) == {}
    clock.advance(timedelta(days=3))  # not planned again within repeat_after_days
    assert plan(db, policy) == {}
    (call,) = rows(db)
    assert (call.customer_id, call.purpose) == (lapsed, "win_back")


def test_win_back_calls_stop_at_the_daily_limit_longest_unseen_first(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    policy = with_callbacks(policy, "win_back", daily_limit=2)
    now = clock.now()
    ids = [
        world.customer(f"流失{days}", tier="silver", last_activity_at=now - timedelta(days=days))
        for days in (70, 90, 80)
    ]
    assert plan(db, policy) == {"win_back": 2}
    assert {row.customer_id for row in rows(db)} == {ids[1], ids[2]}
    assert plan(db, policy) == {}
    clock.advance(timedelta(days=1))
    assert plan(db, policy) == {"win_back": 1}


def test_apology_calls_after_major_or_escalated_complaints(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    now = clock.now()
    closed = now - timedelta(hours=1)
    customer = world.customer()
    major = world.work_order(
        customer, at=now - timedelta(days=2), status="closed", closed_at=closed, is_major=True
    )
    escalated = world.work_order(
        customer, at=now - timedelta(days=2), status="closed", closed_at=closed, escalation_level=2
    )
    world.work_order(customer, at=now - timedelta(days=2), status="closed", closed_at=closed)
    world.work_order(customer, at=now - timedelta(days=2), status="dispatched", is_major=True)
    assert plan(db, policy) == {"apology": 2}
    assert plan(db, policy) == {}
    assert {row.work_order_id for row in rows(db)} == {major, escalated}
    assert {row.due_at for row in rows(db)} == {rules.apology_due(closed, policy)}


def test_orders_waiting_for_their_callback_get_one_once(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    now = clock.now()
    customer = world.customer()
    due = now + timedelta(hours=5)
    order = world.work_order(
        customer, at=now - timedelta(days=1), status="callback", callback_due=due, cycle=1
    )
    assert plan(db, policy) == {"work_order": 1}
    assert plan(db, policy) == {}
    (row,) = rows(db)
    assert (row.work_order_id, row.purpose, row.due_at) == (order, "routine", due)
    assert row.plan_key == callbacks.work_order_plan_key(order, 1)


def test_only_the_system_or_an_admin_runs_the_plan(
    db: Database, world: World, policy: Policy
) -> None:
    with pytest.raises(PermissionDenied):
        callbacks.plan_callbacks(db, actor=world.actor("lead1"), policy=policy)


def test_the_console_timer_plans_when_due_and_not_twice(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    world.customer("流失", tier="gold", last_activity_at=clock.now() - timedelta(days=61))
    first = callbacks.plan_if_due(db, every=timedelta(minutes=15), policy=policy)
    assert first is not None
    assert first.total == 1
    clock.advance(timedelta(minutes=5))
    assert callbacks.plan_if_due(db, every=timedelta(minutes=15), policy=policy) is None
    audited = db.run(
        lambda s: s.exec(select(AuditEntry).where(AuditEntry.action == "callbacks.plan")).all(),
        write=False,
    )
    assert len(audited) == 1


# --- tries -------------------------------------------------------------------------------------


def survey(db: Database, world: World, policy: Policy, clock: FixedClock) -> Callback:
    policy = with_callbacks(policy, "survey", sample_percent=100)
    world.contact(world.customer(), at=clock.now() - timedelta(hours=3))
    plan(db, policy)
    (row,) = rows(db)
    return row


def test_an_unreachable_customer_is_retried_then_closed_as_unreachable(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    call = survey(db, world, policy, clock)
    agent = world.actor("agent1")
    assert call.id is not None
    version = call.version
    for attempt in (1, 2):
        detail = callbacks.record_attempt(
            db,
            actor=agent,
            callback_id=call.id,
            version=version,
            reached=False,
            note="无人接听",
            policy=policy,
        )
        assert detail.row.status is CallbackStatus.PENDING
        assert detail.attempts_left == policy.callbacks.max_attempts - attempt
        retry = clock.now() + timedelta(minutes=policy.callbacks.retry_after_minutes)
        assert detail.row.due_at == rules.calling_instant(retry, policy)
        version = detail.row.version
        clock.advance(timedelta(hours=1))
    detail = callbacks.record_attempt(
        db, actor=agent, callback_id=call.id, version=version, reached=False, policy=policy
    )
    assert detail.row.status is CallbackStatus.FAILED
    assert detail.row.outcome is CallbackOutcome.UNREACHABLE
    assert detail.attempts_left == 0
    assert len(detail.attempts) == 3
    assert detail.closed_at == clock.now()
    with pytest.raises(InvalidInput, match="failed"):
        callbacks.record_attempt(
            db,
            actor=agent,
            callback_id=call.id,
            version=detail.row.version,
            reached=True,
            policy=policy,
        )


def test_a_reached_customer_closes_the_survey_with_a_satisfaction(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    call = survey(db, world, policy, clock)
    assert call.id is not None
    detail = callbacks.record_attempt(
        db,
        actor=world.actor("lead1"),
        callback_id=call.id,
        version=call.version,
        reached=True,
        satisfaction=5,
        note="  满意  ",
        policy=policy,
    )
    assert detail.row.status is CallbackStatus.DONE
    assert detail.row.outcome is CallbackOutcome.REACHED
    assert (detail.satisfaction, detail.result) == (5, "满意")
    attempts = db.run(lambda s: s.exec(select(CallbackAttempt)).all(), write=False)
    assert [(a.reached, a.satisfaction, a.note) for a in attempts] == [(True, 5, "满意")]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"reached": False, "satisfaction": 4}, "satisfaction"),
        ({"reached": True, "satisfaction": 6}, "satisfaction"),
        ({"reached": False, "declined": True}, "declined"),
        ({"reached": True, "note": "长" * 501}, "note"),
    ],
)
def test_bad_results_are_refused_naming_the_field_and_nothing_is_written(
    db: Database, world: World, policy: Policy, clock: FixedClock, values: Any, field: str
) -> None:
    call = survey(db, world, policy, clock)
    assert call.id is not None
    with pytest.raises(InvalidInput) as raised:
        callbacks.record_attempt(
            db,
            actor=world.actor("agent1"),
            callback_id=call.id,
            version=call.version,
            policy=policy,
            **values,
        )
    assert raised.value.field == field
    assert rows(db)[0].attempts == 0


def test_a_save_over_someone_elses_change_is_told_and_loses_nothing(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    call = survey(db, world, policy, clock)
    assert call.id is not None
    callbacks.take_callback(
        db, actor=world.actor("agent1"), callback_id=call.id, version=call.version
    )
    with pytest.raises(StaleRecord, match="reload"):
        callbacks.record_attempt(
            db,
            actor=world.actor("lead1"),
            callback_id=call.id,
            version=call.version,
            reached=True,
            policy=policy,
        )
    assert rows(db)[0].owner_id == world.actor("agent1").user_id


def test_agents_work_only_on_their_own_and_the_shifts_callbacks(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    call = survey(db, world, policy, clock)
    assert call.id is not None
    lead = world.actor("lead1")
    callbacks.assign_callback(
        db, actor=lead, callback_id=call.id, version=call.version, owner_login="agent2"
    )
    agent1, agent2 = world.actor("agent1"), world.actor("agent2")
    mine = callbacks.list_callbacks(db, actor=agent1)
    assert mine.rows == ()
    theirs = callbacks.list_callbacks(db, actor=agent2)
    assert [row.id for row in theirs.rows] == [call.id]
    assert theirs.rows[0].owner_name == "张明"
    with pytest.raises(PermissionDenied):
        callbacks.record_attempt(
            db,
            actor=agent1,
            callback_id=call.id,
            version=call.version + 1,
            reached=True,
            policy=policy,
        )
    with pytest.raises(PermissionDenied):
        callbacks.list_callbacks(db, actor=agent1, scope=Scope.ALL)
    with pytest.raises(PermissionDenied):
        callbacks.assign_callback(
            db, actor=agent1, callback_id=call.id, version=2, owner_login=None
        )
    with pytest.raises(InvalidInput) as raised:
        callbacks.assign_callback(
            db, actor=lead, callback_id=call.id, version=2, owner_login="handler1"
        )
    assert raised.value.field == "owner"


def test_a_lead_calls_a_callback_off_with_a_reason(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    call = survey(db, world, policy, clock)
    assert call.id is not None
    lead = world.actor("lead1")
    with pytest.raises(InvalidInput):
        callbacks.cancel_callback(db, actor=lead, callback_id=call.id, version=1, reason=" ")
    callbacks.cancel_callback(db, actor=lead, callback_id=call.id, version=1, reason="客户已销户")
    (row,) = rows(db)
    assert (row.status, row.outcome, row.result) == ("cancelled", "cancelled", "客户已销户")
    closed = callbacks.list_callbacks(db, actor=lead, scope=Scope.ALL, view=StatusView.CLOSED)
    assert [r.id for r in closed.rows] == [call.id]


def test_a_work_orders_callback_is_recorded_on_the_work_order(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    order = world.work_order(
        world.customer(), at=clock.now(), status="callback", callback_due=clock.now()
    )
    plan(db, policy)
    (row,) = rows(db)
    assert row.id is not None
    with pytest.raises(InvalidInput, match="work order"):
        callbacks.record_attempt(
            db,
            actor=world.actor("lead1"),
            callback_id=row.id,
            version=row.version,
            reached=True,
            policy=policy,
        )
    # what the work-order service calls in its own transaction
    for attempt in range(3):
        db.run(
            lambda s: callbacks.record_work_order_attempt(
                s,
                work_order_id=order,
                actor=world.actor("lead1"),
                reached=False,
                satisfaction=None,
                note="关机",
                closes=False,
                now=clock.now(),
                policy=policy,
            ),
            write=True,
        )
        del attempt
    (row,) = rows(db)
    assert (row.status, row.outcome, row.attempts) == ("failed", "unreachable", 3)


def test_lists_page_by_due_time_with_counts_by_purpose(
    db: Database, world: World, policy: Policy, clock: FixedClock
) -> None:
    now = clock.now()
    for days in range(70, 75):
        world.customer(f"流失{days}", tier="gold", last_activity_at=now - timedelta(days=days))
    world.customer("钻石", tier="diamond", birthday=date(1980, 11, 3))
    plan(db, policy)
    lead = world.actor("lead1")
    first = callbacks.list_callbacks(db, actor=lead, scope=Scope.ALL, limit=4)
    assert first.counts == {"win_back": 5, "greeting": 1}
    assert first.next_cursor is not None
    second = callbacks.list_callbacks(
        db, actor=lead, scope=Scope.ALL, limit=4, after=first.next_cursor
    )
    assert second.next_cursor is None
    every = [*first.rows, *second.rows]
    assert len({row.id for row in every}) == 6
    assert [row.due_at for row in every] == sorted(row.due_at for row in every)
    greetings = callbacks.list_callbacks(
        db, actor=lead, scope=Scope.ALL, purpose=CallbackPurpose.GREETING
    )
    assert [row.purpose for row in greetings.rows] == [CallbackPurpose.GREETING]
    assert greetings.rows[0].customer_name.startswith("钻")
    assert "*" in greetings.rows[0].customer_name
    with pytest.raises(InvalidInput):
        callbacks.list_callbacks(db, actor=lead, limit=201)
