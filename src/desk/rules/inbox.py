"""Messages left outside a call (客户留言, 网上工单): their response clock, what a work order
made of one is, and the online-service figures computed from handled messages.

Definitions (numbers from the policy's ``[inbox]``):

- **response due**: ``inbox.response_due[channel]`` business minutes on ``inbox.calendar``
  after the message arrived;
- **first response**: the first of a recorded answer or a work order made of the message (a
  discarded message got none); **on time** when it came by the response due instant;
- **reply time**: from arrival to the recorded answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from desk.rules.calendar import BusinessCalendar, add_business_minutes, calendars_from_policy
from desk.rules.policy import Policy
from desk.rules.vocab import Channel, InboxChannel, WorkOrderSource

ORDER_CHANNEL: Mapping[InboxChannel, Channel] = {
    InboxChannel.WEB: Channel.WEB_MESSAGE,
    InboxChannel.VOICEMAIL: Channel.PHONE,
    InboxChannel.WECHAT: Channel.WECHAT,
    InboxChannel.QQ: Channel.QQ,
    InboxChannel.EMAIL: Channel.EMAIL,
}
"""The channel of a work order made of a message (its SLA overrides follow it)."""

ORDER_SOURCE: Mapping[InboxChannel, WorkOrderSource] = {
    InboxChannel.WEB: WorkOrderSource.WEB_FORM,
    InboxChannel.VOICEMAIL: WorkOrderSource.VOICE_MESSAGE,
    InboxChannel.WECHAT: WorkOrderSource.MESSAGE,
    InboxChannel.QQ: WorkOrderSource.MESSAGE,
    InboxChannel.EMAIL: WorkOrderSource.MESSAGE,
}


def response_due(
    received_at: datetime,
    channel: InboxChannel,
    policy: Policy,
    calendars: Mapping[str, BusinessCalendar] | None = None,
) -> datetime:
    """When a message of ``channel`` received at ``received_at`` is due a first response."""
    calendars = calendars if calendars is not None else calendars_from_policy(policy)
    calendar = calendars[policy.inbox.calendar]
    return add_business_minutes(received_at, policy.inbox.response_due[channel], calendar)


@dataclass(frozen=True)
class MessageFact:
    """One message as the figures need it."""

    channel: InboxChannel
    received_at: datetime
    response_due: datetime | None
    first_response_at: datetime | None
    answered_at: datetime | None


@dataclass(frozen=True)
class ChannelFigures:
    """Online service of one channel: messages, how many got a first response and how many
    on time, and the mean first-response and reply times (None: none to average)."""

    channel: InboxChannel
    messages: int
    responded: int
    on_time: int
    mean_first_response: timedelta | None
    mean_reply: timedelta | None


def online_service_figures(facts: Iterable[MessageFact]) -> dict[InboxChannel, ChannelFigures]:
    """First-response and reply times per channel (see the module docstring)."""
    grouped: dict[InboxChannel, list[MessageFact]] = {}
    for fact in facts:
        grouped.setdefault(fact.channel, []).append(fact)
    figures: dict[InboxChannel, ChannelFigures] = {}
    for channel, rows in grouped.items():
        firsts = [r.first_response_at - r.received_at for r in rows if r.first_response_at]
        replies = [r.answered_at - r.received_at for r in rows if r.answered_at]
        on_time = sum(
            1
            for r in rows
            if r.first_response_at is not None
            and r.response_due is not None
            and r.first_response_at <= r.response_due
        )
        figures[channel] = ChannelFigures(
            channel=channel,
            messages=len(rows),
            responded=len(firsts),
            on_time=on_time,
            mean_first_response=sum(firsts, timedelta(0)) / len(firsts) if firsts else None,
            mean_reply=sum(replies, timedelta(0)) / len(replies) if replies else None,
        )
    return figures
