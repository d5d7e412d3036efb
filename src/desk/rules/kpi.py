"""The center's figures, one function each, with the definition in its docstring.

Every figure is computed from plain facts the services build from stored events
(:class:`ContactFact`, :class:`WorkOrderFact`, :class:`ComplaintFact`, :class:`CustomerFact`),
never from hand-kept counters. A rate is a :class:`Rate` (numerator, denominator, percent);
a rate whose denominator would be 0 is ``None``, not 0: nothing to measure is not a failure.
Parameters come from the policy (:class:`~desk.rules.policy.KpiPolicy`); targets from
:class:`~desk.rules.policy.TargetsPolicy`.

The caller chooses the period by choosing the facts (e.g. contacts offered today); where a
definition looks ahead (first-contact resolution) or needs "as of", that is a parameter.

**At scale** the services do not load facts: they count them in SQL and hand the counts to
the same definitions here (:func:`rate`, :func:`tier_statistics_from`, :func:`standing`).
Each figure's SQL counts exactly the facts its function here counts; the service tests
prove it by putting hand-built facts in a database and comparing both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from desk.rules.policy import Policy
from desk.rules.vocab import BigCustomerClass, Channel, ContactOutcome, Direction, RequestType, Tier


@dataclass(frozen=True)
class Rate:
    """``numerator`` of ``denominator`` (always > 0), and as a percentage."""

    numerator: int
    denominator: int

    def __post_init__(self) -> None:
        if self.denominator <= 0 or not 0 <= self.numerator <= self.denominator:
            raise ValueError(f"not a rate: {self.numerator}/{self.denominator}")

    @property
    def percent(self) -> float:
        return 100.0 * self.numerator / self.denominator

    def meets(self, target_percent: float) -> bool:
        """At least the target (for "≥" targets)."""
        return self.percent >= target_percent

    def within(self, limit_percent: float) -> bool:
        """At most the limit (for "≤" targets such as churn)."""
        return self.percent <= limit_percent


def rate(numerator: int, denominator: int) -> Rate | None:
    """A :class:`Rate`, or None when there is nothing to measure (denominator 0)."""
    return Rate(numerator, denominator) if denominator > 0 else None


# --- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactFact:
    """One contact as the figures see it.

    ``offered_at`` is when it reached the queue, ``answered_at`` when an agent took it (None
    if never), ``ended_at`` when it ended (for an abandoned call: when the caller hung up).
    ``satisfied`` is the caller's mark (None: no mark). ``in_fault_period`` marks contacts
    offered during a declared fault period (network outage), excluded from answer rates.
    """

    contact_id: int
    channel: Channel
    direction: Direction
    offered_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    customer_id: int | None = None
    request_type: RequestType | None = None
    outcome: ContactOutcome | None = None
    satisfied: bool | None = None
    in_fault_period: bool = False


@dataclass(frozen=True)
class WorkOrderFact:
    """One work order: how many replies the department posted and how many the lead
    rejected (each rejection is a re-dispatch, 再次派单)."""

    work_order_id: int
    category: RequestType
    created_at: datetime
    replies: int = 0
    redispatches: int = 0
    closed_at: datetime | None = None


@dataclass(frozen=True)
class ComplaintFact:
    """One complaint work order: its reply and resolution deadlines and when they were
    met, how many breach events its ladder holds, and the customer's satisfaction at
    callback (None: not asked or not reached)."""

    work_order_id: int
    received_at: datetime
    reply_due_at: datetime | None = None
    replied_at: datetime | None = None
    resolution_due_at: datetime | None = None
    closed_at: datetime | None = None
    breaches: int = 0
    satisfied: bool | None = None


@dataclass(frozen=True)
class CustomerFact:
    """One customer: tier, since when a customer, the last customer-driven activity
    (inbound contact, payment, service use; None if never) and average monthly spend."""

    customer_id: int
    tier: Tier
    since: datetime
    last_activity_at: datetime | None = None
    monthly_spend_cents: int = 0


# --- contacts --------------------------------------------------------------------------------


def counts_as_offered(contact: ContactFact, policy: Policy) -> bool:
    """Offered to agents for the answer rates: an inbound contact on a voice channel
    (``kpi.voice_channels``), outside a fault period, and not a short abandon (a call
    never answered whose caller hung up within ``kpi.short_abandon_seconds``)."""
    if contact.direction is not Direction.INBOUND or contact.in_fault_period:
        return False
    if contact.channel not in policy.kpi.voice_channels:
        return False
    if contact.answered_at is None and contact.ended_at is not None:
        waited = contact.ended_at - contact.offered_at
        if waited < timedelta(seconds=policy.kpi.short_abandon_seconds):
            return False
    return True


def _answer_rate(
    contacts: Iterable[ContactFact], policy: Policy, channel: Channel | None
) -> Rate | None:
    offered = answered = 0
    for contact in contacts:
        if channel is not None and contact.channel is not channel:
            continue
        if counts_as_offered(contact, policy):
            offered += 1
            answered += contact.answered_at is not None
    return rate(answered, offered)


def manual_answer_rate(contacts: Iterable[ContactFact], policy: Policy) -> Rate | None:
    """人工接通率: contacts answered by an agent ÷ contacts offered (:func:`counts_as_offered`:
    inbound, voice channels, outside fault periods, short abandons excluded)."""
    return _answer_rate(contacts, policy, None)


def vip_answer_rate(contacts: Iterable[ContactFact], policy: Policy) -> Rate | None:
    """VIP line answer rate: the manual answer rate over the VIP line only."""
    return _answer_rate(contacts, policy, Channel.VIP_LINE)


def service_level(contacts: Iterable[ContactFact], policy: Policy) -> Rate | None:
    """Service level: contacts answered within ``kpi.service_level_seconds`` of being
    offered ÷ contacts offered (same offered set as the manual answer rate)."""
    limit = timedelta(seconds=policy.kpi.service_level_seconds)
    offered = quick = 0
    for contact in contacts:
        if counts_as_offered(contact, policy):
            offered += 1
            answered = contact.answered_at
            quick += answered is not None and answered - contact.offered_at <= limit
    return rate(quick, offered)


def first_contact_resolution(contacts: Iterable[ContactFact], policy: Policy) -> Rate | None:
    """First-contact resolution (一次解决率): of the answered inbound contacts of a known
    customer with a request type, those settled on the call (outcome ``settled``) after which
    the same customer did not contact the center again about the same request type within
    ``kpi.fcr_window_days``.

    Give the contacts of the period *and* those of the window after it: later contacts only
    serve as repeats.
    """
    window = timedelta(days=policy.kpi.fcr_window_days)
    items = list(contacts)
    by_matter: dict[tuple[int, RequestType], list[datetime]] = defaultdict(list)
    for contact in items:
        if (
            contact.direction is Direction.INBOUND
            and contact.customer_id is not None
            and contact.request_type is not None
        ):
            by_matter[(contact.customer_id, contact.request_type)].append(contact.offered_at)
    for times in by_matter.values():
        times.sort()
    counted = resolved = 0
    for contact in items:
        if (
            contact.direction is not Direction.INBOUND
            or contact.answered_at is None
            or contact.customer_id is None
            or contact.request_type is None
        ):
            continue
        counted += 1
        if contact.outcome is not ContactOutcome.SETTLED:
            continue
        times = by_matter[(contact.customer_id, contact.request_type)]
        again = any(contact.offered_at < when <= contact.offered_at + window for when in times)
        resolved += not again
    return rate(resolved, counted)


def satisfaction(contacts: Iterable[ContactFact]) -> Rate | None:
    """Customer satisfaction (满意度): contacts marked satisfied ÷ contacts with a mark."""
    marked = happy = 0
    for contact in contacts:
        if contact.satisfied is not None:
            marked += 1
            happy += contact.satisfied
    return rate(happy, marked)


# --- complaints and work orders --------------------------------------------------------------


def complaint_satisfaction(complaints: Iterable[ComplaintFact]) -> Rate | None:
    """Complaint satisfaction: complaints whose customer was satisfied at callback ÷
    complaints with an answer at callback."""
    asked = happy = 0
    for complaint in complaints:
        if complaint.satisfied is not None:
            asked += 1
            happy += complaint.satisfied
    return rate(happy, asked)


def complaint_reply_rate(complaints: Iterable[ComplaintFact], as_of: datetime) -> Rate | None:
    """Complaint reply rate (回复率): complaints the department replied to ÷ complaints that
    were replied to or whose reply deadline passed by ``as_of`` (complaints still within their
    reply time are not counted either way)."""
    due = replied = 0
    for complaint in complaints:
        has_reply = complaint.replied_at is not None and complaint.replied_at <= as_of
        overdue = complaint.reply_due_at is not None and complaint.reply_due_at <= as_of
        if has_reply or overdue:
            due += 1
            replied += has_reply
    return rate(replied, due)


def complaint_on_standard(complaints: Iterable[ComplaintFact]) -> Rate | None:
    """Complaint handling on standard (投诉规范率): complaints closed with every ladder step on
    time (no breach event) ÷ complaints closed or already off standard (a breach recorded)."""
    counted = clean = 0
    for complaint in complaints:
        closed = complaint.closed_at is not None
        if closed or complaint.breaches > 0:
            counted += 1
            clean += closed and complaint.breaches == 0
    return rate(clean, counted)


def complaint_closure_rate(complaints: Iterable[ComplaintFact], as_of: datetime) -> Rate | None:
    """Complaint closure rate (结案率): complaints closed by ``as_of`` ÷ complaints closed or
    whose resolution deadline passed by ``as_of``."""
    due = closed = 0
    for complaint in complaints:
        is_closed = complaint.closed_at is not None and complaint.closed_at <= as_of
        overdue = complaint.resolution_due_at is not None and complaint.resolution_due_at <= as_of
        if is_closed or overdue:
            due += 1
            closed += is_closed
    return rate(closed, due)


def redispatch_rate(work_orders: Iterable[WorkOrderFact]) -> Rate | None:
    """Re-dispatch rate (再次派单率): work orders whose reply the lead rejected at least once
    ÷ work orders with at least one reply."""
    replied = redispatched = 0
    for order in work_orders:
        if order.replies > 0:
            replied += 1
            redispatched += order.redispatches > 0
    return rate(redispatched, replied)


# --- customers -------------------------------------------------------------------------------


def is_member(tier: Tier, policy: Policy) -> bool:
    """A member (会员) is a customer of a tier listed in ``kpi.member_tiers``."""
    return tier in policy.kpi.member_tiers


def has_churned(customer: CustomerFact, as_of: datetime, policy: Policy) -> bool:
    """No customer-driven activity in the ``kpi.churn_inactivity_days`` up to ``as_of``."""
    since = as_of - timedelta(days=policy.kpi.churn_inactivity_days)
    last = customer.last_activity_at
    return last is None or last <= since


def _churn(
    customers: Iterable[CustomerFact], as_of: datetime, policy: Policy, members: bool
) -> Rate | None:
    since = as_of - timedelta(days=policy.kpi.churn_inactivity_days)
    population = churned = 0
    for customer in customers:
        if is_member(customer.tier, policy) is not members or customer.since > since:
            continue
        population += 1
        churned += has_churned(customer, as_of, policy)
    return rate(churned, population)


def member_churn_rate(
    customers: Iterable[CustomerFact], as_of: datetime, policy: Policy
) -> Rate | None:
    """Member churn (会员流失率): members who have churned (:func:`has_churned`) ÷ members who
    were already customers when the inactivity window began (newer ones cannot have churned)."""
    return _churn(customers, as_of, policy, members=True)


def other_churn_rate(
    customers: Iterable[CustomerFact], as_of: datetime, policy: Policy
) -> Rate | None:
    """Churn of the other customers (non-members), defined as :func:`member_churn_rate`."""
    return _churn(customers, as_of, policy, members=False)


@dataclass(frozen=True)
class TierTally:
    """What a tier's statistics are made of: how many customers (or contacts, or bills) and
    their summed spend in cents."""

    count: int = 0
    spend_cents: int = 0


@dataclass(frozen=True)
class TierStat:
    """One tier: how many customers, their average monthly spend in cents (None if none),
    and their share of all customers in percent (None if there are no customers)."""

    tier: Tier
    count: int
    average_spend_cents: float | None
    share_percent: float | None


def tier_statistics(customers: Iterable[CustomerFact]) -> Mapping[Tier, TierStat]:
    """Tier statistics (客户分级统计): count, average monthly spend and share, for every tier."""
    counts: dict[Tier, int] = dict.fromkeys(Tier, 0)
    spend: dict[Tier, int] = dict.fromkeys(Tier, 0)
    for customer in customers:
        counts[customer.tier] += 1
        spend[customer.tier] += customer.monthly_spend_cents
    return tier_statistics_from({tier: TierTally(counts[tier], spend[tier]) for tier in Tier})


def tier_statistics_from(tallies: Mapping[Tier, TierTally]) -> Mapping[Tier, TierStat]:
    """Tier statistics from counts and sums per tier (a tier missing counts as empty): the
    average is the tier's spend ÷ its count, the share its count ÷ the count of all tiers."""
    total = sum(tally.count for tally in tallies.values())
    result: dict[Tier, TierStat] = {}
    for tier in Tier:
        tally = tallies.get(tier, TierTally())
        result[tier] = TierStat(
            tier=tier,
            count=tally.count,
            average_spend_cents=tally.spend_cents / tally.count if tally.count else None,
            share_percent=100.0 * tally.count / total if total else None,
        )
    return result


def share_percent(part: int, whole: int) -> float | None:
    """``part`` as a percentage of ``whole``; None when the whole is 0."""
    return 100.0 * part / whole if whole > 0 else None


# --- satisfaction marks ----------------------------------------------------------------------


def is_satisfied(mark: int | None, policy: Policy) -> bool | None:
    """A satisfaction mark (1–5) as satisfied or not (at least ``kpi.satisfied_min_mark``);
    None when there is no mark."""
    if mark is None:
        return None
    return mark >= policy.kpi.satisfied_min_mark


# --- targets ---------------------------------------------------------------------------------


class Standing(StrEnum):
    """How a figure stands against its target: the tile's colour."""

    GREEN = "green"  # on target
    AMBER = "amber"  # off target by at most ``targets.amber_points``
    RED = "red"  # further off
    NONE = "none"  # nothing to measure


def standing(
    value: Rate | None, target_percent: float, *, at_most: bool, amber_points: float
) -> Standing:
    """Green when ``value`` meets the target (at least it, or at most it for ``at_most``
    targets such as churn), amber when off by no more than ``amber_points`` percentage
    points, red further off; :attr:`Standing.NONE` when there is nothing to measure."""
    if value is None:
        return Standing.NONE
    if value.within(target_percent) if at_most else value.meets(target_percent):
        return Standing.GREEN
    limit = target_percent + amber_points if at_most else target_percent - amber_points
    if value.within(limit) if at_most else value.meets(limit):
        return Standing.AMBER
    return Standing.RED


@dataclass(frozen=True)
class TargetFigure:
    """One target of the policy (``targets.<key>``) and the figure it applies to."""

    key: str
    definition: Callable[..., Rate | None]
    at_most: bool = False

    def target(self, policy: Policy) -> float:
        value = getattr(policy.targets, self.key)
        assert isinstance(value, float | int)
        return float(value)

    def standing(self, value: Rate | None, policy: Policy) -> Standing:
        return standing(
            value,
            self.target(policy),
            at_most=self.at_most,
            amber_points=policy.targets.amber_points,
        )


TARGET_FIGURES: tuple[TargetFigure, ...] = (
    TargetFigure("manual_answer_rate", manual_answer_rate),
    TargetFigure("vip_answer_rate", vip_answer_rate),
    TargetFigure("satisfaction", satisfaction),
    TargetFigure("complaint_satisfaction", complaint_satisfaction),
    TargetFigure("complaint_reply_rate", complaint_reply_rate),
    TargetFigure("complaint_on_standard", complaint_on_standard),
    TargetFigure("complaint_closure", complaint_closure_rate),
    TargetFigure("churn_member_max", member_churn_rate, at_most=True),
    TargetFigure("churn_other_max", other_churn_rate, at_most=True),
)
"""Every target of the policy, in the order the dashboard shows them (a test checks that no
target of :class:`~desk.rules.policy.TargetsPolicy` is missing)."""


def definition_of(figure: Callable[..., object]) -> str:
    """A figure's written definition: the first paragraph of its docstring, on one line."""
    doc = figure.__doc__ or ""
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split())


# --- big customers ---------------------------------------------------------------------------


def proposed_big_customer_class(
    average_monthly_cents: float | None, *, churned: bool, policy: Policy
) -> BigCustomerClass | None:
    """The big-customer value assessment (大客户价值评估): the class the average monthly spend
    (``big_customers.class_*_min_monthly_cents``) reaches, one class lower when the customer
    has churned (not seen for ``kpi.churn_inactivity_days``); None below class C or without
    bills. The big-customer manager decides; this only proposes."""
    if average_monthly_cents is None:
        return None
    rules = policy.big_customers
    ladder = (
        (rules.class_a_min_monthly_cents, BigCustomerClass.A),
        (rules.class_b_min_monthly_cents, BigCustomerClass.B),
        (rules.class_c_min_monthly_cents, BigCustomerClass.C),
    )
    classes = [cls for floor, cls in ladder if average_monthly_cents >= floor]
    if not classes:
        return None
    index = list(BigCustomerClass).index(classes[0])
    if churned:
        index += 1
    members = list(BigCustomerClass)
    return members[index] if index < len(members) else None
