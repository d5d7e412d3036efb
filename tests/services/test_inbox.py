"""Messages and web forms on SQLite and PostgreSQL: arrival with the response clock and the
sender's customer, import all-or-none and once per gateway id, matching, turning a message
into a work order, answering, discarding, two leads on one message, and the figures per
channel computed from the rows.

The test clock stands at Monday 2026-11-02 10:00 in Shanghai.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, PermissionDenied
from desk.models import InboxMessage
from desk.rules.inbox import MessageFact, online_service_figures
from desk.rules.vocab import (
    Channel,
    InboxChannel,
    InboxStatus,
    Priority,
    RequestType,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.services import changes
from desk.services.inbox import (
    MessageChanged,
    MessageHandled,
    NewMessage,
    add_messages,
    answer_message,
    convert_message,
    discard_message,
    inbox_page,
    match_message,
    message,
    parse_messages,
)
from desk.services.queue import queue_figures
from desk.services.work_orders import work_order_detail
from tests.floor_world import POLICY, Floor, build_floor


@pytest.fixture
def floor(db: Database) -> Floor:
    return build_floor(db)


def add(db: Database, floor: Floor, **values: object) -> int:
    row = {"channel": InboxChannel.WEB, "sender": "13800000001", "text": "宽带断网三天了"}
    row.update(values)
    report = add_messages(
        db,
        actor=floor.actor("admin1"),
        messages=[NewMessage.model_validate(row)],
        policy=POLICY,
    )
    return report.added[0]


def test_a_message_arrives_with_its_clock_and_its_customer(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    before = changes.counters(db, [changes.Topic.INBOX])[changes.Topic.INBOX]
    known = add(db, floor)
    stranger = add(db, floor, sender="someone@example.com", channel=InboxChannel.EMAIL)
    lead = floor.actor("lead1")
    first = message(db, actor=lead, message_id=known)
    assert first.customer_id == floor.customers[0]  # the sender's phone is the customer's
    assert first.customer_name_masked == "张**"
    assert first.response_due == clock.now() + timedelta(minutes=240)  # web: 4 h, centre
    assert first.status is InboxStatus.NEW
    assert message(db, actor=lead, message_id=stranger).customer_id is None
    after = changes.counters(db, [changes.Topic.INBOX])[changes.Topic.INBOX]
    assert after == before + 2  # one per arrival
    page = inbox_page(db, actor=lead)
    assert [row.id for row in page.rows] == [known, stranger]  # e-mail is due in 8 h
    figures = queue_figures(db, actor=lead, policy=POLICY)
    assert figures.inbox_waiting == 2
    assert figures.inbox_overdue == 0
    clock.advance(timedelta(hours=5))
    assert queue_figures(db, actor=lead, policy=POLICY).inbox_overdue == 1


def test_an_import_is_all_or_none_and_once_per_gateway_id(db: Database, floor: Floor) -> None:
    rows = [
        {"channel": "wechat", "sender": "13800000002", "text": "话费不对", "external_ref": "w1"},
        {"channel": "qq", "sender": "12345", "text": "查询套餐", "external_ref": "q1"},
    ]
    admin = floor.actor("admin1")
    first = add_messages(db, actor=admin, messages=parse_messages(rows), policy=POLICY)
    assert len(first.added) == 2
    again = add_messages(db, actor=admin, messages=parse_messages(rows), policy=POLICY)
    assert again.added == ()
    assert again.duplicates == 2
    with pytest.raises(InvalidInput) as error:
        parse_messages([rows[0], {"channel": "fax", "sender": "1", "text": "x"}])
    assert error.value.field == "channel"
    assert "row 2" in error.value.message
    with pytest.raises(InvalidInput) as error:
        parse_messages([{"channel": "web", "sender": "1", "text": ""}])
    assert error.value.field == "text"
    with pytest.raises(InvalidInput) as error:
        parse_messages(
            [{"channel": "web", "sender": "1", "text": "x", "received_at": "2026-11-02T10:00"}]
        )
    assert error.value.field == "received_at"
    stored = db.run(lambda s: len(s.exec(select(InboxMessage)).all()), write=False)
    assert stored == 2


def test_only_admins_add_and_only_leads_handle(db: Database, floor: Floor) -> None:
    with pytest.raises(PermissionDenied):
        add_messages(
            db,
            actor=floor.actor("lead1"),
            messages=parse_messages([{"channel": "web", "sender": "1", "text": "x"}]),
            policy=POLICY,
        )
    with pytest.raises(PermissionDenied):
        inbox_page(db, actor=floor.actor("agent1"))


def test_a_lead_turns_a_message_into_a_work_order(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    stranger = add(db, floor, sender="13900000009", channel=InboxChannel.VOICEMAIL)
    lead = floor.actor("lead1")
    with pytest.raises(InvalidInput) as error:
        match_message(db, actor=lead, message_id=stranger, version=1, customer="C999")
    assert error.value.field == "customer"
    matched = match_message(db, actor=lead, message_id=stranger, version=1, customer="C000000002")
    assert matched.customer_id == floor.customers[1]
    clock.advance(timedelta(minutes=30))
    view = convert_message(
        db,
        actor=lead,
        message_id=stranger,
        version=matched.version,
        category=RequestType.FAULT_REPORT,
        title="语音留言:宽带断网",
        description=None,
        priority=Priority.NORMAL,
        department_id=floor.network,
        policy=POLICY,
    )
    assert view.status is WorkOrderStatus.NEW
    detail = work_order_detail(db, actor=lead, work_order_id=view.id, policy=POLICY)
    assert detail.source is WorkOrderSource.VOICE_MESSAGE
    assert detail.channel is Channel.PHONE
    assert detail.description == "宽带断网三天了"  # the message's own words
    assert detail.message is not None
    assert detail.message.sender == "13900000009"
    assert detail.order.customer_id == floor.customers[1]
    handled = message(db, actor=lead, message_id=stranger)
    assert handled.status is InboxStatus.CONVERTED
    assert handled.work_order_id == view.id
    assert handled.first_response_at == clock.now()
    assert handled.handled_by_name == "王班长"
    assert inbox_page(db, actor=lead).rows == ()


def test_answer_discard_and_two_leads_on_one_message(
    db: Database, floor: Floor, clock: FixedClock
) -> None:
    first = add(db, floor)
    second = add(db, floor, text="广告")
    lead1, lead2 = floor.actor("lead1"), floor.actor("lead2")
    clock.advance(timedelta(minutes=20))
    answered = answer_message(
        db, actor=lead1, message_id=first, version=1, answer="已为您查询,故障已修复。"
    )
    assert answered.status is InboxStatus.ANSWERED
    assert answered.answered_at == clock.now()
    assert answered.first_response_at == clock.now()
    with pytest.raises(MessageChanged) as error:  # lead2 read version 1 too
        discard_message(db, actor=lead2, message_id=first, version=1, reason="重复")
    assert error.value.by == "王班长"
    with pytest.raises(MessageHandled):
        answer_message(db, actor=lead2, message_id=first, version=answered.version, answer="x")
    with pytest.raises(InvalidInput) as reason:
        discard_message(db, actor=lead2, message_id=second, version=1, reason=" ")
    assert reason.value.field == "reason"
    discarded = discard_message(db, actor=lead2, message_id=second, version=1, reason="广告")
    assert discarded.status is InboxStatus.DISCARDED
    assert discarded.first_response_at is None  # discarding is no response to the customer


def test_online_service_figures_per_channel(clock: FixedClock) -> None:
    t0 = clock.now()
    minutes = timedelta(minutes=1)
    facts = [
        MessageFact(InboxChannel.WEB, t0, t0 + 240 * minutes, t0 + 30 * minutes, t0 + 30 * minutes),
        MessageFact(InboxChannel.WEB, t0, t0 + 240 * minutes, t0 + 300 * minutes, None),
        MessageFact(InboxChannel.WEB, t0, t0 + 240 * minutes, None, None),
        MessageFact(InboxChannel.QQ, t0, t0 + 60 * minutes, t0 + 10 * minutes, t0 + 20 * minutes),
    ]
    figures = online_service_figures(facts)
    web = figures[InboxChannel.WEB]
    assert (web.messages, web.responded, web.on_time) == (3, 2, 1)
    assert web.mean_first_response == 165 * minutes
    assert web.mean_reply == 30 * minutes
    qq = figures[InboxChannel.QQ]
    assert (qq.mean_first_response, qq.mean_reply) == (10 * minutes, 20 * minutes)
