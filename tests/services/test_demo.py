"""The demo database: one small build per backend, checked for the invariants the console,
the search and the sweep rely on (valid ID cards, unique phones, demo users, every work-order
state with a consistent history and the due instants the clock rules compute)."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from desk.clock import FixedClock
from desk.demo import (
    DEMO_PASSWORD,
    DEMO_USERS,
    DemoBuildFailed,
    DemoParams,
    NotEmpty,
    build_demo,
    demo_params,
    demo_service_password,
    inspect_target,
)
from desk.demo import processes as demo_processes
from desk.demo import work_orders as demo_work_orders
from desk.demo.knowledge import parse_article, shipped_articles
from desk.demo.people import MobileNumbers, id_check_char, is_valid_id_card
from desk.infra import migrations
from desk.infra.database import Database, create_engine
from desk.rules.calendar import calendars_from_policy
from desk.rules.clocks import TimelineEvent, work_order_clocks
from desk.rules.ladder import (
    complaints_in_window,
    due_ladder_events,
    planned_ladder_steps,
    snapshot_from_history,
)
from desk.rules.names import name_keys, reverse
from desk.rules.permissions import Actor, shell_actor
from desk.rules.policy import load_policy
from desk.rules.vocab import (
    CallbackPurpose,
    Channel,
    ClockKind,
    DepartmentKind,
    EventKind,
    Priority,
    RequestType,
    Role,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.rules.work_orders import (
    ACTION_RULES,
    ESCALATION_CONFIRMED,
    ESCALATION_PROPOSED,
    ESCALATION_REMINDED,
    Action,
    OrderState,
    refusal,
)
from desk.services import setup, users
from desk.services.audit import verify_chain
from desk.services.secrets import verify_secret
from tests.conftest import T0, truncate_all

POLICY = load_policy()

PARAMS = DemoParams(customers=2_000, days=10, seed=7)


def _fresh_sqlite(path: Path, template: Path) -> Database:
    shutil.copyfile(template, path)
    return Database.from_url(f"sqlite:///{path}", clock=FixedClock(T0))


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A demo of 2,000 customers over 10 days, built once per backend for this module."""
    if request.param == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        db = _fresh_sqlite(tmp_path_factory.mktemp("demo") / "demo.db", template)
        build_demo(db, PARAMS)
        yield db
        db.dispose()
        return
    url = request.getfixturevalue("_pg_url")
    engine = create_engine(url)
    truncate_all(engine)
    db = Database(engine=engine, clock=FixedClock(T0))
    build_demo(db, PARAMS)
    yield db
    truncate_all(engine)
    engine.dispose()


def _rows(db: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql), params)]


def _scalar(db: Database, sql: str, **params: Any) -> Any:
    with db.engine.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar()


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


# --- people -----------------------------------------------------------------------------


def test_every_id_card_number_is_valid(demo_db: Database) -> None:
    rows = _rows(demo_db, "SELECT id_card_no, id_card_rev, birthday FROM customer")
    assert len(rows) == PARAMS.customers
    for number, rev, birthday in rows:
        assert is_valid_id_card(number), number
        assert rev == reverse(number)
        assert number[6:14] == str(birthday).replace("-", "")


def test_id_check_character_follows_iso_7064() -> None:
    # Published example numbers (GB 11643-1999).
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("44052418800101001") == "4"
    assert not is_valid_id_card("110105194912310021")
    assert not is_valid_id_card("11010519491331002X")  # month 13


def test_phones_are_unique_valid_mobiles_with_reversed_keys(demo_db: Database) -> None:
    rows = _rows(
        demo_db, "SELECT phone, phone_rev, kind, is_primary, customer_id FROM customer_phone"
    )
    phones = [row[0] for row in rows]
    assert len(phones) == len(set(phones))
    primaries = [row for row in rows if row[3]]
    assert len({row[4] for row in primaries}) == PARAMS.customers
    for phone, rev, kind, _primary, _customer in rows:
        assert rev == phone[::-1]
        if kind == "mobile":
            assert re.fullmatch(r"1[3-9]\d{9}", phone), phone
        else:
            assert re.fullmatch(r"0\d{3}8\d{7}", phone), phone


def test_mobile_numbers_are_a_bijection() -> None:
    numbers = MobileNumbers(3)
    drawn = [numbers.number(n) for n in range(200_000)]
    assert len(set(drawn)) == len(drawn)


@pytest.mark.parametrize("seed", [0, 1, 3, 12_345])
def test_mobile_numbers_in_bulk_are_the_numbers_one_by_one(seed: int) -> None:
    numbers = MobileNumbers(seed)
    assert numbers.numbers(50_000) == [numbers.number(n) for n in range(50_000)]
    assert numbers.numbers(0) == []


def test_search_keys_match_the_name_rules(demo_db: Database) -> None:
    rows = _rows(demo_db, "SELECT name, name_spaced, name_pinyin, name_initials FROM customer")
    surnames = Counter(row[0][0] for row in rows)
    assert surnames.most_common(1)[0][0] in "王李张刘陈"
    for name, spaced, pinyin, initials in rows:
        keys = name_keys(name)
        assert (spaced, pinyin, initials) == (keys.spaced, keys.pinyin, keys.initials)


def test_full_text_search_finds_a_customer_by_one_character(demo_db: Database) -> None:
    like = {row[0] for row in _rows(demo_db, "SELECT id FROM customer WHERE name LIKE '%张%'")}
    assert like
    if demo_db.is_sqlite:
        sql = """SELECT rowid FROM customer_fts WHERE customer_fts MATCH '"张"'"""
    else:
        sql = (
            "SELECT id FROM customer WHERE to_tsvector('simple', name_spaced) "
            "@@ phraseto_tsquery('simple', '张')"
        )
    assert {row[0] for row in _rows(demo_db, sql)} == like


def test_customers_have_tiers_members_big_customers_and_arrears(demo_db: Database) -> None:
    tiers = {row[0] for row in _rows(demo_db, "SELECT DISTINCT tier FROM customer")}
    assert tiers == {"standard", "silver", "gold", "platinum", "diamond"}
    big = _rows(
        demo_db,
        "SELECT big_customer_class, account_manager_name, "
        "account_manager_phone FROM customer WHERE big_customer_class IS NOT NULL",
    )
    assert big
    assert all(manager and phone for _, manager, phone in big)
    assert (
        _scalar(
            demo_db,
            "SELECT COUNT(*) FROM customer WHERE is_member = TRUE AND member_since IS NOT NULL",
        )
        > 0
    )
    statuses = {row[0] for row in _rows(demo_db, "SELECT DISTINCT status FROM customer")}
    assert statuses == {"active", "suspended", "closed"}
    churned = _scalar(
        demo_db,
        "SELECT COUNT(*) FROM customer WHERE last_activity_at < :cut",
        cut=T0.replace(month=T0.month - 2),
    )
    assert 0 < churned < PARAMS.customers * 0.4


def test_arrears_equal_the_overdue_unpaid_bills(demo_db: Database) -> None:
    rows = _rows(
        demo_db,
        "SELECT c.id, c.arrears_cents, c.arrears_since, "
        "COALESCE(SUM(CASE WHEN b.status <> 'paid' AND b.due_date < :today "
        "THEN b.amount_cents - b.paid_cents ELSE 0 END), 0) "
        "FROM customer c LEFT JOIN bill b ON b.customer_id = c.id "
        "GROUP BY c.id, c.arrears_cents, c.arrears_since",
        today=T0.date(),
    )
    in_arrears = [row for row in rows if row[2] is not None]
    assert len(in_arrears) > PARAMS.customers * 0.03
    for _id, arrears, _since, owed in rows:
        assert arrears == owed
    paid = _scalar(demo_db, "SELECT COUNT(*) FROM bill WHERE status = 'paid'")
    payments = _scalar(demo_db, "SELECT COUNT(*) FROM payment")
    partial = _scalar(demo_db, "SELECT COUNT(*) FROM bill WHERE status = 'partial'")
    assert payments == paid + partial


def test_service_password_is_derivable_for_testers(demo_db: Database) -> None:
    rows = _rows(
        demo_db, "SELECT customer_no, service_password_hash FROM customer ORDER BY id LIMIT 40"
    )
    with_password = [(no, digest) for no, digest in rows if digest]
    assert with_password
    for number, digest in with_password[:3]:
        secret = demo_service_password(number)
        assert secret is not None
        assert verify_secret(digest, secret)
        assert not verify_secret(digest, "000000")
    for number, digest in rows:
        assert (digest is None) == (demo_service_password(number) is None)


# --- staff ------------------------------------------------------------------------------


def test_every_role_has_its_demo_user_and_demo123_logs_in(demo_db: Database) -> None:
    roles = {row[0] for row in _rows(demo_db, "SELECT DISTINCT role FROM staff_user")}
    assert roles == {role.value for role in Role}
    for login, role in DEMO_USERS.items():
        outcome = users.authenticate(demo_db, login=login, password=DEMO_PASSWORD, policy=POLICY)
        assert outcome.actor is not None, login
        assert outcome.actor.role is role
    handler_department = _scalar(
        demo_db,
        "SELECT d.kind FROM staff_user u JOIN department d ON d.id = u.department_id "
        "WHERE u.login = 'handler1'",
    )
    assert handler_department in (DepartmentKind.NETWORK.value, DepartmentKind.BRANCH.value)
    assert (
        users.authenticate(demo_db, login="agent1", password="wrong", policy=POLICY).actor is None
    )


def test_departments_and_calendars(demo_db: Database) -> None:
    rows = _rows(demo_db, "SELECT kind, calendar FROM department")
    kinds = {kind for kind, _ in rows}
    assert {"center", "billing", "network", "branch", "headquarters"} <= kinds
    assert dict(rows)["center"] == "center"
    assert {calendar for kind, calendar in rows if kind != "center"} == {"office"}


# --- contacts ---------------------------------------------------------------------------


def test_known_callers_call_from_their_primary_phone(demo_db: Database) -> None:
    mismatched = _scalar(
        demo_db,
        "SELECT COUNT(*) FROM contact c JOIN customer_phone p "
        "ON p.customer_id = c.customer_id AND p.is_primary = TRUE "
        "WHERE c.caller_number <> p.phone",
    )
    assert mismatched == 0
    strangers = _scalar(
        demo_db,
        "SELECT COUNT(*) FROM contact c WHERE c.customer_id IS NULL "
        "AND c.caller_number IN (SELECT phone FROM customer_phone)",
    )
    assert strangers == 0


def test_contacts_follow_the_day_and_end_in_every_outcome(demo_db: Database) -> None:
    rows = _rows(
        demo_db,
        "SELECT offered_at, answered_at, ended_at, channel, outcome, "
        "satisfaction, shift_id, agent_id FROM contact",
    )
    assert len(rows) > PARAMS.days * 20
    hours = Counter((_instant(row[0]).hour + 8) % 24 for row in rows)  # type: ignore[union-attr]
    assert hours[10] + hours[15] > 4 * (hours[3] + hours[4])
    outcomes = {row[4] for row in rows}
    assert {"settled", "work_order", "abandoned", "refused"} <= outcomes
    channels = {row[3] for row in rows}
    assert {Channel.PHONE.value, Channel.VIP_LINE.value, Channel.WECHAT.value} <= channels
    short = [
        row
        for row in rows
        if row[4] == "abandoned" and (_instant(row[2]) - _instant(row[0])).total_seconds() < 5
    ]  # type: ignore[operator]
    assert short
    for offered, answered, ended, _channel, outcome, _sat, shift, agent in rows:
        assert shift is not None
        if answered is not None:
            assert agent is not None
            assert _instant(answered) >= _instant(offered)  # type: ignore[operator]
        if outcome is not None:
            assert ended is not None
            assert _instant(ended) <= T0  # type: ignore[operator]


# --- work orders ------------------------------------------------------------------------


def _orders(db: Database) -> list[dict[str, Any]]:
    with db.engine.connect() as connection:
        return [
            dict(row._mapping)
            for row in connection.execute(
                sa.text(
                    "SELECT w.*, d.kind AS department_kind FROM work_order w "
                    "LEFT JOIN department d ON d.id = w.department_id ORDER BY w.id"
                )
            )
        ]


def _events(db: Database) -> dict[int, list[dict[str, Any]]]:
    by_order: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with db.engine.connect() as connection:
        for row in connection.execute(
            sa.text("SELECT * FROM work_order_event ORDER BY work_order_id, at, id")
        ):
            by_order[row.work_order_id].append(dict(row._mapping))
    return by_order


def test_work_orders_in_every_state_and_every_special_case(demo_db: Database) -> None:
    orders = _orders(demo_db)
    assert {order["status"] for order in orders} == {status.value for status in WorkOrderStatus}
    open_orders = [order for order in orders if order["status"] != "closed"]
    overdue = [
        order
        for order in open_orders
        if order["reply_due"] is not None and _instant(order["reply_due"]) < T0
    ]  # type: ignore[operator]
    assert overdue
    complaints = [order for order in orders if order["category"] == "complaint"]
    assert {order["escalation_level"] for order in complaints} >= {1, 2, 3}
    assert {order["major_source"] for order in orders} >= {
        "regulator",
        "media",
        "repeat_complainer",
    }
    assert any(order["redispatch_count"] > 0 for order in open_orders)
    assert any(order["waiting_reason"] for order in open_orders)
    assert any(order["cycle"] > 0 for order in orders)
    numbers = [order["number"] for order in orders]
    assert all(re.fullmatch(r"WO\d{8}\d{6}", number) for number in numbers)


def test_every_history_is_consistent(demo_db: Database) -> None:
    orders = {order["id"]: order for order in _orders(demo_db)}
    events = _events(demo_db)
    key = re.compile(
        r"major|(warning|breach|reminder|escalation)"
        r":(dispatch|reply|resolution|callback):c\d"
    )
    for order_id, order in orders.items():
        history = events[order_id]
        assert history[0]["kind"] == EventKind.CREATED.value
        status = None
        keys = set()
        for event in history:
            assert _instant(event["at"]) <= T0  # type: ignore[operator]
            if event["ladder_key"] is not None:
                assert key.fullmatch(event["ladder_key"]), event["ladder_key"]
                assert event["ladder_key"] not in keys
                keys.add(event["ladder_key"])
            if event["to_status"] is not None and event["to_status"] != event["from_status"]:
                assert event["from_status"] == status, (order["number"], event["kind"])
                status = event["to_status"]
        assert status == order["status"], order["number"]
        if order["escalation_level"] >= 1:
            kinds = {event["kind"] for event in history}
            assert EventKind.BREACH.value in kinds
            assert EventKind.REMINDER.value in kinds
        if order["is_major"]:
            assert any(event["kind"] == EventKind.MAJOR_FLAGGED.value for event in history)


def test_due_instants_are_those_the_clock_rules_compute(demo_db: Database) -> None:
    policy = load_policy()
    calendars = calendars_from_policy(policy)
    events = _events(demo_db)
    columns = {
        ClockKind.DISPATCH: "dispatch_due",
        ClockKind.REPLY: "reply_due",
        ClockKind.RESOLUTION: "resolution_due",
        ClockKind.CALLBACK: "callback_due",
    }
    checked = 0
    for order in _orders(demo_db):
        timeline = [
            TimelineEvent(_instant(event["at"]), EventKind(event["kind"]))  # type: ignore[arg-type]
            for event in events[order["id"]]
        ]
        clocks = work_order_clocks(
            category=RequestType(order["category"]),
            priority=Priority(order["priority"]),
            channel=Channel(order["channel"]),
            department_kind=DepartmentKind(order["department_kind"]),
            events=timeline,
            now=T0,
            policy=policy,
            calendars=calendars,
        )
        for kind, column in columns.items():
            clock = clocks.clock(kind)
            expected = clock.due_at.replace(microsecond=0) if clock.due_at else None
            assert _instant(order[column]) == expected, (order["number"], column)
            breached = {
                event["ladder_key"]
                for event in events[order["id"]]
                if event["kind"] == EventKind.BREACH.value and event["clock"] == kind.value
            }
            assert bool(breached) == clock.breached, (order["number"], kind)
        checked += 1
    assert checked > 20


def test_the_sweep_finds_nothing_due_and_has_the_plan_of_every_open_order(
    demo_db: Database,
) -> None:
    """The demo is swept up to now: the ladder rules find no step missing, every order's plan
    is current (``ladder_next_at`` empty) and holds exactly the steps the rules plan."""
    policy = load_policy()
    calendars = calendars_from_policy(policy)
    events = _events(demo_db)
    plans: dict[int, set[str]] = defaultdict(set)
    for order_id, key in _rows(demo_db, "SELECT work_order_id, ladder_key FROM ladder_step"):
        plans[order_id].add(key)
    complaints: dict[int, list[datetime]] = defaultdict(list)
    orders = _orders(demo_db)
    for order in orders:
        if order["category"] == "complaint" and order["customer_id"] is not None:
            complaints[order["customer_id"]].append(_instant(order["created_at"]))  # type: ignore[arg-type]
    for order in orders:
        history = events[order["id"]]
        created = _instant(order["created_at"])
        assert created is not None
        in_window = (
            complaints_in_window(complaints.get(order["customer_id"], []), created, policy)
            if order["category"] == "complaint"
            else 1
        )
        snapshot = snapshot_from_history(
            work_order_id=order["id"],
            category=RequestType(order["category"]),
            priority=Priority(order["priority"]),
            channel=Channel(order["channel"]),
            status=WorkOrderStatus(order["status"]),
            source=WorkOrderSource(order["source"]),
            is_major=bool(order["is_major"]),
            department_id=order["department_id"],
            department_kind=DepartmentKind(order["department_kind"]),
            events=[TimelineEvent(_instant(e["at"]), EventKind(e["kind"])) for e in history],  # type: ignore[arg-type]
            now=T0,
            policy=policy,
            calendars=calendars,
            customer_complaints_in_window=max(1, in_window),
        )
        keys = {event["ladder_key"] for event in history if event["ladder_key"]}
        assert due_ladder_events(snapshot, keys, T0, policy, calendars) == [], order["number"]
        assert order["ladder_next_at"] is None, order["number"]
        planned = {
            step.event.ladder_key
            for step in planned_ladder_steps(snapshot, keys, T0, policy, calendars)
        }
        assert plans.get(order["id"], set()) == planned, order["number"]


_ACTION_OF = {
    EventKind.DISPATCHED: Action.DISPATCH,
    EventKind.REPLIED: Action.REPLY,
    EventKind.ACCEPTED: Action.ACCEPT,
    EventKind.REJECTED: Action.RETURN,
    EventKind.CALLBACK_ATTEMPT: Action.CALLBACK_RESULT,
    EventKind.CLOSED: Action.CLOSE,
    EventKind.REOPENED: Action.REOPEN,
    EventKind.PAUSED: Action.PAUSE,
    EventKind.RESUMED: Action.RESUME,
    EventKind.ESCALATION_CONFIRMED: Action.CONFIRM_ESCALATION,
}
_LEVELS = {
    EventKind.REMINDER.value: ESCALATION_REMINDED,
    EventKind.ESCALATION_PROPOSED.value: ESCALATION_PROPOSED,
    EventKind.ESCALATION_CONFIRMED.value: ESCALATION_CONFIRMED,
}
_HANDS_OVER = (EventKind.DISPATCHED.value, EventKind.ESCALATION_CONFIRMED.value)


def test_every_action_is_one_the_rules_allow_that_person(demo_db: Database) -> None:
    """Each person's event in every history is an action of ``ACTION_RULES``, allowed by
    ``refusal`` to that person (role, department) in the order's state at that moment, and
    leads where the rule says."""
    staff = {
        row[0]: Actor(user_id=row[0], login=row[1], role=Role(row[2]), department_id=row[3])
        for row in _rows(demo_db, "SELECT id, login, role, department_id FROM staff_user")
    }
    events = _events(demo_db)
    checked = Counter[str]()
    for order in _orders(demo_db):
        history = events[order["id"]]
        status = WorkOrderStatus(history[0]["to_status"])
        department = history[0]["department_id"]
        paused = False
        level = 0
        for event in history[1:]:
            kind = EventKind(event["kind"])
            action = _ACTION_OF.get(kind)
            if event["actor_id"] is None or action is None:  # the sweep, or the creator's flag
                level = max(level, _LEVELS.get(event["kind"], 0))
                continue
            data = event["data"] if isinstance(event["data"], dict) else {}
            if isinstance(event["data"], str):
                data = json.loads(event["data"])
            if action is Action.REPLY and data.get("by") == "headquarters":
                action = Action.HQ_ANSWER
            state = OrderState(status, paused, RequestType(order["category"]), department, level)
            actor = staff[event["actor_id"]]
            assert refusal(action, actor, state, POLICY) is None, (order["number"], action)
            rule = ACTION_RULES[action]
            assert kind is rule.event
            assert event["from_status"] == status.value, (order["number"], action)
            status = rule.to_status or status
            assert event["to_status"] == status.value, (order["number"], action)
            paused = (paused or action is Action.PAUSE) and action not in (
                Action.RESUME,
                Action.CLOSE,
                Action.REOPEN,
            )
            if event["kind"] in _HANDS_OVER:
                department = event["department_id"]
            level = max(level, _LEVELS.get(event["kind"], 0))
            checked[action.value] += 1
        assert status.value == order["status"]
        assert level == order["escalation_level"], order["number"]
        assert department == order["department_id"], order["number"]
    assert set(checked) >= {action.value for action in _ACTION_OF.values()}


def _ladder_due(
    order: dict[str, Any],
    history: list[dict[str, Any]],
    at: datetime,
    *,
    in_window: int,
    kinds: dict[int, DepartmentKind],
    before: int | None = None,
) -> list[str]:
    """The ladder's steps due for ``order`` at ``at`` given its history up to then (its
    ladder events only up to the ``before``-th event), as the sweep would evaluate it."""
    calendars = calendars_from_policy(POLICY)
    known = [event for event in history if _instant(event["at"]) <= at]  # type: ignore[operator]
    keys = {
        event["ladder_key"]
        for index, event in enumerate(known)
        if event["ladder_key"] and (before is None or index < before)
    }
    status = next(e["to_status"] for e in reversed(known) if e["to_status"] is not None)
    department = next(
        (e["department_id"] for e in reversed(known) if e["kind"] in _HANDS_OVER),
        known[0]["department_id"],
    )
    snapshot = snapshot_from_history(
        work_order_id=order["id"],
        category=RequestType(order["category"]),
        priority=Priority(order["priority"]),
        channel=Channel(order["channel"]),
        status=WorkOrderStatus(status),
        source=WorkOrderSource(order["source"]),
        is_major=any(e["kind"] == EventKind.MAJOR_FLAGGED.value for e in known[:before]),
        department_id=department,
        department_kind=kinds[department],
        events=[TimelineEvent(_instant(e["at"]), EventKind(e["kind"])) for e in known],  # type: ignore[arg-type]
        now=at,
        policy=POLICY,
        calendars=calendars,
        customer_complaints_in_window=max(1, in_window),
    )
    return [e.ladder_key for e in due_ladder_events(snapshot, keys, at, POLICY, calendars)]


def test_the_ladder_events_are_what_a_sweep_running_all_along_stores(demo_db: Database) -> None:
    """Replay every history through the ladder rules at every instant where something
    happened, a second before each, and now: each stored ladder step was due when it was
    stored and not a second before, and at no instant is a due step missing."""
    kinds = {
        row[0]: DepartmentKind(row[1]) for row in _rows(demo_db, "SELECT id, kind FROM department")
    }
    orders = _orders(demo_db)
    complaints: dict[int, list[datetime]] = defaultdict(list)
    for order in orders:
        if order["category"] == "complaint" and order["customer_id"] is not None:
            complaints[order["customer_id"]].append(_instant(order["created_at"]))  # type: ignore[arg-type]
    events = _events(demo_db)
    second = timedelta(seconds=1)
    stored = Counter[str]()
    for order in orders:
        history = events[order["id"]]
        created = _instant(order["created_at"])
        assert created is not None
        facts = {
            "in_window": complaints_in_window(
                complaints.get(order["customer_id"], []), created, POLICY
            ),
            "kinds": kinds,
        }
        instants = {T0}
        for index, event in enumerate(history):
            at = _instant(event["at"])
            assert at is not None
            instants.add(at)
            if at - second >= created:
                instants.add(at - second)
            if event["ladder_key"] and event["actor_id"] is None:  # stored by the sweep
                stored[event["kind"]] += 1
                due = _ladder_due(order, history, at, before=index, **facts)  # type: ignore[arg-type]
                assert event["ladder_key"] in due, (order["number"], event)
                if at - second >= created:
                    earlier = _ladder_due(order, history, at - second, **facts)  # type: ignore[arg-type]
                    assert event["ladder_key"] not in earlier, (order["number"], event)
        for at in sorted(instants):
            missing = _ladder_due(order, history, at, **facts)  # type: ignore[arg-type]
            assert missing == [], (order["number"], at)
    assert set(stored) >= {
        EventKind.WARNING.value,
        EventKind.BREACH.value,
        EventKind.REMINDER.value,
        EventKind.ESCALATION_PROPOSED.value,
        EventKind.MAJOR_FLAGGED.value,
    }


def test_callbacks_of_every_purpose(demo_db: Database) -> None:
    purposes = {row[0] for row in _rows(demo_db, "SELECT DISTINCT purpose FROM callback")}
    assert purposes >= {
        CallbackPurpose.ROUTINE.value,
        CallbackPurpose.SURVEY.value,
        CallbackPurpose.WIN_BACK.value,
        CallbackPurpose.APOLOGY.value,
        CallbackPurpose.GREETING.value,
    }
    surveyed = _rows(
        demo_db,
        "SELECT customer_id, COUNT(*) FROM callback WHERE purpose = 'survey' "
        "GROUP BY customer_id HAVING COUNT(*) > 1",
    )
    assert surveyed == []


def test_shifts_handovers_and_notes(demo_db: Database) -> None:
    shifts = _rows(demo_db, "SELECT id, name, starts_at, ends_at, lead_id FROM shift ORDER BY id")
    assert {name for _, name, *_ in shifts} == {"早班", "中班", "夜班"}
    current = shifts[-1]
    assert _instant(current[2]) <= T0 < _instant(current[3])  # type: ignore[operator]
    lead1 = _scalar(demo_db, "SELECT id FROM staff_user WHERE login = 'lead1'")
    assert current[4] == lead1
    handovers = _rows(
        demo_db, "SELECT shift_id, signed_at, acknowledged_at FROM handover ORDER BY shift_id"
    )
    assert [row[0] for row in handovers] == [row[0] for row in shifts[:-1]]
    assert handovers[-1][2] is None
    assert all(row[2] is not None for row in handovers[:-1])
    assert (
        _scalar(demo_db, "SELECT COUNT(*) FROM shift_note WHERE shift_id = :s", s=current[0]) >= 1
    )


def test_verification_locks_and_attempts(demo_db: Database) -> None:
    locked = _rows(demo_db, "SELECT id FROM customer WHERE verification_locked_at IS NOT NULL")
    assert len(locked) == 2
    for (customer_id,) in locked:
        failures = _scalar(
            demo_db,
            "SELECT COUNT(*) FROM verification_attempt WHERE customer_id = :c AND success = FALSE",
            c=customer_id,
        )
        assert failures >= 5


def test_knowledge_base_and_canned_replies(demo_db: Database) -> None:
    articles = _rows(demo_db, "SELECT code, title, body, category FROM knowledge_article")
    assert len(articles) >= 20
    assert len({row[3] for row in articles}) >= 6
    types = {row[0] for row in _rows(demo_db, "SELECT DISTINCT request_type FROM canned_reply")}
    assert types >= {rt.value for rt in RequestType}


def test_the_database_says_it_is_a_demo(demo_db: Database) -> None:
    assert setup.is_demo(demo_db)
    assert demo_params(demo_db) == PARAMS
    target = inspect_target(demo_db)
    assert target.params == PARAMS
    assert target.schema_current
    assert verify_chain(demo_db, actor=shell_actor("test")).ok


def test_a_second_build_into_the_same_database_is_refused(demo_db: Database) -> None:
    with pytest.raises(NotEmpty):
        build_demo(demo_db, PARAMS)


# --- determinism and the schema end state (SQLite) --------------------------------------


def _customers(db: Database) -> list[tuple[Any, ...]]:
    return _rows(
        db,
        "SELECT id, customer_no, name, id_card_no, tier, address, region, status, "
        "balance_cents, arrears_cents, last_activity_at FROM customer ORDER BY id",
    )


def test_the_same_seed_builds_the_same_data(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    template: Path = request.getfixturevalue("_sqlite_template")
    params = DemoParams(customers=300, days=3, seed=11)
    first = _fresh_sqlite(tmp_path / "a.db", template)
    second = _fresh_sqlite(tmp_path / "b.db", template)
    other = _fresh_sqlite(tmp_path / "c.db", template)
    build_demo(first, params)
    build_demo(second, params)
    build_demo(other, DemoParams(customers=300, days=3, seed=12))
    assert _customers(first) == _customers(second)
    assert _customers(first) != _customers(other)
    for table in ("contact", "work_order", "work_order_event"):
        sql = f"SELECT * FROM {table} ORDER BY id"
        assert _rows(first, sql) == _rows(second, sql), table


@pytest.mark.parametrize(("cpus", "expected"), [(1, 1), (2, 1), (3, 2), (5, 4), (16, 4)])
def test_the_helper_has_a_worker_per_cpu_the_building_process_leaves(
    monkeypatch: pytest.MonkeyPatch, cpus: int, expected: int
) -> None:
    """The building process keeps one CPU busy beside the helper: on two CPUs the helper
    settles the work orders itself (1: no worker process), and never more than the cap."""
    monkeypatch.setattr(demo_processes, "available_cpus", lambda: cpus)
    assert demo_processes.workers() == expected


def test_the_helper_process_builds_the_same_rows(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large SQLite builds fork a helper for contacts and work orders, which settles the
    work orders' rules in worker processes; forced here on a small build (tasks of 3 orders),
    it must give exactly what the single-process build gives, and leave no scratch."""
    monkeypatch.setattr(demo_work_orders, "SETTLE_CHUNK", 3)
    monkeypatch.setattr(demo_processes, "MAX_WORKERS", 2)
    monkeypatch.setattr(demo_processes, "available_cpus", lambda: 3)
    template: Path = request.getfixturevalue("_sqlite_template")
    params = DemoParams(customers=400, days=4, seed=5)
    single = _fresh_sqlite(tmp_path / "single.db", template)
    forked = _fresh_sqlite(tmp_path / "forked.db", template)
    build_demo(single, params, parallel=False)
    build_demo(forked, params, parallel=True)
    tables = [
        row[0]
        for row in _rows(
            single,
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'customer_fts%'",
        )
    ]
    for table in tables:
        if table in ("audit_log", "staff_user", "customer"):
            continue  # salted hashes and the audit instant differ by design
        sql = f"SELECT * FROM {table} ORDER BY 1"
        assert _rows(single, sql) == _rows(forked, sql), table
    assert _customers(single) == _customers(forked)
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
    assert _rows(single, schema) == _rows(forked, schema)
    assert not [path for path in tmp_path.iterdir() if ".building" in path.name]


def test_the_helpers_tables_are_copied_in_whole_with_their_indexes(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The helper's part file holds each of its tables with the indexes the build has for
    it, so copying a table in is SQLite's transfer of whole records into the table and into
    each index (read as ``RowData``; without it every record is built again from its columns
    and the indexes are updated at random). With a unique index the program also holds the
    row-by-row insert, which SQLite runs only into a table that is not empty."""
    from desk.demo import builder
    from desk.demo.place import create_part_file

    template: Path = request.getfixturevalue("_sqlite_template")
    db = _fresh_sqlite(tmp_path / "demo.db", template)
    part = tmp_path / "demo.db.part"
    create_part_file(f"sqlite:///{part}", builder._table_statements(db, builder.ACTIVITY_TABLES))
    with db.engine.connect() as connection:
        saved = builder.Sink(connection).suspend(builder.BULK_TABLES)
        connection.commit()
        indexes = builder._index_statements(db, builder.ACTIVITY_TABLES, saved)
        builder.Sink(connection).restore(saved)
        connection.commit()
        with create_engine(f"sqlite:///{part}").begin() as helper:
            for statement in indexes:
                helper.exec_driver_sql(statement)
        driver = connection.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA foreign_keys=OFF")  # as on the loading connection
        driver.execute("ATTACH DATABASE ? AS part", (str(part),))
        for table in builder.ACTIVITY_TABLES:
            program = driver.execute("EXPLAIN " + builder._copy_statement(connection, table))
            opcodes = {str(row[1]) for row in program}
            assert "RowData" in opcodes, table


def test_a_failing_helper_fails_the_build_naming_the_step_and_keeps_nothing(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper process's file lacks a table (as a full disk or a broken schema would
    break it): the build fails naming the helper's step, in one line, and the target is
    as it was, with no scratch file left."""
    template: Path = request.getfixturevalue("_sqlite_template")
    db = _fresh_sqlite(tmp_path / "demo.db", template)
    from desk.demo import builder

    real = builder._table_statements
    monkeypatch.setattr(
        builder,
        "_table_statements",
        lambda scratch, tables: real(scratch, tuple(t for t in tables if t != "handover")),
    )
    with pytest.raises(DemoBuildFailed) as failed:
        build_demo(db, DemoParams(customers=300, days=3, seed=1), parallel=True)
    assert failed.value.step == "shift notes and handovers"
    assert "no such table: handover" in failed.value.message
    assert "\n" not in failed.value.message
    assert _scalar(db, "SELECT COUNT(*) FROM customer") == 0
    assert _scalar(db, "SELECT COUNT(*) FROM staff_user WHERE NOT is_system") == 0
    assert not [path for path in tmp_path.iterdir() if ".building" in path.name]


def test_the_end_state_is_the_migrated_schema(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    template: Path = request.getfixturevalue("_sqlite_template")
    """Indexes and triggers dropped for loading come back exactly as migration 0001 made them."""
    db = _fresh_sqlite(tmp_path / "demo.db", template)
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
    before = _rows(db, schema)
    build_demo(db, DemoParams(customers=200, days=2, seed=1))
    after = [row for row in _rows(db, schema) if not row[1].startswith("sqlite_stat")]
    assert after == before
    assert migrations.is_current(db)
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    # The triggers work again: a new customer is found by the full-text index.
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO customer (customer_no, name, name_spaced, name_pinyin, name_initials, "
            "id_card_no, id_card_rev, tier, is_member, region, status, balance_cents, "
            "arrears_cents, created_at) VALUES ('X1', '鑫淼', '鑫 淼', 'xinmiao', 'xm', '1', '1', "
            "'standard', 0, 'r', 'active', 0, 0, '2026-01-01 00:00:00.000000')"
        )
        found = connection.exec_driver_sql(
            """SELECT COUNT(*) FROM customer_fts WHERE customer_fts MATCH '"淼"'"""
        ).scalar()
    assert found == 1


def test_backlog_adds_open_work_orders_many_overdue(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    template: Path = request.getfixturevalue("_sqlite_template")
    plain = _fresh_sqlite(tmp_path / "plain.db", template)
    loaded = _fresh_sqlite(tmp_path / "loaded.db", template)
    build_demo(plain, DemoParams(customers=300, days=5, seed=2))
    build_demo(loaded, DemoParams(customers=300, days=5, seed=2, backlog=600))
    sql = "SELECT COUNT(*) FROM work_order WHERE status <> 'closed'"
    # The normal flow draws differently once backlog orders interleave: a rough bound.
    assert _scalar(loaded, sql) >= _scalar(plain, sql) + 580
    overdue = _scalar(
        loaded,
        "SELECT COUNT(*) FROM work_order WHERE status <> 'closed' "
        "AND id IN (SELECT work_order_id FROM work_order_event WHERE kind = 'breach')",
    )
    assert overdue > 100
    statuses = {row[0] for row in _rows(loaded, "SELECT DISTINCT status FROM work_order")}
    assert statuses >= {"new", "dispatched", "replied", "callback", "reopened"}


def test_bad_parameters_name_the_field() -> None:
    from desk.infra.errors import InvalidInput

    for kwargs, field in (
        ({"customers": 0}, "customers"),
        ({"days": 0}, "days"),
        ({"seed": -1}, "seed"),
        ({"backlog": -5}, "backlog"),
    ):
        with pytest.raises(InvalidInput) as raised:
            DemoParams(**kwargs)  # type: ignore[arg-type]
        assert raised.value.field == field


def test_shipped_articles_parse_and_bad_ones_are_named() -> None:
    articles = shipped_articles()
    assert len(articles) >= 20
    assert len({article.code for article in articles}) == len(articles)
    with pytest.raises(ValueError, match="x.md: missing title"):
        parse_article("---\ncode: K\ncategory: c\n---\nbody\n", source="x.md")
    with pytest.raises(ValueError, match="no front-matter"):
        parse_article("# title\n", source="y.md")


@pytest.mark.postgres
def test_a_postgresql_demo_with_ids_past_the_32_bit_products_builds(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Account, bill and payment ids start past 60,000 (as in a large or long-lived database):
    a product such as ``account_id * 40503`` then leaves 32 bits, so every set-based statement
    must compute in 64 bits. The payments still fall between the bill's issue and the limit.

    And no index is withheld from older transactions: PostgreSQL does that to an index built
    over rows updated in place (``indcheckxmin``), and with any long transaction open on the
    server, lookups would then scan whole tables (these parameters had such updates)."""
    url = request.getfixturevalue("_pg_url")
    engine = create_engine(url)
    truncate_all(engine)
    try:
        real_upgrade = migrations.upgrade

        def upgrade_then_start_high(scratch: Database) -> None:
            real_upgrade(scratch)
            with scratch.engine.begin() as connection:
                for table in ("account", "bill", "payment", "bill_item"):
                    connection.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 60000)"
                    )

        monkeypatch.setattr(migrations, "upgrade", upgrade_then_start_high)
        db = Database(engine=engine, clock=FixedClock(T0))
        build_demo(db, DemoParams(customers=400, days=4, seed=5))
        monkeypatch.undo()
        withheld = _rows(
            db,
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE i.indcheckxmin AND t.relnamespace = current_schema()::regnamespace",
        )
        assert withheld == []
        # Vacuumed once built: every page of the big tables all-visible (index-only reads).
        for table in ("customer", "contact", "work_order", "bill"):
            pages, visible = _rows(
                db,
                "SELECT relpages, relallvisible FROM pg_class "
                f"WHERE relname = '{table}' AND relnamespace = current_schema()::regnamespace",
            )[0]
            assert pages > 0, table
            assert visible == pages, table
        assert _scalar(db, "SELECT MIN(id) FROM account") == 60_001
        assert _scalar(db, "SELECT COUNT(*) FROM account") == 400
        assert _scalar(db, "SELECT MIN(account_id) FROM bill") == 60_001
        assert _scalar(db, "SELECT MIN(id) FROM payment") > 60_000
        assert _scalar(db, "SELECT COUNT(*) FROM payment") == _scalar(
            db, "SELECT COUNT(*) FROM bill WHERE paid_cents > 0"
        )
        early = (
            "SELECT COUNT(*) FROM payment p WHERE p.paid_at < "
            "(SELECT MIN(b.issued_at) FROM bill b WHERE b.account_id = p.account_id)"
        )
        assert _scalar(db, early) == 0
        # Every account's customer is the customer it was made for, in order.
        assert _scalar(db, "SELECT COUNT(*) FROM account WHERE id - 60000 <> customer_id") == 0
    finally:
        truncate_all(engine)
        engine.dispose()
