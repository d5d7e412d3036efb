"""Every figure on small cases computed by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from desk.rules.kpi import (
    ComplaintFact,
    ContactFact,
    CustomerFact,
    Rate,
    WorkOrderFact,
    complaint_closure_rate,
    complaint_on_standard,
    complaint_reply_rate,
    complaint_satisfaction,
    counts_as_offered,
    first_contact_resolution,
    has_churned,
    is_member,
    manual_answer_rate,
    member_churn_rate,
    other_churn_rate,
    rate,
    redispatch_rate,
    satisfaction,
    service_level,
    tier_statistics,
    vip_answer_rate,
)
from desk.rules.policy import Policy
from desk.rules.vocab import Channel, ContactOutcome, Direction, RequestType, Tier
from tests.rules.conftest import sh

T = sh(2026, 11, 2, 10)
IN = Direction.INBOUND


def call(
    contact_id: int,
    *,
    channel: Channel = Channel.PHONE,
    answer_after: int | None = None,
    hang_up_after: int | None = None,
    direction: Direction = IN,
    fault: bool = False,
) -> ContactFact:
    answered = T + timedelta(seconds=answer_after) if answer_after is not None else None
    ended = T + timedelta(seconds=hang_up_after) if hang_up_after is not None else None
    return ContactFact(
        contact_id=contact_id,
        channel=channel,
        direction=direction,
        offered_at=T,
        answered_at=answered,
        ended_at=ended,
        in_fault_period=fault,
    )


CALLS = [
    call(1, answer_after=10, hang_up_after=200),  # offered, answered within 20 s
    call(2, answer_after=30, hang_up_after=300),  # offered, answered late
    call(3, hang_up_after=3),  # short abandon: not offered
    call(4, hang_up_after=40),  # offered, abandoned
    call(5, channel=Channel.VIP_LINE, answer_after=5, hang_up_after=100),  # offered, answered
    call(6, channel=Channel.VIP_LINE, hang_up_after=10),  # offered, abandoned
    call(7, channel=Channel.CHAT, answer_after=1),  # not a voice channel
    call(8, direction=Direction.OUTBOUND, answer_after=3),  # outbound
    call(9, hang_up_after=60, fault=True),  # in a fault period
    call(10, hang_up_after=5),  # waited exactly 5 s: not a short abandon
]


def test_offered(policy: Policy) -> None:
    assert [c.contact_id for c in CALLS if counts_as_offered(c, policy)] == [1, 2, 4, 5, 6, 10]


def test_manual_answer_rate(policy: Policy) -> None:
    assert manual_answer_rate(CALLS, policy) == Rate(3, 6)
    result = manual_answer_rate(CALLS, policy)
    assert result is not None
    assert result.percent == 50.0
    assert not result.meets(policy.targets.manual_answer_rate)


def test_vip_answer_rate(policy: Policy) -> None:
    assert vip_answer_rate(CALLS, policy) == Rate(1, 2)


def test_service_level(policy: Policy) -> None:
    assert service_level(CALLS, policy) == Rate(2, 6)


def _contact(
    contact_id: int,
    customer: int | None,
    day: int,
    request_type: RequestType,
    outcome: ContactOutcome | None,
    *,
    answered: bool = True,
) -> ContactFact:
    offered = T + timedelta(days=day)
    return ContactFact(
        contact_id=contact_id,
        channel=Channel.PHONE,
        direction=IN,
        offered_at=offered,
        answered_at=offered + timedelta(seconds=5) if answered else None,
        customer_id=customer,
        request_type=request_type,
        outcome=outcome,
    )


def test_first_contact_resolution(policy: Policy) -> None:
    settled = ContactOutcome.SETTLED
    contacts = [
        _contact(1, 1, 0, RequestType.FAULT_REPORT, settled),  # called again on day 3
        _contact(2, 1, 3, RequestType.FAULT_REPORT, settled),  # resolved
        _contact(3, 2, 0, RequestType.BILL_INQUIRY, settled),  # resolved (day 1 is another type)
        _contact(4, 2, 1, RequestType.COMPLAINT, ContactOutcome.WORK_ORDER),  # not settled
        _contact(5, 3, 0, RequestType.CONSULTATION, settled),  # resolved (day 8 is too late)
        _contact(6, 3, 8, RequestType.CONSULTATION, None, answered=False),  # not counted
        _contact(7, None, 0, RequestType.CONSULTATION, settled),  # no customer: not counted
    ]
    assert first_contact_resolution(contacts, policy) == Rate(3, 5)


def test_satisfaction() -> None:
    marks = [True, True, False, None]
    contacts = [
        ContactFact(i, Channel.PHONE, IN, T, answered_at=T, satisfied=mark)
        for i, mark in enumerate(marks)
    ]
    assert satisfaction(contacts) == Rate(2, 3)


DAY = timedelta(days=1)
COMPLAINTS = [
    ComplaintFact(
        1, T - 6 * DAY, T - 2 * DAY, T - 3 * DAY, T - DAY, T - DAY - timedelta(hours=1), 0, True
    ),
    ComplaintFact(2, T - 2 * DAY, T - DAY, None, T + DAY, None, 1, None),
    ComplaintFact(3, T - timedelta(hours=2), T + DAY, None, T + 3 * DAY, None, 0, None),
    ComplaintFact(4, T - 8 * DAY, T - 5 * DAY, T - 4 * DAY, T - 2 * DAY, T - DAY, 2, False),
]


def test_complaint_figures() -> None:
    assert complaint_reply_rate(COMPLAINTS, T) == Rate(2, 3)
    assert complaint_on_standard(COMPLAINTS) == Rate(1, 3)
    assert complaint_closure_rate(COMPLAINTS, T) == Rate(2, 2)
    assert complaint_satisfaction(COMPLAINTS) == Rate(1, 2)


def test_redispatch_rate() -> None:
    orders = [
        WorkOrderFact(1, RequestType.COMPLAINT, T, replies=2, redispatches=1),
        WorkOrderFact(2, RequestType.FAULT_REPORT, T, replies=1),
        WorkOrderFact(3, RequestType.FAULT_REPORT, T),
    ]
    assert redispatch_rate(orders) == Rate(1, 2)


def _customer(
    customer_id: int, tier: Tier, since_days: int, last_days: int | None, spend: int
) -> CustomerFact:
    last: datetime | None = T - timedelta(days=last_days) if last_days is not None else None
    return CustomerFact(customer_id, tier, T - timedelta(days=since_days), last, spend)


CUSTOMERS = [
    _customer(1, Tier.GOLD, 400, 10, 10_000),  # active member
    _customer(2, Tier.SILVER, 400, 61, 5_000),  # churned member
    _customer(3, Tier.DIAMOND, 30, None, 50_000),  # too new to have churned
    _customer(4, Tier.PLATINUM, 100, None, 20_000),  # churned member, never active
    _customer(5, Tier.STANDARD, 400, 1, 3_000),  # active
    _customer(6, Tier.STANDARD, 200, 60, 1_000),  # exactly 60 days quiet: churned
]


def test_churn(policy: Policy) -> None:
    assert is_member(Tier.GOLD, policy)
    assert not is_member(Tier.STANDARD, policy)
    assert has_churned(CUSTOMERS[5], T, policy)
    assert not has_churned(CUSTOMERS[0], T, policy)
    member = member_churn_rate(CUSTOMERS, T, policy)
    assert member == Rate(2, 3)
    assert member is not None
    assert not member.within(policy.targets.churn_member_max)
    other = other_churn_rate(CUSTOMERS, T, policy)
    assert other == Rate(1, 2)


def test_tier_statistics() -> None:
    stats = tier_statistics(CUSTOMERS)
    assert set(stats) == set(Tier)
    assert stats[Tier.STANDARD].count == 2
    assert stats[Tier.STANDARD].average_spend_cents == 2_000
    assert stats[Tier.STANDARD].share_percent == pytest.approx(100 / 3)
    assert stats[Tier.DIAMOND].average_spend_cents == 50_000
    assert sum(stat.count for stat in stats.values()) == 6
    empty = tier_statistics([])
    assert empty[Tier.GOLD] == type(empty[Tier.GOLD])(Tier.GOLD, 0, None, None)


def test_nothing_to_measure_is_none_not_zero(policy: Policy) -> None:
    assert manual_answer_rate([], policy) is None
    assert vip_answer_rate(CALLS[:4], policy) is None
    assert service_level([call(3, hang_up_after=1)], policy) is None
    assert first_contact_resolution([], policy) is None
    assert satisfaction([]) is None
    assert complaint_satisfaction([]) is None
    assert complaint_reply_rate(COMPLAINTS[2:3], T) is None
    assert complaint_on_standard(COMPLAINTS[2:3]) is None
    assert complaint_closure_rate([], T) is None
    assert redispatch_rate([]) is None
    assert member_churn_rate([], T, policy) is None
    assert other_churn_rate(CUSTOMERS[:4], T, policy) is None
    assert rate(0, 0) is None
    assert rate(0, 4) == Rate(0, 4)


def test_rate_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="not a rate"):
        Rate(1, 0)
    with pytest.raises(ValueError, match="not a rate"):
        Rate(5, 4)
    assert Rate(17, 20).meets(85)
    assert Rate(1, 5).within(20)
