"""Every dashboard tile and every section of the daily, complaint and satisfaction reports on
hand-built facts whose figures are worked out by hand below, on SQLite and PostgreSQL; and a
day with nothing in it, where every figure is "nothing to measure" (None), never 0.

The day is 2026-11-01 in Shanghai: [2026-10-31 16:00, 2026-11-01 16:00) UTC, judged at its
end (the db clock is 2026-11-02 10:00 local).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from desk.infra.database import Database
from desk.models import Branch, Contact, Customer, WorkOrder, WorkOrderEvent
from desk.rules.kpi import Rate, Standing
from desk.rules.periods import PeriodKind
from desk.rules.permissions import Actor
from desk.rules.policy import Policy, load_policy
from desk.rules.staffing import staffing_plan
from desk.rules.vocab import Role
from desk.services import summaries
from desk.services.dashboard import CHURN_NOT_COUNTED, dashboard
from desk.services.reports import Report, ReportKind, report
from tests.services.test_customer_search import add_staff

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # the db clock: Monday 10:00 in Shanghai
DAY = date(2026, 11, 1)
START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # the day's local midnight
NINE = START + timedelta(hours=9)  # 09:00 local
TWO_PM = START + timedelta(hours=14)  # 14:00 local
S = timedelta(seconds=1)
H = timedelta(hours=1)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


def _contact(
    ident: int,
    offered: datetime,
    *,
    channel: str = "phone",
    direction: str = "inbound",
    answer_after: int | None = None,
    talk: int = 0,
    ended_after: int | None = None,
    mark: int | None = None,
    kind: str | None = None,
    agent: int | None = None,
) -> dict[str, Any]:
    answered = None if answer_after is None else offered + answer_after * S
    if answered is not None:
        ended = answered + talk * S
    else:
        ended = None if ended_after is None else offered + ended_after * S
    return {
        "id": ident,
        "channel": channel,
        "direction": direction,
        "request_type": kind,
        "offered_at": offered,
        "answered_at": answered,
        "ended_at": ended,
        "satisfaction": mark,
        "agent_id": agent,
        "customer_id": None,
    }


def _customer(ident: int, tier: str, region: str, seen: datetime | None) -> dict[str, Any]:
    return {
        "id": ident,
        "customer_no": f"C{ident:09d}",
        "name": "王小明",
        "name_spaced": "王 小 明",
        "name_pinyin": "wangxiaoming",
        "name_initials": "wxm",
        "id_card_no": "110101199001011234",
        "id_card_rev": "432110109910110011",
        "tier": tier,
        "region": region,
        "last_activity_at": seen,
        "created_at": NOW - timedelta(days=400),
    }


def _order(ident: int, category: str, branch: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": ident,
        "number": f"WO{ident:03d}",
        "category": category,
        "branch_id": branch,
        "topic": None,
        "customer_id": None,
        "title": "t",
        "description": "d",
        "status": "dispatched",
        "is_major": False,
        "escalation_level": 0,
        "reply_due": None,
        "replied_at": None,
        "resolution_due": None,
        "closed_at": None,
        "next_due": None,
        "satisfaction": None,
    }
    row.update(values)
    row.setdefault("updated_at", row["created_at"])
    return row


@pytest.fixture
def world(db: Database) -> tuple[Database, Actor]:
    """The facts of the module docstring's day, and a supervisor to read them."""
    (boss,) = add_staff(db, Role.SUPERVISOR)
    a, b, c = (add_staff(db, Role.AGENT, login=login)[0].user_id for login in "abc")
    contacts = [
        # 09:00: five calls offered (c3 is a 3-second abandon), three answered
        _contact(1, NINE, answer_after=10, talk=300, mark=5, kind="consultation", agent=a),
        _contact(2, NINE + 60 * S, answer_after=30, talk=200, mark=2, kind="complaint", agent=b),
        _contact(3, NINE + 120 * S, ended_after=3),
        _contact(4, NINE + 180 * S, ended_after=40),
        _contact(
            5,
            NINE + 240 * S,
            channel="vip_line",
            answer_after=5,
            talk=100,
            mark=4,
            kind="consultation",
            agent=a,
        ),
        _contact(6, NINE + 300 * S, channel="vip_line", ended_after=60),
        _contact(7, NINE + 360 * S, direction="outbound", answer_after=1, talk=50, agent=a),
        _contact(
            8,
            NINE + 420 * S,
            channel="chat",
            answer_after=1,
            talk=60,
            mark=3,
            kind="bill_inquiry",
            agent=c,
        ),  # fmt: skip
        # 14:00: one call, answered at once
        _contact(9, TWO_PM, answer_after=2, talk=100, mark=5, kind="bill_inquiry", agent=c),
        # outside the day
        _contact(10, START - 30 * 60 * S, answer_after=1, talk=10, mark=1, agent=a),
        _contact(11, START + 24 * H, answer_after=1, talk=10, mark=1, agent=a),
    ]
    seen = NOW - timedelta(days=2)
    gone = NOW - timedelta(days=70)
    customers = [
        _customer(1, "gold", "杭州", seen),
        _customer(2, "silver", "宁波", gone),  # a churned member
        _customer(3, "gold", "杭州", seen),
        _customer(4, "platinum", "杭州", seen),
        _customer(5, "diamond", "杭州", seen),
        _customer(6, "standard", "杭州", seen),
        _customer(7, "standard", "宁波", None),  # never seen: churned
        _customer(8, "standard", "宁波", seen),
        _customer(9, "standard", "宁波", seen),
    ]
    orders = [
        # replied and closed in the day, satisfied, never breached
        _order(
            1,
            "complaint",
            1,
            topic="网络质量",
            customer_id=1,
            created_at=START + 1 * H,
            reply_due=START + 3 * H,
            replied_at=START + 2 * H,
            resolution_due=START + 50 * H,
            closed_at=START + 10 * H,
            status="closed",
            satisfaction=5,
        ),  # fmt: skip
        # reply missed (breach at its due, reminder an hour later), still open: overdue now
        _order(
            2,
            "complaint",
            1,
            topic="乱扣费",
            customer_id=1,
            created_at=START + 2 * H,
            reply_due=START + 4 * H,
            resolution_due=START + 80 * H,
            next_due=START + 4 * H,
        ),  # fmt: skip
        # received the day before, resolution missed in the day, closed late, unhappy
        _order(
            3,
            "complaint",
            2,
            topic="网络质量",
            customer_id=2,
            created_at=START - 40 * H,
            reply_due=START - 38 * H,
            replied_at=START - 39 * H,
            resolution_due=START + 8 * H,
            closed_at=START + 12 * H,
            status="closed",
            satisfaction=2,
            escalation_level=2,
        ),  # fmt: skip
        # not a complaint: in no complaint figure, but major and open
        _order(
            4,
            "fault_report",
            2,
            topic="网络质量",
            created_at=START + 3 * H,
            is_major=True,
            next_due=NOW + 5 * H,
        ),  # fmt: skip
        # received in the day, its reply due after it: open, overdue by now
        _order(
            5,
            "complaint",
            2,
            topic="网络质量",
            customer_id=1,
            created_at=START + 5 * H,
            reply_due=START + 28 * H,
            resolution_due=START + 72 * H,
            next_due=START + 28 * H,
        ),  # fmt: skip
    ]
    events = [
        (2, START + 4 * H, "breach"),
        (2, START + 5 * H, "reminder"),
        (3, START + 8 * H, "breach"),
        (3, START + 9 * H, "escalation_proposed"),
        (3, START - 30 * H, "reminder"),  # the day before: not counted
    ]
    with db.connection(write=True) as connection:
        connection.execute(
            insert(Branch.__table__),  # type: ignore[attr-defined]
            [
                {"id": 1, "code": "HZ", "name": "杭州分公司", "region": "杭州"},
                {"id": 2, "code": "NB", "name": "宁波分公司", "region": "宁波"},
            ],
        )
        connection.execute(insert(Customer.__table__), customers)  # type: ignore[attr-defined]
        connection.execute(insert(Contact.__table__), contacts)  # type: ignore[attr-defined]
        connection.execute(insert(WorkOrder.__table__), orders)  # type: ignore[attr-defined]
        connection.execute(
            insert(WorkOrderEvent.__table__),  # type: ignore[attr-defined]
            [{"work_order_id": w, "at": at, "kind": kind} for w, at, kind in events],
        )
    # the summaries' refresh in the first hour after the day: its midnight churn snapshot
    summaries.refresh_summaries(db, policy=load_policy(None), now=START + timedelta(hours=24.2))
    return db, boss


def _report(db: Database, actor: Actor, policy: Policy, kind: ReportKind) -> Report:
    return report(db, actor=actor, policy=policy, kind=kind, first=DAY, last=DAY)


def _rows(found: Report, key: str) -> list[dict[str, Any]]:
    section = found.section(key)
    keys = [column.key for column in section.columns]
    return [dict(zip(keys, row, strict=True)) for row in section.rows]


def test_every_tile_of_the_day(world: tuple[Database, Actor], policy: Policy) -> None:
    db, boss = world
    data = dashboard(db, actor=boss, policy=policy, kind=PeriodKind.RANGE, first=DAY, last=DAY)
    tiles = {tile.key: (tile.value, tile.target, tile.standing) for tile in data.tiles}
    assert tiles == {
        # offered: 1, 2, 4, 5, 6, 9 (3 abandoned within 5 s; 7 outbound; 8 chat)
        "manual_answer_rate": (Rate(4, 6), 85, Standing.RED),
        "vip_answer_rate": (Rate(1, 2), 90, Standing.RED),
        # marked 1, 2, 5, 8, 9; satisfied (4 or 5) 1, 5, 9
        "satisfaction": (Rate(3, 5), 90, Standing.RED),
        # closed in the day with a mark: WO1 (5), WO3 (2)
        "complaint_satisfaction": (Rate(1, 2), 99, Standing.RED),
        # reply due or given in the day: WO1 (given), WO2 (missed)
        "complaint_reply_rate": (Rate(1, 2), 100, Standing.RED),
        # counted when closed or breached: WO1 clean, WO2 and WO3 breached; WO5 not yet
        "complaint_on_standard": (Rate(1, 3), 98, Standing.RED),
        # resolution due or closed in the day: WO1 and WO3, both closed
        "complaint_closure": (Rate(2, 2), 98, Standing.GREEN),
        # members 1–5, customer 2 gone 70 days; others 6–9, customer 7 never seen
        "churn_member_max": (Rate(1, 5), 20, Standing.GREEN),
        "churn_other_max": (Rate(1, 4), 30, Standing.GREEN),
    }
    assert [tile.key for tile in data.tiles] == list(tiles)


def test_the_daily_report_sections(world: tuple[Database, Actor], policy: Policy) -> None:
    db, boss = world
    found = _report(db, boss, policy, ReportKind.DAILY)
    assert (found.period.start, found.period.end, found.period.as_of) == (
        START,
        START + 24 * H,
        START + 24 * H,
    )
    assert [section.key for section in found.sections] == [
        "targets",
        "contacts",
        "by_hour",
        "request_types",
        "trend",
        "hot_topics",
        "hot_branches",
        "hot_regions",
        "repeat_complainers",
        "attention",
        "quality_agents",  # the floor's spot checks (none here)
        "quality_branches",
    ]
    targets = _rows(found, "targets")
    assert targets[0] == {
        "figure": "Manual answer rate (人工接通率)",
        "value": 66.67,
        "numerator": 4,
        "denominator": 6,
        "target": "≥85%",
        "standing": "red",
    }
    assert targets[-1]["target"] == "≤30%"
    values = [66.67, 50.0, 60.0, 50.0, 50.0, 33.33, 100.0, 20.0, 25.0]
    assert [row["value"] for row in targets] == values
    contacts = {row["measure"]: row["value"] for row in _rows(found, "contacts")}
    assert contacts == {
        "Contacts": 9,
        "Offered to agents (voice, inbound, short abandons excluded)": 6,
        "Answered": 4,
        "Answered within the service-level time": 3,  # 10 s, 5 s, 2 s (30 s is late)
        "Service level %": 50.0,
        "VIP line offered": 2,
        "VIP line answered": 1,
        "Satisfaction marks": 5,
        "Satisfied marks": 3,
        "Average handling time (s)": 175.0,  # (300 + 200 + 100 + 100) / 4
    }
    hours = _rows(found, "by_hour")
    assert [row["hour"] for row in hours] == [f"{hour:02d}:00" for hour in range(24)]
    calls = {hour: 5 if hour == 9 else 1 if hour == 14 else 0 for hour in range(24)}
    plan = staffing_plan(calls, 175.0, policy)
    # agents on shift: who answered a contact offered in the hour (a, b, and c on the chat)
    assert (hours[9]["calls"], hours[9]["answered"], hours[9]["agents"]) == (5, 3, 3)
    assert hours[9]["need"] == plan[9].scheduled >= 1
    assert hours[9]["short"] == max(0, plan[9].scheduled - 3)
    assert (hours[14]["calls"], hours[14]["answered"], hours[14]["agents"]) == (1, 1, 1)
    assert (hours[3]["calls"], hours[3]["agents"], hours[3]["need"]) == (0, 0, 0)
    assert found.section("by_hour").note == "Average handling time used: 175 s"
    mix = {r["request_type"]: (r["contacts"], r["share"]) for r in _rows(found, "request_types")}
    assert mix == {
        "(none)": (4, 44.44),  # 3, 4, 6, 7
        "bill_inquiry": (2, 22.22),
        "consultation": (2, 22.22),
        "complaint": (1, 11.11),
    }
    assert [row["request_type"] for row in _rows(found, "request_types")][0] == "(none)"
    assert _rows(found, "trend") == [
        # 09:00: answer rate 3 of 5 offered; marks 1, 2, 5, 8 of which 1 and 5 satisfied
        {"start": "2026-11-01 09:00", "contacts": 8, "answer_rate": 60.0, "satisfaction": 50.0},
        {"start": "2026-11-01 14:00", "contacts": 1, "answer_rate": 100.0, "satisfaction": 100.0},
    ]
    # hot spots: the complaints received in the day (WO1, WO2, WO5)
    assert [(r["label"], r["complaints"], r["share"]) for r in _rows(found, "hot_topics")] == [
        ("网络质量", 2, 66.67),
        ("乱扣费", 1, 33.33),
    ]
    assert [(r["label"], r["complaints"]) for r in _rows(found, "hot_branches")] == [
        ("杭州分公司", 2),
        ("宁波分公司", 1),
    ]
    assert [(r["label"], r["complaints"]) for r in _rows(found, "hot_regions")] == [
        ("杭州", 2),
        ("宁波", 1),
    ]
    (complainer,) = _rows(found, "repeat_complainers")
    assert (complainer["customer_no"], complainer["complaints"]) == ("C000000001", 3)
    assert complainer["name"] != "王小明"  # masked
    # attention is now: WO4 major first, then the overdue by their missed deadline
    attention = _rows(found, "attention")
    assert [(r["number"], r["major"], r["first_missed"]) for r in attention] == [
        ("WO004", "yes", None),
        ("WO002", "", START + 4 * H),
        ("WO005", "", START + 28 * H),
    ]
    assert found.section("attention").note.startswith("2 overdue, 1 escalated, 1 major")
    assert {title for title, _text in found.definitions} >= {
        "Manual answer rate (人工接通率)",
        "Service level",
        "Agents needed",
    }


def test_the_complaint_report_sections(world: tuple[Database, Actor], policy: Policy) -> None:
    db, boss = world
    found = _report(db, boss, policy, ReportKind.COMPLAINTS)
    figures = {row["figure"]: row for row in _rows(found, "complaint_figures")}
    assert {
        name: (r["value"], r["numerator"], r["denominator"]) for name, r in figures.items()
    } == {  # fmt: skip
        "Complaint reply rate (回复率)": (50.0, 1, 2),
        "Complaint closure (结案率)": (100.0, 2, 2),
        "Complaint handling on standard (投诉规范率)": (33.33, 1, 3),
        "Complaint satisfaction": (50.0, 1, 2),
    }
    assert [r["label"] for r in _rows(found, "hot_topics")] == ["网络质量", "乱扣费"]
    assert [r["complaints"] for r in _rows(found, "hot_regions")] == [2, 1]
    assert [r["complaints"] for r in _rows(found, "repeat_complainers")] == [3]
    by_branch = {row.pop("branch"): row for row in _rows(found, "ladder_by_branch")}
    assert by_branch == {
        "宁波分公司": {  # WO3 (received before, closed late) and WO5
            "received": 1,
            "reply_rate": None,  # no reply due or given in the day: nothing to measure
            "closure": 100.0,
            "on_standard": 0.0,
            "satisfaction": 0.0,
            "breaches": 1,
            "reminders": 0,  # WO3's reminder was the day before
            "escalations": 1,
        },
        "杭州分公司": {  # WO1 and WO2
            "received": 2,
            "reply_rate": 50.0,
            "closure": 100.0,
            "on_standard": 50.0,
            "satisfaction": 100.0,
            "breaches": 1,
            "reminders": 1,
            "escalations": 0,
        },
    }


def test_the_satisfaction_report_sections(world: tuple[Database, Actor], policy: Policy) -> None:
    db, boss = world
    found = _report(db, boss, policy, ReportKind.SATISFACTION)
    assert _rows(found, "by_channel") == [  # most marks first
        {"label": "phone", "marked": 3, "satisfied": 2, "satisfaction": 66.67},
        {"label": "chat", "marked": 1, "satisfied": 0, "satisfaction": 0.0},
        {"label": "vip_line", "marked": 1, "satisfied": 1, "satisfaction": 100.0},
    ]
    by_type = {row["label"]: row for row in _rows(found, "by_request_type")}
    assert "(none)" not in by_type  # no mark: not a group of the analysis
    assert (by_type["consultation"]["marked"], by_type["consultation"]["satisfaction"]) == (
        2,
        100.0,
    )
    assert by_type["complaint"]["satisfaction"] == 0.0
    assert by_type["bill_inquiry"]["satisfaction"] == 50.0
    assert _rows(found, "marks") == [
        {"mark": 5, "contacts": 2, "share": 40.0},
        {"mark": 4, "contacts": 1, "share": 20.0},
        {"mark": 3, "contacts": 1, "share": 20.0},
        {"mark": 2, "contacts": 1, "share": 20.0},
        {"mark": 1, "contacts": 0, "share": 0.0},
    ]
    (complaints,) = _rows(found, "complaint_satisfaction")
    assert (complaints["value"], complaints["numerator"], complaints["denominator"]) == (50.0, 1, 2)


def test_a_day_with_nothing_in_it_has_nothing_to_measure(
    world: tuple[Database, Actor], policy: Policy
) -> None:
    db, boss = world
    quiet = date(2026, 10, 20)
    data = dashboard(db, actor=boss, policy=policy, kind=PeriodKind.RANGE, first=quiet, last=quiet)
    for tile in data.tiles:  # churn: no hourly snapshot at the day's end, and it says so
        assert (tile.key, tile.value, tile.standing) == (tile.key, None, Standing.NONE)
        assert tile.reason == (CHURN_NOT_COUNTED if tile.key.startswith("churn") else None)
    found = report(db, actor=boss, policy=policy, kind=ReportKind.DAILY, first=quiet, last=quiet)
    assert found.section("targets").note.startswith("Churn: no hourly churn count")
    assert [row["value"] for row in _rows(found, "targets")][:7] == [None] * 7
    contacts = {row["measure"]: row["value"] for row in _rows(found, "contacts")}
    assert contacts["Service level %"] is None
    assert contacts["Average handling time (s)"] is None
    assert contacts["Contacts"] == 0
    assert found.section("by_hour").note.endswith("(the policy's default: no handled call)")
    assert _rows(found, "trend") == []
    assert _rows(found, "hot_topics") == []
    complaints = report(
        db, actor=boss, policy=policy, kind=ReportKind.COMPLAINTS, first=quiet, last=quiet
    )
    assert [row["value"] for row in _rows(complaints, "complaint_figures")] == [None] * 4
    assert _rows(complaints, "ladder_by_branch") == []
    satisfaction = report(
        db, actor=boss, policy=policy, kind=ReportKind.SATISFACTION, first=quiet, last=quiet
    )
    assert [row["share"] for row in _rows(satisfaction, "marks")] == [None] * 5
