"""The policy: every number and list desk's rules use, read from one TOML file.

The shipped default is ``data/policy.toml`` (the package ``desk.data``); a center points
``DESK_POLICY`` at its own copy. :func:`load_policy` parses and validates a file and raises
:class:`PolicyError` carrying *every* problem; :func:`check_policy_file` returns the same
problems as a list, each with a dotted key path (``sla.complaint.reply_due: must be > 0``)
or, for a TOML syntax error, the line and column.

Units are in the key names' documentation below: durations of clocks are *business minutes*
on a calendar (see :mod:`desk.rules.calendar`), other windows are wall-clock minutes, hours or
days as their names say, percentages are 0–100, money is in cents (分).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, MutableMapping
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails

from desk.rules.vocab import (
    AccountData,
    BigCustomerClass,
    CallbackKind,
    Channel,
    ClockKind,
    ContactOutcome,
    DepartmentKind,
    InboxChannel,
    PersonalDataField,
    Priority,
    RequestType,
    ServiceRequestKind,
    SpotCheckTarget,
    Tier,
    WorkOrderSource,
)

DEFAULT_POLICY_RESOURCE: Final = "policy.toml"
DEPARTMENT_CALENDAR: Final = "department"
"""In ``sla.clock_calendar``: the clock runs on the owning department's calendar."""

_SKIP_REFERENCES: Final = "skip_references"

# Every count and duration (seconds, minutes, hours or days) the rules add to an instant stays
# below this: a million days still lands before the year 9999 that datetime can hold, and a
# lock of 999,999,999,999 minutes is refused instead of overflowing (and so disabling it).
MAX_POLICY_NUMBER = 1_000_000
PositiveInt = Annotated[int, Field(gt=0, le=MAX_POLICY_NUMBER)]
NonNegativeInt = Annotated[int, Field(ge=0, le=MAX_POLICY_NUMBER)]
Percent = Annotated[float, Field(ge=0, le=100)]


# --- problems --------------------------------------------------------------------------------


class PolicyProblem(BaseModel):
    """One thing wrong with a policy file: where (a dotted key path) and what."""

    model_config = ConfigDict(frozen=True)

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class PolicyError(ValueError):
    """A policy that cannot be used; ``problems`` lists every reason, not only the first."""

    def __init__(self, problems: list[PolicyProblem], *, source: str = "policy") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{source} has {len(problems)} problem(s):\n{lines}")


# --- building blocks -------------------------------------------------------------------------

_TIME_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeRange(_Frozen):
    """Working hours within one local day, ``"08:30-12:00"``; the end may be ``24:00``.

    ``start`` and ``end`` are minutes after local midnight, ``0 <= start < end <= 1440``.
    """

    start: int = Field(ge=0, lt=24 * 60)
    end: int = Field(gt=0, le=24 * 60)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            match = _TIME_RANGE.match(value)
            if match is None:
                raise ValueError(f"must look like 08:30-12:00, not {value!r}")
            h1, m1, h2, m2 = (int(group) for group in match.groups())
            if m1 >= 60 or m2 >= 60:
                raise ValueError(f"minutes must be below 60 in {value!r}")
            return {"start": h1 * 60 + m1, "end": h2 * 60 + m2}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError(f"{self} ends before it starts")
        return self

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_time_of_day(value: object) -> object:
    if isinstance(value, str):
        match = _TIME_OF_DAY.match(value)
        if match is None:
            raise ValueError(f"must look like 15:30, not {value!r}")
        hours, minutes = int(match.group(1)), int(match.group(2))
        if hours > 23 or minutes > 59:
            raise ValueError(f"not a time of day: {value!r}")
        return hours * 60 + minutes
    return value


TimeOfDay = Annotated[
    int,
    BeforeValidator(_parse_time_of_day),
    Field(ge=0, lt=24 * 60),
    PlainSerializer(_hhmm, return_type=str),
]
"""A local time of day written ``"15:30"``, held as minutes after midnight."""


def _check_day_hours(ranges: tuple[TimeRange, ...]) -> tuple[TimeRange, ...]:
    for earlier, later in zip(ranges, ranges[1:], strict=False):
        if later.start < earlier.end:
            raise ValueError(f"{later} overlaps or precedes {earlier}")
    return ranges


DayHours = Annotated[
    tuple[TimeRange, ...],
    AfterValidator(_check_day_hours),
    PlainSerializer(lambda ranges: [str(item) for item in ranges], return_type=list[str]),
]
"""One local day's working hours, in order and not overlapping."""


# --- sections --------------------------------------------------------------------------------


class VerificationPolicy(_Frozen):
    """先验证后服务: what needs a verified caller, and how verification works."""

    required_for: tuple[RequestType, ...]
    """Request types that need a caller verified in the current contact."""
    required_for_account_data: tuple[AccountData, ...]
    """Account data that need a verified caller to be read out or changed."""
    required_for_service_requests: tuple[ServiceRequestKind, ...] = tuple(ServiceRequestKind)
    """Service requests (plan change, add-on, …) that need a verified caller."""
    holder_must_verify: bool
    """Someone calling on behalf of the holder gets no such service until the holder verifies."""
    max_failures: PositiveInt
    """Failed checks for one customer within ``failure_window_hours`` that lock verification."""
    failure_window_hours: PositiveInt
    validity_minutes: PositiveInt
    """A verification holds for the contact it was made in, at most this many minutes."""
    personal_data_fields: tuple[PersonalDataField, ...] = Field(min_length=1)
    """What a personal-data check (资料核实) may ask."""
    personal_data_required_matches: PositiveInt
    """How many of those must match for the check to pass."""

    @model_validator(mode="after")
    def _enough_fields(self) -> VerificationPolicy:
        if len(set(self.personal_data_fields)) != len(self.personal_data_fields):
            raise ValueError("personal_data_fields: a field is listed twice")
        if self.personal_data_required_matches > len(self.personal_data_fields):
            raise ValueError(
                f"personal_data_required_matches ({self.personal_data_required_matches}) "
                f"exceeds the number of personal_data_fields ({len(self.personal_data_fields)})"
            )
        return self


class ArrearsPolicy(_Frozen):
    """欠费: callers owing more than ``refuse_above_cents`` are refused these request types."""

    refuse_request_types: tuple[RequestType, ...]
    refuse_above_cents: int = Field(ge=0, le=10**12)


class WeeklyHours(_Frozen):
    """Working hours of each weekday, local time; an empty list is a day off."""

    mon: DayHours
    tue: DayHours
    wed: DayHours
    thu: DayHours
    fri: DayHours
    sat: DayHours
    sun: DayHours

    @model_validator(mode="after")
    def _valid(self) -> WeeklyHours:
        if not any(self.by_weekday()):
            raise ValueError("a calendar needs working hours on at least one weekday")
        return self

    def by_weekday(self) -> tuple[tuple[TimeRange, ...], ...]:
        """Hours indexed like :meth:`datetime.date.weekday` (Monday is 0)."""
        return (self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun)


class CalendarSpec(_Frozen):
    """A business calendar: weekly hours, and China's public holidays if it observes them.

    On a public holiday there are no working hours; on a make-up workday (调休上班, a weekend
    day worked instead of a holiday) the hours are ``makeup_workday_hours``. Holidays and
    make-up workdays come from the ``holidays`` package; ``extra_holidays`` and
    ``extra_workdays`` add dates it does not know yet (a schedule published after the
    package's release).
    """

    timezone: Literal["Asia/Shanghai"]
    china_public_holidays: bool
    hours: WeeklyHours
    makeup_workday_hours: DayHours
    extra_holidays: tuple[date, ...]
    extra_workdays: tuple[date, ...]

    @model_validator(mode="after")
    def _valid(self) -> CalendarSpec:
        both = set(self.extra_holidays) & set(self.extra_workdays)
        if both:
            listed = ", ".join(sorted(day.isoformat() for day in both))
            raise ValueError(f"dates both extra holiday and extra workday: {listed}")
        return self


class DepartmentsPolicy(_Frozen):
    """Which calendar a department works on: by its kind, else the default."""

    default_calendar: str
    calendar_by_kind: dict[DepartmentKind, str]

    def calendar_name(self, kind: DepartmentKind | None) -> str:
        if kind is None:
            return self.default_calendar
        return self.calendar_by_kind.get(kind, self.default_calendar)


class ClockOverride(_Frozen):
    """Stricter budgets for a priority or a channel; absent keys keep the category's value."""

    dispatch_due: PositiveInt | None = None
    reply_due: PositiveInt | None = None
    resolution_due: PositiveInt | None = None
    callback_within: PositiveInt | None = None


class CallbackRule(_Frozen):
    """When the callback (回访) is due once the lead accepted the reply.

    The callback window opens ``days_after`` days after the acceptance (local date), at
    ``not_before`` local time, or at the first working instant of the callback calendar after
    that; the callback is due ``within`` business minutes after the window opens. "The day
    after, from 15:30" is ``days_after = 1``, ``not_before = "15:30"``.
    """

    days_after: int = Field(ge=0, le=30)
    not_before: TimeOfDay
    within: PositiveInt


class CategorySla(_Frozen):
    """Clock budgets of one request type, in business minutes of the clock's calendar."""

    dispatch_due: PositiveInt
    """From creation (or reopening) to dispatch by a lead."""
    reply_due: PositiveInt
    """From dispatch to the department's reply."""
    resolution_due: PositiveInt
    """From creation to a reply the lead accepts (the matter settled)."""
    callback: CallbackRule
    priority: dict[Priority, ClockOverride] = Field(default_factory=dict)
    channel: dict[Channel, ClockOverride] = Field(default_factory=dict)


class ClockCalendars(_Frozen):
    """Which calendar each clock runs on: a calendar name, or ``"department"``."""

    dispatch: str
    reply: str
    resolution: str
    callback: str

    def for_clock(self, kind: ClockKind) -> str:
        if kind is ClockKind.HQ_REPLY:  # headquarters owes it: on its own calendar
            return DEPARTMENT_CALENDAR
        return str(getattr(self, kind.value))


class SlaTable(_Frozen):
    """Clock budgets per request type, and when a warning comes before a deadline."""

    warning_percent: Percent
    """A warning is due when this share of a clock's budget is used up."""
    clock_calendar: ClockCalendars
    consultation: CategorySla
    bill_inquiry: CategorySla
    fault_report: CategorySla
    complaint: CategorySla
    service_request: CategorySla
    suggestion: CategorySla

    def for_category(self, category: RequestType) -> CategorySla:
        value = getattr(self, category.value)
        assert isinstance(value, CategorySla)
        return value


class ChasePolicy(_Frozen):
    """The complaint chase ladder after a missed reply deadline.

    A reminder (督促) to the owning department becomes due ``reminder_after_minutes`` after the
    reply breach and is on standard if made within ``reminder_within_minutes`` of the breach
    (wall-clock minutes), once per breach. Still unreplied ``escalation_grace`` business
    minutes (owning department's calendar) after the breach, an escalation to
    ``escalate_to`` is proposed, for the complaint lead to confirm. Once confirmed, the
    department's reply clock stops and headquarters owes its answer within ``hq_reply_due``
    business minutes (on the calendar of the department escalated to): a clock of its own,
    warned and breached like the others.
    """

    categories: tuple[RequestType, ...]
    reminder_after_minutes: NonNegativeInt
    reminder_within_minutes: PositiveInt
    escalation_grace: PositiveInt
    escalate_to: DepartmentKind
    hq_reply_due: PositiveInt

    @model_validator(mode="after")
    def _ordered(self) -> ChasePolicy:
        if self.reminder_after_minutes > self.reminder_within_minutes:
            raise ValueError("reminder_after_minutes exceeds reminder_within_minutes")
        return self


class MajorPolicy(_Frozen):
    """Major complaints (重大投诉) go to the supervisor at once."""

    sources: tuple[WorkOrderSource, ...]
    """Complaints from these sources are major (the regulator, media)."""
    repeat_complaint_count: int = Field(ge=2)
    """A customer's complaint is major when it is at least their N-th within the window."""
    repeat_complaint_window_days: PositiveInt


class RepeatCallerPolicy(_Frozen):
    """Same customer, same request type, within ``window_days``: a repeat caller."""

    window_days: PositiveInt


_HOLIDAY_YEARS = range(2020, 2031)


@cache
def _china_holiday_names_in(year: int) -> frozenset[str]:
    from desk.rules.china_holidays import china

    table = china()(years=year, language="en_US")
    return frozenset(
        str(name)
        for name in table.values()
        if not str(name).startswith("Day off") and not str(name).endswith("(observed)")
    )


def china_holiday_names() -> frozenset[str]:
    """The English names of China's public holidays (not the moved days off nor the
    observed days) as the ``holidays`` package gives them, over the years 2020–2030."""
    return frozenset().union(*(_china_holiday_names_in(year) for year in _HOLIDAY_YEARS))


def unknown_china_holidays(names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` that are no holiday of China in :func:`china_holiday_names`. The
    years are read one at a time until every name is found (one year usually holds them
    all: a policy loads in a few milliseconds, not the ~0.1 s of eleven years' tables)."""
    missing = set(names)
    for year in _HOLIDAY_YEARS:
        if not missing:
            break
        missing -= _china_holiday_names_in(year)
    return [name for name in names if name in missing]


class SurveyPlan(_Frozen):
    """Which contacts get a satisfaction survey (满意度回访)."""

    request_types: tuple[RequestType, ...] = Field(min_length=1)
    """Contacts about these request types, ended with an outcome in ``outcomes``."""
    outcomes: tuple[ContactOutcome, ...] = Field(min_length=1)
    sample_percent: Percent
    """The share of those contacts surveyed, chosen by the contact's id (so a second run of
    the plan picks the same contacts)."""
    after_hours: NonNegativeInt
    """The survey is due this long after the contact ended (then within calling hours)."""
    lookback_hours: PositiveInt
    """The plan looks at contacts ended at most this long ago."""
    kind: CallbackKind


class GreetingPlan(_Frozen):
    """Birthday and holiday greetings (生日/节日关怀) for VIP and big customers."""

    tiers: tuple[Tier, ...]
    """Customers of these tiers are greeted ..."""
    big_customer_classes: tuple[BigCustomerClass, ...]
    """... and big customers of these classes."""
    holidays: tuple[str, ...]
    """China's public holidays greeted, by the English name the ``holidays`` package gives
    them (``"National Day"``); greeted on the holiday's first day."""
    at: TimeOfDay
    """Local time of day a greeting is due."""
    birthday_kind: CallbackKind
    holiday_kind: CallbackKind

    @model_validator(mode="after")
    def _known_holidays(self) -> GreetingPlan:
        if len(set(self.holidays)) != len(self.holidays):
            raise ValueError("holidays: a holiday is listed twice")
        unknown = unknown_china_holidays(self.holidays)
        if unknown:
            raise ValueError(
                f"holidays: {', '.join(map(repr, unknown))} is not a holiday of China "
                f"(known: {', '.join(sorted(china_holiday_names()))})"
            )
        return self


class WinBackPlan(_Frozen):
    """Win-back calls (挽留/回流) to members not seen for a while."""

    inactive_days: PositiveInt
    """Members (``kpi.member_tiers``) with no customer-driven activity for this long."""
    repeat_after_days: PositiveInt
    """A member already called is not planned again within this many days."""
    daily_limit: PositiveInt
    """At most this many win-back calls are planned a day, the longest unseen first."""
    kind: CallbackKind


class ApologyPlan(_Frozen):
    """Apology calls (致歉回访) after serious complaints: major ones, or escalated to
    headquarters (escalation level ``min_escalation_level`` or higher), once closed."""

    min_escalation_level: int = Field(ge=1, le=3)
    lookback_days: PositiveInt
    """The plan looks at complaints closed at most this many days ago."""
    after_hours: NonNegativeInt
    """Due this long after the complaint closed (then within calling hours)."""
    kind: CallbackKind


class CallbacksPolicy(_Frozen):
    max_attempts: PositiveInt
    """Unreachable after this many tries closes the callback as unreachable."""
    survey_min_interval_days: PositiveInt
    """A customer is not surveyed more than once within this many days."""
    retry_after_minutes: PositiveInt
    """A try that did not reach the customer comes back due this much later."""
    calling_hours: DayHours = Field(min_length=1)
    """Local hours, every day, in which customers are called (or sent an SMS or visited)."""
    horizon_hours: PositiveInt
    """The plan adds what falls due within this many hours of its run."""
    survey: SurveyPlan
    greeting: GreetingPlan
    win_back: WinBackPlan
    apology: ApologyPlan


class ShiftSpec(_Frozen):
    """One shift of the day's pattern: its name and the local time it starts."""

    name: Annotated[str, Field(min_length=1, max_length=32)]
    starts: TimeOfDay


class ShiftsPolicy(_Frozen):
    """The center's shifts (班次), every day alike in local time (Asia/Shanghai): each shift
    ends where the next one starts, the last one where the first starts the next day."""

    pattern: tuple[ShiftSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> ShiftsPolicy:
        starts = [spec.starts for spec in self.pattern]
        if starts != sorted(set(starts)):
            raise ValueError("pattern: shifts must start in order of the day, each at its own time")
        return self


class ScoreItem(_Frozen):
    """One line of a score card: its key, its names, and its weight in the total."""

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    name: Annotated[str, Field(min_length=1, max_length=40)]
    """Its name in Chinese."""
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    """Its name in English."""
    weight: PositiveInt
    """Points of the total; the weights of a card add up to 100."""


class ScoreCard(_Frozen):
    """A quality score card (质检评分表) for a spot check of one kind of target."""

    target: SpotCheckTarget
    name: Annotated[str, Field(min_length=1, max_length=40)]
    name_en: Annotated[str, Field(min_length=1, max_length=60)]
    items: tuple[ScoreItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> ScoreCard:
        keys = [item.key for item in self.items]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ValueError(f"items: {', '.join(twice)} listed twice")
        total = sum(item.weight for item in self.items)
        if total != 100:
            raise ValueError(f"items: the weights add up to {total}, not 100")
        return self


class QualityPolicy(_Frozen):
    """Quality spot checks (暗访/抽查): each item is marked 0..``scale`` and counts for its
    weight; a check passes with ``pass_score`` points of 100 or more."""

    scale: int = Field(ge=1, le=10)
    pass_score: Percent
    cards: dict[str, ScoreCard] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_target(self) -> QualityPolicy:
        missing = sorted(set(SpotCheckTarget) - {card.target for card in self.cards.values()})
        if missing:
            raise ValueError(f"cards: no score card for {', '.join(missing)}")
        bad = sorted(name for name in self.cards if not re.fullmatch(r"[a-z][a-z0-9_]{0,15}", name))
        if bad:
            raise ValueError(f"cards: {', '.join(bad)} is not a card key (a-z, 0-9, _)")
        return self


class KpiPolicy(_Frozen):
    """Parameters of the figures in :mod:`desk.rules.kpi`."""

    short_abandon_seconds: NonNegativeInt
    """Calls abandoned within this many seconds of being offered do not count as offered."""
    service_level_seconds: PositiveInt
    """Service level: answered within this many seconds."""
    churn_inactivity_days: PositiveInt
    """A customer with no customer-driven activity for this many days has churned."""
    fcr_window_days: PositiveInt
    """First-contact resolution fails if the customer calls again about it within this."""
    voice_channels: tuple[Channel, ...] = Field(min_length=1)
    """Channels counted by the manual answer rate and service level."""
    member_tiers: tuple[Tier, ...]
    """Tiers that count as members for member churn."""
    satisfied_min_mark: int = Field(default=4, ge=1, le=5)
    """A satisfaction mark (1 very unhappy … 5 very happy) at least this counts as satisfied."""


class TargetsPolicy(_Frozen):
    """The center's targets, percentages (docs/policy.md, ``[targets]``)."""

    manual_answer_rate: Percent
    vip_answer_rate: Percent
    satisfaction: Percent
    complaint_satisfaction: Percent
    complaint_reply_rate: Percent
    complaint_on_standard: Percent
    complaint_closure: Percent
    churn_member_max: Percent
    churn_other_max: Percent
    amber_points: Annotated[float, Field(ge=0, le=100)] = 2.0
    """A figure within this many percentage points on the wrong side of its target is amber,
    further away red."""


class BigCustomerPolicy(_Frozen):
    """The big-customer value assessment: the class proposed by average monthly spend."""

    class_a_min_monthly_cents: NonNegativeInt = 30_000
    class_b_min_monthly_cents: NonNegativeInt = 15_000
    class_c_min_monthly_cents: NonNegativeInt = 8_000
    spend_months: PositiveInt = 3
    """Average spend over the latest this many billed months."""
    frequent_contacts: PositiveInt = 3
    """A customer with at least this many contacts in the period is a frequent caller."""

    @model_validator(mode="after")
    def _ordered(self) -> BigCustomerPolicy:
        if not (
            self.class_a_min_monthly_cents
            >= self.class_b_min_monthly_cents
            >= self.class_c_min_monthly_cents
        ):
            raise ValueError("class thresholds must not rise from A to C")
        return self


class StaffingPolicy(_Frozen):
    """Erlang C staffing: agents needed so that ``target_percent`` of calls are answered
    within ``answer_within_seconds``; ``shrinkage_percent`` of paid time is not on calls."""

    target_percent: Annotated[float, Field(gt=0, lt=100)]
    answer_within_seconds: PositiveInt
    shrinkage_percent: Annotated[float, Field(ge=0, lt=100)]
    max_occupancy_percent: Annotated[float, Field(gt=0, le=100)]
    default_handle_seconds: PositiveInt = 300
    """The average handling time assumed while no handled call of the period says better."""


class InboxPolicy(_Frozen):
    """Messages left outside a call (客户留言, 网上工单): how soon each channel's customers get
    a first response (a recorded answer, or a work order made of their message), in business
    minutes on ``calendar``."""

    calendar: str = "center"
    response_due: dict[InboxChannel, PositiveInt] = Field(
        default_factory=lambda: {
            InboxChannel.WEB: 240,
            InboxChannel.VOICEMAIL: 120,
            InboxChannel.WECHAT: 60,
            InboxChannel.QQ: 60,
            InboxChannel.EMAIL: 480,
        }
    )

    @model_validator(mode="after")
    def _every_channel(self) -> InboxPolicy:
        missing = [channel.value for channel in InboxChannel if channel not in self.response_due]
        if missing:
            raise ValueError(f"response_due has no value for {', '.join(missing)}")
        return self


class LoginPolicy(_Frozen):
    max_failures: PositiveInt
    """Failed logins within ``failure_window_minutes`` that lock the account."""
    failure_window_minutes: PositiveInt
    lock_minutes: PositiveInt


class RoutingPolicy(_Frozen):
    """Priority and department proposed for a new work order (the agent may change both).

    The department's kind comes from ``by_topic`` when the topic is listed there, else from
    ``by_request_type``; a kind of ``branch`` means the customer's own branch office when
    the customer has one. The priority is urgent when the contact came in on one of
    ``urgent_channels``, the customer's tier is in ``urgent_tiers``, the customer is a big
    customer and ``urgent_big_customer`` is set, or the topic is in ``urgent_topics``.
    """

    by_request_type: dict[RequestType, DepartmentKind]
    by_topic: dict[str, DepartmentKind] = Field(default_factory=dict)
    urgent_channels: tuple[Channel, ...] = ()
    urgent_tiers: tuple[Tier, ...] = ()
    urgent_big_customer: bool = False
    urgent_topics: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _every_type(self) -> RoutingPolicy:
        missing = [kind.value for kind in RequestType if kind not in self.by_request_type]
        if missing:
            raise ValueError(f"by_request_type lacks {', '.join(missing)}")
        return self


class Offer(_Frozen):
    """A plan or an add-on an agent can put on an account; fee in cents a month."""

    code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=64)
    monthly_fee_cents: NonNegativeInt


class OffersPolicy(_Frozen):
    """What a service request may change an account to (套餐, 增值业务/流量包)."""

    plans: tuple[Offer, ...] = Field(min_length=1)
    add_ons: tuple[Offer, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> OffersPolicy:
        codes = [offer.code for offer in (*self.plans, *self.add_ons)]
        twice = sorted({code for code in codes if codes.count(code) > 1})
        if twice:
            raise ValueError(f"offer codes listed twice: {', '.join(twice)}")
        return self

    def plan(self, code: str) -> Offer | None:
        return next((offer for offer in self.plans if offer.code == code), None)

    def add_on(self, code: str) -> Offer | None:
        return next((offer for offer in self.add_ons if offer.code == code), None)


class ContactsPolicy(_Frozen):
    """Contacts on the agent's console."""

    ring_timeout_seconds: PositiveInt
    """A call rung to an agent and not taken within this is stored as abandoned."""
    service_password_length: PositiveInt = 6
    """A new service password has exactly this many digits."""


class Policy(_Frozen):
    """The whole policy in force."""

    version: Literal[1]
    verification: VerificationPolicy
    arrears: ArrearsPolicy
    calendars: dict[str, CalendarSpec] = Field(min_length=1)
    departments: DepartmentsPolicy
    sla: SlaTable
    chase: ChasePolicy
    major: MajorPolicy
    repeat_caller: RepeatCallerPolicy
    callbacks: CallbacksPolicy
    kpi: KpiPolicy
    targets: TargetsPolicy
    staffing: StaffingPolicy
    login: LoginPolicy
    shifts: ShiftsPolicy
    quality: QualityPolicy
    routing: RoutingPolicy
    offers: OffersPolicy
    contacts: ContactsPolicy
    inbox: InboxPolicy = Field(default_factory=InboxPolicy)
    big_customers: BigCustomerPolicy = BigCustomerPolicy()

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Policy:
        if info.context and info.context.get(_SKIP_REFERENCES):
            return self
        problems = reference_problems(self.model_dump(mode="json"))
        if problems:
            raise ValueError("; ".join(str(problem) for problem in problems))
        return self

    def calendar_name_for(self, clock: ClockKind, department: DepartmentKind | None) -> str:
        """The calendar a clock runs on for a work order owned by a department of ``kind``."""
        name = self.sla.clock_calendar.for_clock(clock)
        if name == DEPARTMENT_CALENDAR:
            return self.departments.calendar_name(department)
        return name


# --- cross references ------------------------------------------------------------------------


def reference_problems(raw: Mapping[str, Any]) -> list[PolicyProblem]:
    """Calendar names used by ``departments`` and ``sla.clock_calendar`` that do not exist.

    Works on the raw (parsed TOML) data so that it can report alongside field errors.
    """
    calendars = raw.get("calendars")
    names = set(calendars) if isinstance(calendars, Mapping) else set()
    problems: list[PolicyProblem] = []

    def check(key: str, value: object, *, allow_department: bool = False) -> None:
        if not isinstance(value, str):
            return
        if allow_department and value == DEPARTMENT_CALENDAR:
            return
        if value not in names:
            known = ", ".join(sorted(names)) or "none defined"
            problems.append(PolicyProblem(key=key, message=f"unknown calendar {value!r} ({known})"))

    departments = raw.get("departments")
    if isinstance(departments, Mapping):
        check("departments.default_calendar", departments.get("default_calendar"))
        by_kind = departments.get("calendar_by_kind")
        if isinstance(by_kind, Mapping):
            for kind, value in by_kind.items():
                check(f"departments.calendar_by_kind.{kind}", value)
    sla = raw.get("sla")
    if isinstance(sla, Mapping):
        clock_calendar = sla.get("clock_calendar")
        if isinstance(clock_calendar, Mapping):
            for clock, value in clock_calendar.items():
                check(f"sla.clock_calendar.{clock}", value, allow_department=True)
    inbox = raw.get("inbox")
    if isinstance(inbox, Mapping):
        check("inbox.calendar", inbox.get("calendar"))
    return problems


# --- loading ---------------------------------------------------------------------------------

_LINE_COLUMN = re.compile(r"\(at line (\d+), column (\d+)\)")


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        sign, bound = {
            "greater_than": (">", "gt"),
            "greater_than_equal": (">=", "ge"),
            "less_than": ("<", "lt"),
            "less_than_equal": ("<=", "le"),
        }[kind]
        return f"must be {sign} {ctx.get(bound)}"
    if kind in {"enum", "literal_error"}:
        return f"must be one of {ctx.get('expected')}, not {error['input']!r}"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"must be a whole number, not {error['input']!r}"
    if kind in {"float_type", "float_parsing"}:
        return f"must be a number, not {error['input']!r}"
    if kind in {"too_short", "too_long"}:
        return str(error["msg"]).lower()
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def _key(loc: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in loc if part != "[key]"]
    return ".".join(parts) or "(policy)"


def problems_from_validation(error: ValidationError) -> list[PolicyProblem]:
    """One :class:`PolicyProblem` per pydantic error, keyed by its location path."""
    return [PolicyProblem(key=_key(item["loc"]), message=_message(item)) for item in error.errors()]


def _parse(text: str) -> tuple[dict[str, Any] | None, list[PolicyProblem]]:
    try:
        return tomllib.loads(text), []
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _LINE_COLUMN.search(message)
        if match is None:
            return None, [PolicyProblem(key="(toml)", message=message)]
        reason = _LINE_COLUMN.sub("", message).strip()
        key = f"line {match.group(1)}, column {match.group(2)}"
        return None, [PolicyProblem(key=key, message=f"TOML syntax: {reason}")]


def validate_policy_text(text: str) -> tuple[Policy | None, list[PolicyProblem]]:
    """Parse and validate TOML text: the policy if sound, and every problem found."""
    raw, problems = _parse(text)
    if raw is None:
        return None, problems
    policy: Policy | None = None
    try:
        policy = Policy.model_validate(raw, context={_SKIP_REFERENCES: True})
    except ValidationError as error:
        problems.extend(problems_from_validation(error))
    problems.extend(reference_problems(raw))
    unique = list(dict.fromkeys(problems))
    return (policy if not unique else None), unique


def default_policy_text() -> str:
    """The TOML text of the policy shipped with desk."""
    return resources.files("desk.data").joinpath(DEFAULT_POLICY_RESOURCE).read_text("utf-8")


def _read(path: Path) -> tuple[str | None, list[PolicyProblem]]:
    try:
        return path.read_text(encoding="utf-8"), []
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return None, [PolicyProblem(key="(file)", message=f"cannot read {path}: {reason}")]


def check_policy_file(path: Path) -> list[PolicyProblem]:
    """Every problem of the policy file at ``path``; an empty list means it can be used."""
    text, problems = _read(path)
    if text is None:
        return problems
    return validate_policy_text(text)[1]


def load_policy(path: Path | None = None) -> Policy:
    """The policy in the file at ``path``, or the shipped default when ``path`` is None.

    Raises :class:`PolicyError` listing every problem when the file cannot be used; the
    console calls this at start and refuses to run on a broken policy.
    """
    return load_policy_source(path)[0]


def load_policy_source(path: Path | None = None) -> tuple[Policy, str]:
    """:func:`load_policy`, and the text the policy was read from (one read of the file)."""
    if path is None:
        text, source = default_policy_text(), "the shipped policy"
    else:
        read, problems = _read(path)
        if read is None:
            raise PolicyError(problems, source=str(path))
        text, source = read, str(path)
    policy, problems = validate_policy_text(text)
    if policy is None:
        raise PolicyError(problems, source=source)
    return policy, text


# --- showing ---------------------------------------------------------------------------------


def policy_text(policy: Policy, source: str) -> str:
    """The policy in force as TOML: ``source`` (the text it was loaded from) with its comments,
    units and layout kept, and every key the file leaves to its default added where it
    belongs, marked ``# default``. Reads back to an equal policy."""
    import tomlkit

    document = tomlkit.parse(source)

    def fill(table: MutableMapping[str, Any], values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if key not in table:
                if isinstance(value, Mapping) and not value:
                    continue  # an empty table says nothing
                item = tomlkit.item(value)
                item.comment("default")
                table[key] = item
            elif isinstance(value, Mapping) and isinstance(table[key], MutableMapping):
                fill(table[key], value)

    fill(document, policy.model_dump(mode="json", exclude_none=True))
    return tomlkit.dumps(document)
