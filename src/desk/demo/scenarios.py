"""Showcase work orders: whatever the size of the demo, every status and every special case
of the work-order floor is there, on customers near the top of the list (C000000001 …).

Their times are chosen backwards from ``now`` on the departments' business calendars so that,
for instance, a complaint's reply deadline passed just long enough ago for the reminder to be
out but not the escalation.
"""

from __future__ import annotations

from dataclasses import dataclass

from desk.demo.contacts import ContactMaker
from desk.demo.org import NETWORK
from desk.demo.sink import Row
from desk.demo.work_orders import US, Plan
from desk.demo.world import CHURNED, DAY, HOUR, NO_BILLS, World
from desk.rules.calendar import calendars_from_policy
from desk.rules.clocks import clock_budgets
from desk.rules.vocab import (
    Channel,
    ClockKind,
    DepartmentKind,
    MajorSource,
    Priority,
    RequestType,
    Role,
    WorkOrderSource,
    WorkOrderStatus,
)

S = WorkOrderStatus


@dataclass
class Scenario:
    plan: Plan
    contact_at: int | None  # an agent took it on a contact at this instant


def _reply_breach_dispatch(w: World, category: RequestType, priority: Priority, breach: int) -> int:
    """A dispatch instant whose reply deadline (network department) falls at or just
    before ``breach``."""
    policy = w.policy
    calendar = calendars_from_policy(policy)[
        policy.calendar_name_for(ClockKind.REPLY, DepartmentKind.NETWORK)
    ]
    budget = clock_budgets(category, priority, Channel.PHONE, policy).reply * 60 * US
    at = breach - budget // US
    while calendar.add_business_us(at * US, budget) > breach * US:
        at -= 1_800
    return at


def _replied_by(w: World, category: RequestType, fraction: float, before: int) -> int:
    """A dispatch instant after which the network department's reply, ``fraction`` of the
    reply budget later, falls at or before ``before``."""
    policy = w.policy
    calendar = calendars_from_policy(policy)[
        policy.calendar_name_for(ClockKind.REPLY, DepartmentKind.NETWORK)
    ]
    budget = int(
        clock_budgets(category, Priority.NORMAL, Channel.PHONE, policy).reply * fraction * 60 * US
    )
    at = before - budget // US
    while calendar.add_business_us(at * US, budget) > before * US:
        at -= 1_800
    return at


def _after_grace(w: World, target: int) -> int:
    """A breach instant whose escalation grace ends at or just before ``target``."""
    policy = w.policy
    calendar = calendars_from_policy(policy)[
        policy.calendar_name_for(ClockKind.REPLY, DepartmentKind.NETWORK)
    ]
    grace = policy.chase.escalation_grace * 60 * US
    at = target - grace // US
    while calendar.add_business_us(at * US, grace) > target * US:
        at -= 1_800
    return at


def plan_scenarios(w: World) -> list[Scenario]:
    """The showcase plans; their contacts move the customers' last activity forward."""
    now, earliest = w.now_s, w.start_s + HOUR
    agents = w.staff[Role.AGENT]
    agent1 = w.users["agent1"]
    leads = w.staff[Role.LEAD]
    candidates = [i for i in range(w.n) if not w.flags[i] & (NO_BILLS | CHURNED)][:40]
    scenarios: list[Scenario] = []

    def at_least(seconds: int) -> int:
        return max(earliest, seconds)

    def add(
        hours_ago: float | None,
        category: RequestType,
        topic: str,
        *,
        created: int | None = None,
        agent: int | None = None,
        customer: int | None = None,
        **knobs: object,
    ) -> None:
        index = len(scenarios)
        when = at_least(created if created is not None else now - int((hours_ago or 0) * HOUR))
        who = candidates[index % len(candidates)] if customer is None else customer
        source = knobs.get("source", WorkOrderSource.AGENT)
        by_agent = source is WorkOrderSource.AGENT
        plan = Plan(
            customer=who,
            category=category,
            topic=topic,
            channel=Channel.PHONE if by_agent else Channel.WEB_MESSAGE,
            created_s=when,
            created_by=(agent or agents[index % len(agents)]) if by_agent else leads[0],
            **knobs,  # type: ignore[arg-type]
        )
        scenarios.append(Scenario(plan, when - 900 if by_agent else None))

    fault, complaint = RequestType.FAULT_REPORT, RequestType.COMPLAINT
    add(0.15, fault, "宽带无法上网", agent=agent1, stall=S.NEW)
    add(3, RequestType.SERVICE_REQUEST, "套餐变更", stall=S.NEW)
    dispatch = _reply_breach_dispatch(w, fault, Priority.NORMAL, now - 2 * HOUR)
    add(
        None,
        fault,
        "网速慢",
        created=dispatch - 600,
        department_code=NETWORK,
        priority=Priority.NORMAL,
        stall=S.DISPATCHED,
        redispatch=False,
        pause=False,
        dispatch_after=600,
    )
    # Complaints in the chase: reminder only; escalation proposed; escalation confirmed.
    for breach, confirm in (
        (now - 2 * HOUR, False),
        (_after_grace(w, now - HOUR), False),
        (_after_grace(w, now - 5 * HOUR), True),
    ):
        dispatch = _reply_breach_dispatch(w, complaint, Priority.NORMAL, breach)
        add(
            None,
            complaint,
            "网络质量",
            created=dispatch - 600,
            department_code=NETWORK,
            priority=Priority.NORMAL,
            stall=S.DISPATCHED,
            redispatch=False,
            pause=False,
            dispatch_after=600,
            confirm_escalation=confirm,
        )
    dispatch = _replied_by(w, fault, 0.3, now - HOUR)
    add(
        None,
        fault,
        "IPTV故障",
        created=dispatch - 600,
        dispatch_after=600,
        priority=Priority.NORMAL,
        stall=S.REPLIED,
        reply_fraction=0.3,
        redispatch=False,
        pause=False,
        department_code=NETWORK,
    )
    add(
        50,
        RequestType.BILL_INQUIRY,
        "扣费疑问",
        stall=S.CALLBACK,
        failed_callbacks=0,
        reply_fraction=0.3,
        redispatch=False,
    )
    add(
        75,
        complaint,
        "装维超时",
        stall=S.CALLBACK,
        failed_callbacks=2,
        reply_fraction=0.3,
        redispatch=False,
    )
    add(
        6 * 24,
        fault,
        "宽带无法上网",
        reopen=False,
        failed_callbacks=0,
        reply_fraction=0.4,
        redispatch=False,
    )
    add(
        8 * 24,
        RequestType.SERVICE_REQUEST,
        "停复机",
        reopen=False,
        failed_callbacks=3,
        reply_fraction=0.4,
        redispatch=False,
    )
    add(
        9 * 24,
        complaint,
        "服务态度",
        reopen=True,
        stall=S.REOPENED,
        failed_callbacks=0,
        reply_fraction=0.4,
        redispatch=False,
    )
    dispatch = _replied_by(w, fault, 0.3, now - 3 * HOUR)
    add(
        None,
        fault,
        "通话断续",
        created=dispatch - 600,
        dispatch_after=600,
        priority=Priority.NORMAL,
        redispatch=True,
        stall=S.DISPATCHED,
        reply_fraction=0.3,
        pause=False,
        department_code=NETWORK,
    )
    add(
        5,
        complaint,
        "乱扣费",
        source=WorkOrderSource.REGULATOR,
        major=MajorSource.REGULATOR,
        stall=S.DISPATCHED,
        redispatch=False,
    )
    add(
        30,
        complaint,
        "营销骚扰",
        source=WorkOrderSource.MEDIA,
        major=MajorSource.MEDIA,
        stall=S.REPLIED,
        reply_fraction=0.3,
        redispatch=False,
    )
    add(
        4 * 24,
        complaint,
        "办理不一致",
        source=WorkOrderSource.REGULATOR,
        major=MajorSource.REGULATOR,
        reopen=False,
        failed_callbacks=0,
        reply_fraction=0.3,
        redispatch=False,
    )
    # A customer's third complaint within 30 days is a major complaint.
    repeat = candidates[-1]
    window = w.params.days * DAY
    for age, knobs in (
        (min(20 * DAY, window * 8 // 10), {"reopen": False, "failed_callbacks": 0}),
        (min(9 * DAY, window * 5 // 10), {"reopen": False, "failed_callbacks": 0}),
    ):
        add(
            None,
            complaint,
            "乱扣费",
            created=now - age,
            customer=repeat,
            reply_fraction=0.3,
            redispatch=False,
            **knobs,
        )
    add(
        3,
        complaint,
        "乱扣费",
        customer=repeat,
        major=MajorSource.REPEAT_COMPLAINER,
        stall=S.DISPATCHED,
        redispatch=False,
    )
    add(
        20,
        RequestType.SERVICE_REQUEST,
        "资料变更",
        pause=True,
        stall=S.DISPATCHED,
        reply_fraction=0.95,
        redispatch=False,
    )
    add(1, RequestType.SUGGESTION, "客服中心建议", stall=S.NEW)
    for scenario in scenarios:
        if scenario.contact_at is not None:
            who = scenario.plan.customer
            w.last_activity[who] = max(w.last_activity[who], scenario.plan.created_s)
    return scenarios


def write_scenario_contacts(w: World, maker: ContactMaker, scenarios: list[Scenario]) -> None:
    """One contact per agent-created showcase work order, ending in that work order."""
    from desk.demo.contacts import CONTACT_COLUMNS
    from desk.rules.vocab import ContactOutcome

    rows: list[Row] = []
    for scenario in scenarios:
        if scenario.contact_at is None:
            continue
        contact_id = w.next_contact_id
        w.next_contact_id += 1
        plan = scenario.plan
        rows.append(
            maker.row(
                contact_id,
                scenario.contact_at,
                plan.customer,
                request_type=plan.category,
                channel=plan.channel,
                outcome=ContactOutcome.WORK_ORDER,
                topic=plan.topic,
                record_seed=False,
            )
        )
        plan.contact_id = contact_id
    w.sink.insert("contact", CONTACT_COLUMNS, rows)
