"""Routing: the priority and the department proposed for a new work order.

:func:`propose` reads the policy's ``[routing]`` section (see
:class:`~desk.rules.policy.RoutingPolicy`): the department's *kind* comes from the topic when
the policy lists it, else from the request type; the priority is urgent for the channels,
tiers, big customers and topics the policy names. The agent sees the proposal in the
work-order form and may change it; which department of that kind is meant (the customer's own
branch office for ``branch``) is the services' business, since it needs the database.

A suggestion about the service center itself goes to the center (the shift leads): its topic
is routed to ``center`` by the shipped policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from desk.rules.policy import Policy
from desk.rules.vocab import Channel, DepartmentKind, Priority, RequestType, Tier


@dataclass(frozen=True, slots=True)
class RoutingProposal:
    priority: Priority
    department_kind: DepartmentKind
    urgent_because: tuple[str, ...]  # "channel", "tier", "big_customer", "topic"
    by_topic: bool  # the topic, not the request type, decided the department

    @property
    def to_shift_leads(self) -> bool:
        """The center's own department: the shift leads handle it."""
        return self.department_kind is DepartmentKind.CENTER


def normalise_topic(topic: str | None) -> str:
    return (topic or "").strip()


def propose(
    category: RequestType,
    policy: Policy,
    *,
    topic: str | None = None,
    channel: Channel = Channel.PHONE,
    tier: Tier | None = None,
    big_customer_class: str | None = None,
) -> RoutingProposal:
    """The proposed priority and department kind for a new work order."""
    rules = policy.routing
    key = normalise_topic(topic)
    by_topic = key in rules.by_topic
    kind = rules.by_topic[key] if by_topic else rules.by_request_type[category]
    because: list[str] = []
    if channel in rules.urgent_channels:
        because.append("channel")
    if tier is not None and tier in rules.urgent_tiers:
        because.append("tier")
    if rules.urgent_big_customer and big_customer_class:
        because.append("big_customer")
    if key and key in rules.urgent_topics:
        because.append("topic")
    priority = Priority.URGENT if because else Priority.NORMAL
    return RoutingProposal(priority, kind, tuple(because), by_topic)
