"""Contacts: when they come (hour-of-day and weekday curves), who calls, over which channel,
how long they wait and talk, what they ask, how it ends, and how they rate it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from desk.demo.catalog import TOPICS
from desk.demo.model import customer_no, demo_service_password
from desk.demo.people import MobileNumbers, lookup_table
from desk.demo.sink import Row
from desk.demo.world import (
    ARREARS,
    CHURNED,
    DAY,
    HOUR,
    LOCAL_OFFSET,
    SHIFT_SECONDS,
    VIP,
    World,
)
from desk.rules.vocab import Channel, ContactOutcome, RequestType, Role, VerificationMethod

CONTACTS_PER_CUSTOMER_DAY = 0.015  # a million customers: about 15,000 contacts a day

# Share of a day's contacts in each local hour: peaks 9-11 and 14-16, quiet at night.
HOUR_WEIGHTS = (
    0.16,
    0.09,
    0.05,
    0.04,
    0.04,
    0.06,
    0.15,
    0.35,
    0.75,
    1.00,
    1.00,
    0.92,
    0.62,
    0.72,
    0.96,
    0.97,
    0.86,
    0.72,
    0.60,
    0.64,
    0.60,
    0.46,
    0.32,
    0.22,
)
WEEKDAY_FACTORS = (1.14, 1.05, 1.00, 0.98, 1.02, 0.86, 0.80)  # Monday first

REQUEST_TYPES = (
    (RequestType.CONSULTATION, 37.0),
    (RequestType.BILL_INQUIRY, 24.0),
    (RequestType.FAULT_REPORT, 14.0),
    (RequestType.SERVICE_REQUEST, 17.0),
    (RequestType.COMPLAINT, 6.0),
    (RequestType.SUGGESTION, 2.0),
)
RT_INDEX = {rt: i for i, (rt, _) in enumerate(REQUEST_TYPES)}
CHANNELS = (
    (Channel.PHONE, 71.0),
    (Channel.CHAT, 7.0),
    (Channel.WECHAT, 9.0),
    (Channel.QQ, 1.0),
    (Channel.WEB_MESSAGE, 3.0),
    (Channel.EMAIL, 1.0),
    (Channel.SMS, 2.0),
    (Channel.WALK_IN, 1.0),
)
VOICE = frozenset({Channel.PHONE, Channel.VIP_LINE})
CHAT = frozenset({Channel.CHAT, Channel.WECHAT, Channel.QQ})
MESSAGES = frozenset({Channel.WEB_MESSAGE, Channel.EMAIL, Channel.SMS})
WORK_ORDER_SHARE = {  # of answered contacts; about 11 % of all contacts end in a work order
    RequestType.CONSULTATION: 0.02,
    RequestType.BILL_INQUIRY: 0.04,
    RequestType.FAULT_REPORT: 0.36,
    RequestType.COMPLAINT: 0.55,
    RequestType.SERVICE_REQUEST: 0.08,
    RequestType.SUGGESTION: 0.20,
}
VERIFIED_TOPICS = frozenset({"详单查询", "历史账单", "余额查询"})
SATISFACTION = ((5, 63.0), (4, 27.0), (3, 6.0), (2, 2.5), (1, 1.5))
COMPLAINT_SATISFACTION = ((5, 52.0), (4, 38.0), (3, 6.0), (2, 2.5), (1, 1.5))


@dataclass(frozen=True, slots=True)
class WorkOrderSeed:
    """A contact that ended in a work order: what the work-order history starts from."""

    contact_id: int
    customer: int  # index, -1 unknown
    category: RequestType
    topic: str
    channel: Channel
    created_s: int
    agent_id: int | None


def draw_schedule(w: World) -> None:
    """When each contact comes and who makes it; moves the callers' last activity forward."""
    r = w.rng.random
    n = w.n
    per_day = max(30.0, n * CONTACTS_PER_CUSTOMER_DAY)
    weight_sum = sum(HOUR_WEIGHTS)
    frequent = [int(r() * n) for _ in range(max(5, n // 400))]
    times, customers, last = w.contact_times, w.contact_customers, w.last_activity
    flags = w.flags
    hour_start = w.start_s - w.start_s % HOUR
    while hour_start < w.now_s:
        mean = (
            per_day
            * HOUR_WEIGHTS[w.local_hour(hour_start)]
            / weight_sum
            * WEEKDAY_FACTORS[w.local_weekday(hour_start)]
        )
        count = int(mean * (0.88 + 0.24 * r()) + r())
        span = min(HOUR, w.now_s - hour_start)
        for at in sorted(hour_start + int(r() * span) for _ in range(count)):
            if at < w.start_s:
                continue
            roll = r()
            if roll < 0.06:
                who = -1
            elif roll < 0.14:
                who = frequent[int(r() * len(frequent))]
            else:
                who = int(r() * n)
                if flags[who] & CHURNED and r() < 0.92:
                    who = int(r() * n)
            times.append(at)
            customers.append(who)
            if who >= 0 and last[who] < at:
                last[who] = at
        hour_start += HOUR
    w.next_contact_id = len(times) + 1


_CONSULTATION = RequestType.CONSULTATION
_BILL = RequestType.BILL_INQUIRY
_FAULT = RequestType.FAULT_REPORT
_COMPLAINT = RequestType.COMPLAINT
_SERVICE = RequestType.SERVICE_REQUEST
_PHONE, _VIP_LINE = Channel.PHONE, Channel.VIP_LINE
_WORK_ORDER = ContactOutcome.WORK_ORDER
_ON_BEHALF_TYPES = frozenset({_CONSULTATION, _FAULT, _COMPLAINT})
_NO_ACCOUNT_TYPES = frozenset({_BILL, _SERVICE})
_CHANNEL_KIND = {
    channel: 0 if channel in VOICE else 1 if channel in CHAT else 2 if channel in MESSAGES else 3
    for channel in Channel
}
_NONE = VerificationMethod.NONE.value
_PASSWORD = VerificationMethod.SERVICE_PASSWORD.value
_PERSONAL = VerificationMethod.PERSONAL_DATA.value
_OUTCOME = {outcome: outcome.value for outcome in ContactOutcome}
_ABANDONED, _REFUSED = ContactOutcome.ABANDONED, ContactOutcome.REFUSED
_TRANSFERRED, _DROPPED, _SETTLED = (
    ContactOutcome.TRANSFERRED,
    ContactOutcome.DROPPED,
    ContactOutcome.SETTLED,
)


class ContactMaker:
    """Turns (time, caller, request) into a contact row; shared by the flow and scenarios."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.r = w.rng.random
        self.gauss = w.rng.gauss
        self.request_types = lookup_table(REQUEST_TYPES, 1000)
        self.channels = lookup_table(CHANNELS, 1000)
        self.topics = {
            rt: lookup_table([((t, s), weight) for t, weight, s in TOPICS[rt]], 500)
            for rt in RequestType
        }
        self.satisfaction = lookup_table(SATISFACTION, 1000)
        self.complaint_satisfaction = lookup_table(COMPLAINT_SATISFACTION, 1000)
        self.mobiles = MobileNumbers(w.params.seed)
        self.stranger_base = w.n + 10_000_000
        self.agents_by_shift = _agents_by_shift(w)
        self.first_shift = w.first_shift_s
        self.now = w.now_s
        self.seeds: list[WorkOrderSeed] = []
        self.stats: dict[int, list[int]] = {}  # shift → counts per request type + abandoned
        self.verified_recently: list[tuple[int, int, int, int | None, str]] = []
        self.work_order_share = {rt: WORK_ORDER_SHARE[rt] for rt in RequestType}
        self.values = {member: member.value for member in (*RequestType, *Channel)}

    def agent_for(self, at: int) -> int:
        index = min((at - self.first_shift) // SHIFT_SECONDS, len(self.agents_by_shift) - 1)
        agents = self.agents_by_shift[index]
        return agents[int(self.r() * len(agents))]

    def row(
        self,
        contact_id: int,
        at: int,
        who: int,
        *,
        request_type: RequestType | None = None,
        channel: Channel | None = None,
        outcome: ContactOutcome | None = None,
        topic: str | None = None,
        record_seed: bool = True,
    ) -> Row:
        w, r, now = self.w, self.r, self.now
        rt: RequestType = request_type or self.request_types[int(r() * 1000)]
        if who < 0 and request_type is None and rt in _NO_ACCOUNT_TYPES:
            rt = _CONSULTATION
        picked, summary = self.topics[rt][int(r() * 500)]
        topic = topic or picked
        bits = w.flags[who] if who >= 0 else 0
        if channel is None:
            channel = self.channels[int(r() * 1000)]
            if channel is _PHONE and bits & VIP and r() < 0.75:
                channel = _VIP_LINE
        assert channel is not None
        caller = (
            w.phones[who]
            if who >= 0 and w.phones
            else self.mobiles.number(who if who >= 0 else self.stranger_base + contact_id)
        )
        hour_load = HOUR_WEIGHTS[(at + LOCAL_OFFSET) % DAY // HOUR]
        shift = (at - self.first_shift) // SHIFT_SECONDS
        stats = self.stats.get(shift)
        if stats is None:
            stats = self.stats[shift] = [0] * (len(REQUEST_TYPES) + 1)
        stats[RT_INDEX[rt]] += 1
        answered: int | None = None
        ended: int | None = None
        agent: int | None = None
        verified_at: int | None = None
        satisfaction: int | None = None
        refusal: str | None = None
        method = _NONE
        on_behalf = 0
        kind = _CHANNEL_KIND[channel]
        if kind == 0:
            abandon = 0.04 + 0.08 * hour_load if channel is _PHONE else 0.03
            wait = int(-math.log(1.0 - r()) * (6 + 24 * hour_load))
        elif kind == 1:
            abandon, wait = 0.04, int(15 + r() * 100)
        elif kind == 2:
            abandon, wait = 0.0, int(300 + r() * 7_200)
        else:
            abandon, wait = 0.0, int(60 + r() * 540)
        if outcome is None and r() < abandon:
            gave_up = int(r() * 5) if r() < 0.35 else 5 + int(-math.log(1.0 - r()) * 45)
            if at + gave_up <= now:
                outcome = _ABANDONED
                ended = at + gave_up
                stats[-1] += 1
        elif at + wait <= now:
            answered = at + wait
            talk = int(math.exp(self.gauss(5.0, 0.55)))
            if kind:
                talk *= 2
            ended = answered + talk
            agent = self.agent_for(answered)
            needs_check = rt is _SERVICE or (rt is _BILL and topic in VERIFIED_TOPICS)
            if needs_check and who >= 0:
                has_password = demo_service_password(customer_no(who + 1)) is not None
                method = _PASSWORD if has_password and r() < 0.74 else _PERSONAL
                verified_at = answered + 15 + int(r() * min(60, talk))
                if at >= now - DAY:
                    self.verified_recently.append((who, contact_id, verified_at, agent, method))
            elif r() < 0.03 and rt in _ON_BEHALF_TYPES:
                on_behalf = 1
            if ended > now:
                ended = None  # still on the line (or the message still open): no outcome yet
                outcome = None
            elif outcome is None:
                roll = r()
                share = self.work_order_share[rt]
                if rt is _SERVICE and bits & ARREARS:
                    outcome, refusal = _REFUSED, "arrears"
                    summary = "客户欠费,业务受理被拒,已告知欠费金额及缴费渠道"
                elif roll < share:
                    outcome = _WORK_ORDER
                elif roll < share + 0.02:
                    outcome = _TRANSFERRED
                elif roll < share + 0.03:
                    outcome = _DROPPED
                else:
                    outcome = _SETTLED
            if outcome is _WORK_ORDER and ended is not None:
                summary = f"{topic},已征得客户同意创建工单"
                if record_seed:
                    self.seeds.append(
                        WorkOrderSeed(contact_id, who, rt, topic, channel, ended, agent)
                    )
            if outcome is not None and outcome is not _DROPPED and kind == 0 and r() < 0.55:
                table = self.complaint_satisfaction if rt is _COMPLAINT else self.satisfaction
                satisfaction = table[int(r() * 1000)]
        stamps = w.stamps
        return (
            contact_id,
            who + 1 if who >= 0 else None,
            caller,
            self.values[channel],
            "inbound",
            self.values[rt],
            topic,
            stamps(at),
            answered and stamps(answered),
            ended and stamps(ended),
            agent,
            shift + 1,
            on_behalf,
            method,
            verified_at and stamps(verified_at),
            _OUTCOME[outcome] if outcome else None,
            refusal,
            satisfaction,
            summary if outcome else None,
        )


CONTACT_COLUMNS = (
    "id",
    "customer_id",
    "caller_number",
    "channel",
    "direction",
    "request_type",
    "topic",
    "offered_at",
    "answered_at",
    "ended_at",
    "agent_id",
    "shift_id",
    "on_behalf",
    "verification_method",
    "verified_at",
    "outcome",
    "refusal_reason",
    "satisfaction",
    "summary",
)


def _agents_by_shift(w: World) -> list[list[int]]:
    """Who sits on each shift: a night, a morning and an evening pool, five days in seven;
    ``agent1`` always sits on the current shift."""
    agents = w.staff[Role.AGENT]
    pools = (
        agents[: max(2, len(agents) * 15 // 100)],
        agents[max(2, len(agents) * 15 // 100) : max(4, len(agents) * 60 // 100)],
        agents[max(4, len(agents) * 60 // 100) :],
    )
    result = []
    for index in range(w.current_shift + 1):
        day = index // 3
        pool = pools[index % 3]
        on = [agent for k, agent in enumerate(pool) if (day + k) % 7 < 5] or list(pool)
        result.append(on)
    current = result[w.current_shift]
    if w.users["agent1"] not in current:
        current.append(w.users["agent1"])
    return result


def write_contacts(w: World, maker: ContactMaker) -> None:
    def rows() -> Iterator[Row]:
        times, customers = w.contact_times, w.contact_customers
        for index in range(len(times)):
            yield maker.row(index + 1, times[index], customers[index])

    w.sink.insert("contact", CONTACT_COLUMNS, rows())
