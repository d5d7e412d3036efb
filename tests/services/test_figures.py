"""The SQL counts of every figure equal the fact-based rules of desk.rules.kpi, on SQLite and
PostgreSQL: hand-built facts go into the database, and both sides are compared."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from desk.clock import SHANGHAI
from desk.infra.database import Database
from desk.models import Branch, Contact, Customer, WorkOrder, WorkOrderEvent
from desk.rules import kpi
from desk.rules.kpi import ComplaintFact, ContactFact, CustomerFact
from desk.rules.periods import Period, PeriodKind, period_of
from desk.rules.policy import Policy, load_policy
from desk.rules.vocab import Channel, Direction, RequestType, Tier
from desk.services import figures, summaries

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai (the db clock)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(None)


def _contact_rows(rng: random.Random, start: datetime, n: int) -> list[dict[str, object]]:
    rows = []
    for index in range(n):
        offered = start + timedelta(seconds=rng.randrange(0, 9 * 3600))
        answered = (
            offered + timedelta(seconds=rng.choice([1, 5, 19, 20, 21, 60, 300]))
            if rng.random() < 0.7
            else None
        )
        ended: datetime | None
        if answered is not None:
            ended = answered + timedelta(seconds=rng.randrange(30, 900))
        else:
            ended = offered + timedelta(seconds=rng.choice([0, 2, 4, 5, 6, 40]))
        if rng.random() < 0.05:
            ended = None  # still ringing or on the line
        rows.append(
            {
                "id": index + 1,
                "channel": rng.choice(
                    [Channel.PHONE, Channel.PHONE, Channel.VIP_LINE, Channel.CHAT, Channel.EMAIL]
                ).value,
                "direction": rng.choice(
                    [Direction.INBOUND, Direction.INBOUND, Direction.OUTBOUND]
                ).value,
                "request_type": rng.choice([*RequestType, None]),
                "offered_at": offered,
                "answered_at": answered,
                "ended_at": ended,
                "satisfaction": rng.choice([None, None, 1, 2, 3, 4, 5]),
            }
        )
    return rows


def _contact_fact(row: dict[str, object], policy: Policy) -> ContactFact:
    mark = row["satisfaction"]
    assert mark is None or isinstance(mark, int)
    return ContactFact(
        contact_id=int(str(row["id"])),
        channel=Channel(str(row["channel"])),
        direction=Direction(str(row["direction"])),
        offered_at=row["offered_at"],  # type: ignore[arg-type]
        answered_at=row["answered_at"],  # type: ignore[arg-type]
        ended_at=row["ended_at"],  # type: ignore[arg-type]
        satisfied=kpi.is_satisfied(mark, policy),
    )


def _period(kind: PeriodKind = PeriodKind.TODAY) -> Period:
    return period_of(kind, NOW, SHANGHAI)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_contact_counts_follow_the_contact_rules(db: Database, policy: Policy, seed: int) -> None:
    rng = random.Random(seed)
    period = _period()
    rows = _contact_rows(rng, period.start - timedelta(hours=1), 300)
    with db.connection(write=True) as connection:
        connection.execute(insert(Contact.__table__), rows)  # type: ignore[attr-defined]
    inside = [
        _contact_fact(row, policy)
        for row in rows
        if period.start <= row["offered_at"] < period.as_of  # type: ignore[operator]
    ]
    with db.session(write=False) as session:
        hours = figures.contact_hours(session, period=period, policy=policy)
    tally = sum((item.tally for item in hours), figures.ContactTally())
    assert tally.contacts == len(inside)
    assert tally.manual_answer_rate == kpi.manual_answer_rate(inside, policy)
    assert tally.vip_answer_rate == kpi.vip_answer_rate(inside, policy)
    assert tally.service_level == kpi.service_level(inside, policy)
    assert tally.satisfaction == kpi.satisfaction(inside)
    assert tally.offered > 0
    assert tally.marked > 0
    # handle time: answered offered contacts that ended
    handled = [
        (f.ended_at - f.answered_at).total_seconds()
        for f in inside
        if kpi.counts_as_offered(f, policy) and f.answered_at and f.ended_at
    ]
    assert tally.handled == len(handled)
    assert tally.handle_seconds == pytest.approx(sum(handled))
    # per hour and request type, the parts add up to the whole
    assert sum(item.tally.contacts for item in hours) == len(inside)
    assert all(item.hour.minute == 0 and item.hour.tzinfo is not None for item in hours)


def test_the_short_abandon_boundary(db: Database, policy: Policy) -> None:
    """Hung up after 4 s: not offered; after exactly 5 s: offered and abandoned."""
    at = _period().start + timedelta(hours=1)
    rows = [
        {"channel": "phone", "offered_at": at, "ended_at": at + timedelta(seconds=4)},
        {"channel": "phone", "offered_at": at, "ended_at": at + timedelta(seconds=5)},
        {
            "channel": "phone",
            "offered_at": at,
            "answered_at": at + timedelta(seconds=20),
            "ended_at": at + timedelta(seconds=200),
        },
        {
            "channel": "phone",
            "offered_at": at,
            "answered_at": at + timedelta(seconds=21),
            "ended_at": at + timedelta(seconds=200),
        },
    ]
    empty = {"answered_at": None, "ended_at": None}
    with db.connection(write=True) as connection:
        connection.execute(
            insert(Contact.__table__),  # type: ignore[attr-defined]
            [{**empty, **row} for row in rows],
        )
    with db.session(write=False) as session:
        tally = sum(
            (h.tally for h in figures.contact_hours(session, period=_period(), policy=policy)),
            figures.ContactTally(),
        )
    assert (tally.offered, tally.answered, tally.quick) == (3, 2, 1)
    assert tally.manual_answer_rate == kpi.Rate(2, 3)


def test_an_empty_period_has_nothing_to_measure(db: Database, policy: Policy) -> None:
    with db.session(write=False) as session:
        hours = figures.contact_hours(session, period=_period(), policy=policy)
        complaints = figures.complaint_tally(session, period=_period(), policy=policy)
        churn = figures.churn_tally(session, as_of=NOW, policy=policy)
        spots = figures.hot_spots(session, period=_period())
        attention = figures.attention(session, now=NOW)
    assert hours == []
    tally = figures.ContactTally()
    for value in (
        tally.manual_answer_rate,
        tally.vip_answer_rate,
        tally.satisfaction,
        complaints.reply_rate,
        complaints.closure_rate,
        complaints.on_standard,
        complaints.satisfaction,
        churn.member_rate,
        churn.other_rate,
    ):
        assert value is None
    assert spots.total == 0
    assert spots.topics == ()
    assert (attention.overdue, attention.escalated, attention.major, attention.orders) == (
        0,
        0,
        0,
        (),
    )


# --- complaints --------------------------------------------------------------------------


def _complaints(rng: random.Random, period: Period, n: int) -> list[dict[str, object]]:
    rows = []
    for index in range(n):
        created = period.start + timedelta(hours=rng.randrange(-96, 20))
        reply_due = created + timedelta(hours=rng.choice([2, 8, 30]))
        replied = created + timedelta(hours=rng.randrange(1, 40)) if rng.random() < 0.7 else None
        resolution_due = created + timedelta(hours=rng.choice([24, 48, 72]))
        closed = created + timedelta(hours=rng.randrange(2, 90)) if rng.random() < 0.5 else None
        rows.append(
            {
                "id": index + 1,
                "number": f"WO{index + 1:012d}",
                "category": rng.choice(["complaint", "complaint", "fault_report"]),
                "title": "t",
                "description": "d",
                "status": "closed" if closed else "dispatched",
                "reply_due": reply_due,
                "replied_at": replied,
                "resolution_due": resolution_due,
                "closed_at": closed,
                "satisfaction": rng.choice([None, 1, 3, 4, 5]) if closed else None,
                "created_at": created,
                "updated_at": created,
            }
        )
    return rows


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("kind", [PeriodKind.TODAY, PeriodKind.WEEK])
def test_complaint_counts_follow_the_complaint_rules(
    db: Database, policy: Policy, seed: int, kind: PeriodKind
) -> None:
    rng = random.Random(seed)
    period = _period(kind)
    rows = _complaints(rng, period, 200)
    breaches: dict[int, list[datetime]] = {}
    events = []
    for row in rows:
        if rng.random() < 0.3:
            at = row["reply_due"]
            assert isinstance(at, datetime)
            order = int(str(row["id"]))
            breaches[order] = [at]
            events.append(
                {"work_order_id": order, "at": at, "kind": "breach", "ladder_key": f"b{order}"}
            )
            events.append(
                {"work_order_id": order, "at": at, "kind": "warning", "ladder_key": f"w{order}"}
            )
    with db.connection(write=True) as connection:
        connection.execute(insert(WorkOrder.__table__), rows)  # type: ignore[attr-defined]
        connection.execute(insert(WorkOrderEvent.__table__), events)  # type: ignore[attr-defined]
    s, e, as_of = period.start, period.end, period.as_of

    def fact(row: dict[str, object]) -> ComplaintFact:
        mark = row["satisfaction"]
        assert mark is None or isinstance(mark, int)
        return ComplaintFact(
            work_order_id=int(str(row["id"])),
            received_at=row["created_at"],  # type: ignore[arg-type]
            reply_due_at=row["reply_due"],  # type: ignore[arg-type]
            replied_at=row["replied_at"],  # type: ignore[arg-type]
            resolution_due_at=row["resolution_due"],  # type: ignore[arg-type]
            closed_at=row["closed_at"],  # type: ignore[arg-type]
            breaches=len(breaches.get(int(str(row["id"])), [])),
            satisfied=kpi.is_satisfied(mark, policy),
        )

    def within(value: object) -> bool:
        return isinstance(value, datetime) and s <= value < e

    alive = [
        row
        for row in rows
        if row["category"] == "complaint"
        and row["created_at"] < e  # type: ignore[operator]
        and (row["closed_at"] is None or row["closed_at"] >= s)  # type: ignore[operator]
    ]
    reply = [fact(r) for r in alive if within(r["reply_due"]) or within(r["replied_at"])]
    closure = [fact(r) for r in alive if within(r["resolution_due"]) or within(r["closed_at"])]
    standard = [
        fact(r)
        for r in alive
        if any(within(r[key]) for key in ("closed_at", "created_at", "reply_due", "resolution_due"))
    ]
    closed_in = [fact(r) for r in alive if within(r["closed_at"])]
    with db.session(write=False) as session:
        tally = figures.complaint_tally(session, period=period, policy=policy)
    assert tally.reply_rate == kpi.complaint_reply_rate(reply, as_of)
    assert tally.closure_rate == kpi.complaint_closure_rate(closure, as_of)
    assert tally.on_standard == kpi.complaint_on_standard(standard)
    assert tally.satisfaction == kpi.complaint_satisfaction(closed_in)
    assert tally.reply_due
    assert tally.closure_due
    assert tally.standard_counted


# --- churn -------------------------------------------------------------------------------


def test_churn_counts_follow_the_churn_rules(db: Database, policy: Policy) -> None:
    rng = random.Random(7)
    rows = []
    facts = []
    for index in range(300):
        tier = rng.choice(list(Tier))
        since = NOW - timedelta(days=rng.randrange(1, 400))
        last = rng.choice([None, NOW - timedelta(days=rng.randrange(0, 200))])
        if index == 0:  # exactly at the edge of the window: churned
            since, last = NOW - timedelta(days=100), NOW - timedelta(days=60)
        rows.append(
            {
                "id": index + 1,
                "customer_no": f"C{index + 1:09d}",
                "name": "某某",
                "name_spaced": "某 某",
                "name_pinyin": "moumou",
                "name_initials": "mm",
                "id_card_no": "110101199001011234",
                "id_card_rev": "432110109910110011",
                "tier": tier.value,
                "region": "杭州",
                "last_activity_at": last,
                "created_at": since,
            }
        )
        facts.append(CustomerFact(index + 1, tier, since, last))
    with db.connection(write=True) as connection:
        connection.execute(insert(Customer.__table__), rows)  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        tally = figures.churn_tally(session, as_of=NOW, policy=policy)
    assert tally.member_rate == kpi.member_churn_rate(facts, NOW, policy)
    assert tally.other_rate == kpi.other_churn_rate(facts, NOW, policy)
    assert tally.members
    assert tally.others


# --- hot spots and attention -------------------------------------------------------------


def _customer(index: int, region: str) -> dict[str, object]:
    return {
        "id": index,
        "customer_no": f"C{index:09d}",
        "name": "王小明",
        "name_spaced": "王 小 明",
        "name_pinyin": "wangxiaoming",
        "name_initials": "wxm",
        "id_card_no": "110101199001011234",
        "id_card_rev": "432110109910110011",
        "region": region,
        "created_at": NOW - timedelta(days=400),
    }


def test_hot_spots_count_complaints_by_topic_branch_region_and_customer(db: Database) -> None:
    period = _period()
    at = period.start + timedelta(hours=1)
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
            [_customer(1, "杭州"), _customer(2, "宁波"), _customer(3, "宁波")],
        )
        orders = [
            # (customer, branch, topic, category, created)
            (1, 1, "乱扣费", "complaint", at),
            (1, 1, "乱扣费", "complaint", at),
            (1, 1, "网络质量", "complaint", at),
            (2, 2, "乱扣费", "complaint", at),
            (3, 2, "服务态度", "complaint", at),
            (3, 2, "服务态度", "complaint", period.start - timedelta(days=1)),  # before
            (2, 2, "乱扣费", "fault_report", at),  # not a complaint
        ]
        connection.execute(
            insert(WorkOrder.__table__),  # type: ignore[attr-defined]
            [
                {
                    "number": f"WO{i:012d}",
                    "customer_id": customer,
                    "branch_id": branch,
                    "topic": topic,
                    "category": category,
                    "title": "t",
                    "description": "d",
                    "created_at": created,
                    "updated_at": created,
                }
                for i, (customer, branch, topic, category, created) in enumerate(orders)
            ],
        )
    with db.session(write=False) as session:
        spots = figures.hot_spots(session, period=period)
    assert spots.total == 5
    assert [(s.label, s.count) for s in spots.topics] == [
        ("乱扣费", 3),
        ("服务态度", 1),
        ("网络质量", 1),
    ]
    assert spots.topics[0].share_percent == pytest.approx(60.0)
    assert [(s.label, s.count) for s in spots.branches] == [("杭州分公司", 3), ("宁波分公司", 2)]
    assert [(s.label, s.count) for s in spots.regions] == [("杭州", 3), ("宁波", 2)]
    assert [(c.customer_no, c.complaints) for c in spots.complainers] == [("C000000001", 3)]
    assert spots.complainers[0].name_masked != "王小明"  # masked


def test_attention_lists_overdue_escalated_and_major_open_orders(db: Database) -> None:
    """Overdue is the queue's: an open order whose nearest awaited deadline (next_due, kept
    by the sweep) has passed."""
    hour = timedelta(hours=1)
    orders = [
        # number, status, next_due, major, escalation
        ("A-reply-late", "dispatched", NOW - 3 * hour, False, 0),
        ("B-on-time", "dispatched", NOW + hour, False, 0),
        ("C-major", "new", NOW + hour, True, 0),
        ("D-escalated", "dispatched", NOW - hour, False, 2),
        ("E-closed-late", "closed", None, True, 3),
        ("F-no-deadline", "replied", None, False, 0),
        ("G-resolution", "callback", NOW - 5 * hour, False, 0),
        ("H-dispatch", "new", NOW - 2 * hour, False, 0),
        ("I-major-escalated", "dispatched", NOW + 2 * hour, True, 1),
    ]
    with db.connection(write=True) as connection:
        connection.execute(
            insert(WorkOrder.__table__),  # type: ignore[attr-defined]
            [
                {
                    "number": number,
                    "category": "complaint",
                    "title": "t",
                    "description": "d",
                    "status": status,
                    "is_major": major,
                    "escalation_level": level,
                    "next_due": due,
                    "created_at": NOW - 24 * hour,
                    "updated_at": NOW,
                }
                for number, status, due, major, level in orders
            ],
        )
    with db.session(write=False) as session:
        found = figures.attention(session, now=NOW)
        few = figures.attention(session, now=NOW, limit=4)
    assert (found.overdue, found.escalated, found.major) == (4, 3, 2)
    assert [order.number for order in found.orders] == [
        "I-major-escalated",
        "C-major",
        "D-escalated",
        "G-resolution",
        "A-reply-late",
        "H-dispatch",
    ]
    assert [order.number for order in few.orders] == [
        "I-major-escalated",
        "C-major",
        "D-escalated",
        "G-resolution",
    ]
    by_number = {order.number: order for order in found.orders}
    assert by_number["A-reply-late"].first_missed == NOW - 3 * hour
    assert by_number["C-major"].overdue is False
    assert by_number["C-major"].first_missed is None
    assert by_number["D-escalated"].overdue is True


# --- summaries ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [4, 5])
def test_the_hourly_summary_gives_the_counts_of_the_contacts(
    db: Database, policy: Policy, seed: int
) -> None:
    """Refreshed from the facts, the summary and the contacts give the same figures, for
    periods wholly before its end and running past it."""
    rng = random.Random(seed)
    start = NOW - timedelta(days=8)
    rows = [
        {**row, "agent_id": None}
        for day in range(9)
        for row in _contact_rows(rng, start + timedelta(days=day), 60)
    ]
    for index, row in enumerate(rows):
        row["id"] = index + 1
    with db.connection(write=True) as connection:
        connection.execute(insert(Contact.__table__), rows)  # type: ignore[attr-defined]
    periods = [_period(PeriodKind.WEEK), _period(PeriodKind.TODAY), _period(PeriodKind.MONTH)]
    with db.session(write=False) as session:
        live = [figures.contact_hours(session, period=p, policy=policy) for p in periods]
    report = summaries.refresh_summaries(db, policy=policy, now=NOW + timedelta(minutes=30))
    assert report.rebuilt_from is None  # the first refresh rebuilds everything
    assert report.through == NOW
    assert report.churn_snapshot
    with db.session(write=False) as session:
        assert summaries.summary_state(session.connection(), policy).usable() == NOW
        summed = [figures.contact_hours(session, period=p, policy=policy) for p in periods]

    def total(hours: list[figures.HourTally]) -> figures.ContactTally:
        return sum((h.tally for h in hours), figures.ContactTally())

    for before, after in zip(live, summed, strict=True):
        assert total(after) == total(before)
        by_hour_before = {(h.hour, h.request_type): h.tally for h in before}
        by_hour_after = {(h.hour, h.request_type): h.tally for h in after}
        assert by_hour_after == by_hour_before
    # a later refresh counts again from the trailing hours before the last one's end (and
    # the older hours with a contact still open), and a changed policy rebuilds all
    again = summaries.refresh_summaries(db, policy=policy, now=NOW + timedelta(hours=2))
    assert again.rebuilt_from == NOW - summaries.TRAILING
    changed = policy.model_copy(
        update={"kpi": policy.kpi.model_copy(update={"short_abandon_seconds": 0})}
    )
    with db.session(write=False) as session:
        assert summaries.summary_state(session.connection(), changed).usable() is None
    assert summaries.refresh_summaries(db, policy=changed).rebuilt_from is None


def test_the_running_dashboard_takes_churn_from_the_hourly_snapshot(
    db: Database, policy: Policy
) -> None:
    summaries.refresh_summaries(db, policy=policy, now=NOW)
    with db.connection(write=True) as connection:  # a customer arrives after the snapshot
        connection.execute(insert(Customer.__table__), [_customer(1, "杭州")])
    with db.session(write=False) as session:
        running, as_of = figures.live_churn(session, period=_period(), policy=policy)
        past = period_of(PeriodKind.DAY, NOW, SHANGHAI, first=NOW.date() - timedelta(days=1))
        missing = figures.live_churn(session, period=past, policy=policy)
    assert as_of == NOW
    assert running is not None
    assert running.others == 0
    # no snapshot in the hour before yesterday's end: no figure, and no count of every customer
    assert missing == (None, None)


def test_churn_without_a_snapshot_is_not_counted_and_says_why(db: Database, policy: Policy) -> None:
    """A refresh never counts churn over every customer (seconds at millions): with no
    snapshot in the hour before the period's as-of (none yet, or the refresh stopped an hour
    ago) the tiles have no value and give the reason."""
    from sqlalchemy import event

    from desk.rules.permissions import Actor
    from desk.rules.vocab import Role
    from desk.services.dashboard import CHURN_NOT_COUNTED, dashboard

    with db.connection(write=True) as connection:
        connection.execute(insert(Customer.__table__), [_customer(1, "杭州")])
    summaries.refresh_summaries(db, policy=policy, now=NOW - timedelta(hours=2))  # stale now
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    actor = Actor(user_id=0, login="t", role=Role.ADMIN)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        data = dashboard(db, actor=actor, policy=policy, kind=PeriodKind.TODAY)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert data.churn is None
    assert data.churn_as_of is None
    churn_tiles = [tile for tile in data.tiles if tile.key.startswith("churn_")]
    assert [tile.reason for tile in churn_tiles] == [CHURN_NOT_COUNTED] * 2
    assert all(tile.value is None for tile in churn_tiles)
    assert not any("last_activity_at" in statement for statement in statements)
    # once the refresh runs again, the tiles have their figures
    summaries.refresh_summaries(db, policy=policy)
    data = dashboard(db, actor=actor, policy=policy, kind=PeriodKind.TODAY)
    assert data.churn is not None
    assert data.churn.others == 1
    assert all(tile.reason is None for tile in data.tiles)


def test_churn_snapshots_at_midnight_are_kept_for_past_periods(
    db: Database, policy: Policy
) -> None:
    midnight = datetime(2026, 10, 28, 16, 0, tzinfo=UTC)  # 29 Oct 00:00 in Shanghai
    summaries.refresh_summaries(db, policy=policy, now=midnight + timedelta(minutes=20))
    summaries.refresh_summaries(db, policy=policy, now=midnight + timedelta(hours=3))
    summaries.refresh_summaries(db, policy=policy, now=NOW)  # days later: old hours go
    day = period_of(PeriodKind.DAY, NOW, SHANGHAI, first=midnight.astimezone(SHANGHAI).date())
    before = period_of(PeriodKind.DAY, NOW, SHANGHAI, first=day.start.date() - timedelta(days=1))
    with db.session(write=False) as session:
        kept = figures.live_churn(session, period=before, policy=policy)  # ends at midnight
        gone = figures.live_churn(session, period=day, policy=policy)  # ends at the next one
    assert kept[1] == midnight
    assert gone == (None, None)
