"""The satisfaction analysis on hand-built facts, on SQLite and PostgreSQL: by request type,
channel, branch (the customer's) and agent, the trend, the spread of marks and complaint
satisfaction by branch; its overall figures are the dashboard's tiles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from desk.clock import SHANGHAI
from desk.infra.database import Database
from desk.infra.errors import PermissionDenied
from desk.models import Branch, Contact, Customer, WorkOrder
from desk.rules.kpi import Rate
from desk.rules.periods import PeriodKind, range_period
from desk.rules.permissions import Actor
from desk.rules.policy import Policy, load_policy
from desk.rules.vocab import Role
from desk.services.dashboard import dashboard, period_now
from desk.services.reports import ReportKind, report
from desk.services.satisfaction import satisfaction_analysis
from tests.services.test_customer_search import add_staff

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # the db clock: Monday 10:00 in Shanghai
DAY = date(2026, 11, 1)
START = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # the day's local midnight
H = timedelta(hours=1)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


def _contact(ident: int, at: datetime, mark: int | None, **values: Any) -> dict[str, Any]:
    row = {
        "id": ident,
        "channel": "phone",
        "direction": "inbound",
        "request_type": "consultation",
        "offered_at": at,
        "answered_at": at + timedelta(seconds=5),
        "ended_at": at + timedelta(seconds=90),
        "satisfaction": mark,
        "agent_id": None,
        "customer_id": None,
    }
    row.update(values)
    return row


def _customer(ident: int, branch: int | None) -> dict[str, Any]:
    return {
        "id": ident,
        "customer_no": f"C{ident:09d}",
        "name": "王小明",
        "name_spaced": "王 小 明",
        "name_pinyin": "wangxiaoming",
        "name_initials": "wxm",
        "id_card_no": "110101199001011234",
        "id_card_rev": "432110109910110011",
        "region": "杭州",
        "branch_id": branch,
        "created_at": NOW - timedelta(days=400),
    }


def _complaint(ident: int, branch: int, closed: datetime, mark: int | None) -> dict[str, Any]:
    return {
        "id": ident,
        "number": f"WO{ident:03d}",
        "category": "complaint",
        "branch_id": branch,
        "title": "t",
        "description": "d",
        "status": "closed",
        "created_at": closed - 10 * H,
        "updated_at": closed,
        "reply_due": closed - 8 * H,
        "replied_at": closed - 9 * H,
        "resolution_due": closed + H,
        "closed_at": closed,
        "satisfaction": mark,
    }


@pytest.fixture
def world(db: Database) -> tuple[Database, Actor]:
    (boss,) = add_staff(db, Role.SUPERVISOR)
    a, b = (add_staff(db, Role.AGENT, login=login)[0].user_id for login in ("ann", "bo"))
    nine, two = START + 9 * H, START + 14 * H
    with db.connection(write=True) as connection:
        connection.execute(
            insert(Branch.__table__),  # type: ignore[attr-defined]
            [
                {"id": 1, "code": "HZ", "name": "杭州分公司", "region": "杭州"},
                {"id": 2, "code": "NB", "name": "宁波分公司", "region": "宁波"},
            ],
        )
        connection.execute(
            insert(Customer.__table__),  # type: ignore[attr-defined]
            [_customer(1, 1), _customer(2, 2), _customer(3, None)],
        )
        connection.execute(
            insert(Contact.__table__),  # type: ignore[attr-defined]
            [
                _contact(1, nine, 5, agent_id=a, customer_id=1),
                _contact(2, nine + H, 4, agent_id=a, customer_id=1, channel="vip_line"),
                _contact(3, nine + H, 2, agent_id=b, customer_id=2, request_type="complaint"),
                _contact(4, two, 1, agent_id=b, customer_id=2, channel="chat"),
                _contact(5, two, 5, agent_id=b, customer_id=3, request_type="bill_inquiry"),
                _contact(6, two, None, agent_id=a, customer_id=1),  # no mark: in no group
                _contact(7, START - H, 1, agent_id=a, customer_id=1),  # the day before
            ],
        )
        connection.execute(
            insert(WorkOrder.__table__),  # type: ignore[attr-defined]
            [
                _complaint(1, 1, nine, 5),
                _complaint(2, 1, two, 2),
                _complaint(3, 2, two, 4),
                _complaint(4, 2, two, None),  # not marked at callback
                _complaint(5, 2, START - 2 * H, 1),  # closed the day before
            ],
        )
    return db, boss


def _analysis(db: Database, boss: Actor, policy: Policy) -> Any:
    period = range_period(DAY, DAY, NOW, SHANGHAI)
    return satisfaction_analysis(db, actor=boss, policy=policy, period=period)


def _groups(groups: Any) -> list[tuple[str | None, int, int]]:
    return [(g.key, g.marked, g.satisfied) for g in groups]


def test_satisfaction_by_every_group(world: tuple[Database, Actor], policy: Policy) -> None:
    db, boss = world
    data = _analysis(db, boss, policy)
    assert data.overall.satisfaction == Rate(3, 5)  # marks 5, 4, 2, 1, 5
    assert _groups(data.by_request_type) == [
        ("consultation", 3, 2),
        ("bill_inquiry", 1, 1),
        ("complaint", 1, 0),
    ]
    assert _groups(data.by_channel) == [("phone", 3, 2), ("chat", 1, 0), ("vip_line", 1, 1)]
    assert _groups(data.by_branch) == [("宁波分公司", 2, 0), ("杭州分公司", 2, 2), (None, 1, 1)]
    assert _groups(data.by_agent) == [("bo name", 3, 1), ("ann name", 2, 2)]
    assert data.marks == ((5, 2), (4, 1), (3, 0), (2, 1), (1, 1))
    assert [(p.start.hour, p.marked, p.satisfied) for p in data.trend] == [
        (9, 1, 1),
        (10, 2, 1),
        (14, 2, 1),
    ]
    assert data.trend_by_hour
    # complaints closed in the day with a callback mark: WO1 (5), WO2 (2), WO3 (4)
    assert data.complaints.satisfaction == Rate(2, 3)
    assert _groups(data.complaints_by_branch) == [("杭州分公司", 2, 1), ("宁波分公司", 1, 1)]


def test_the_analysis_agrees_with_the_dashboard_and_the_report(
    world: tuple[Database, Actor], policy: Policy
) -> None:
    db, boss = world
    data = _analysis(db, boss, policy)
    board = dashboard(db, actor=boss, policy=policy, kind=PeriodKind.RANGE, first=DAY, last=DAY)
    tiles = {tile.key: tile.value for tile in board.tiles}
    assert tiles["satisfaction"] == data.overall.satisfaction
    assert tiles["complaint_satisfaction"] == data.complaints.satisfaction
    found = report(db, actor=boss, policy=policy, kind=ReportKind.SATISFACTION, first=DAY, last=DAY)
    rows = {key: found.section(key).rows for key in ("by_branch", "by_agent", "targets")}
    assert rows["by_branch"] == (
        ("宁波分公司", 2, 0, 0.0),
        ("杭州分公司", 2, 2, 100.0),
        ("(none)", 1, 1, 100.0),
    )
    assert rows["by_agent"] == (("bo name", 3, 1, 33.33), ("ann name", 2, 2, 100.0))
    assert [row[1] for row in rows["targets"]] == [60.0, 66.67]
    trend = found.section("satisfaction_trend").rows
    assert [row[0] for row in trend] == ["2026-11-01 09:00", "2026-11-01 10:00", "2026-11-01 14:00"]


def test_an_agent_cannot_read_the_analysis(db: Database, policy: Policy) -> None:
    (agent,) = add_staff(db, Role.AGENT)
    with pytest.raises(PermissionDenied):
        satisfaction_analysis(
            db, actor=agent, policy=policy, period=period_now(db, PeriodKind.TODAY)
        )
