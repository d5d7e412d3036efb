"""The routing proposal for a new work order: department kind by topic, else request type;
urgent for the policy's channels, tiers, big customers and topics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desk.rules.policy import load_policy
from desk.rules.routing import propose
from desk.rules.vocab import Channel, DepartmentKind, Priority, RequestType, Tier

POLICY = load_policy()


@pytest.mark.parametrize(
    ("category", "topic", "kind"),
    [
        (RequestType.COMPLAINT, "服务态度", DepartmentKind.BRANCH),
        (RequestType.COMPLAINT, "乱扣费", DepartmentKind.BILLING),
        (RequestType.FAULT_REPORT, None, DepartmentKind.NETWORK),
        (RequestType.SUGGESTION, "产品建议", DepartmentKind.MARKETING),
        (RequestType.SUGGESTION, " 客服中心建议 ", DepartmentKind.CENTER),
    ],
)
def test_department_by_topic_else_request_type(
    category: RequestType, topic: str | None, kind: DepartmentKind
) -> None:
    proposal = propose(category, POLICY, topic=topic)
    assert proposal.department_kind is kind
    assert proposal.to_shift_leads is (kind is DepartmentKind.CENTER)


@pytest.mark.parametrize(
    ("kwargs", "because"),
    [
        ({}, ()),
        ({"channel": Channel.VIP_LINE}, ("channel",)),
        ({"tier": Tier.DIAMOND}, ("tier",)),
        ({"big_customer_class": "A"}, ("big_customer",)),
        ({"topic": "宽带无法上网", "tier": Tier.GOLD}, ("topic",)),
    ],
)
def test_urgent_when_the_policy_says(kwargs: dict[str, object], because: tuple[str, ...]) -> None:
    proposal = propose(RequestType.FAULT_REPORT, POLICY, **kwargs)  # type: ignore[arg-type]
    assert proposal.urgent_because == because
    assert proposal.priority is (Priority.URGENT if because else Priority.NORMAL)


@given(
    st.sampled_from(list(RequestType)),
    st.text(max_size=8),
    st.sampled_from(list(Channel)),
    st.sampled_from(list(Tier)),
)
def test_every_request_type_has_a_department(
    category: RequestType, topic: str, channel: Channel, tier: Tier
) -> None:
    proposal = propose(category, POLICY, topic=topic, channel=channel, tier=tier)
    assert isinstance(proposal.department_kind, DepartmentKind)
