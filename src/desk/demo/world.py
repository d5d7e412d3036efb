"""The state one demo build carries from step to step: time, ids, and compact per-customer
arrays (a million customers are never held as objects)."""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass, field

from desk.demo.model import DemoParams
from desk.demo.sink import Sink, Stamps
from desk.rules.policy import Policy
from desk.rules.vocab import DepartmentKind, Role

LOCAL_OFFSET = 8 * 3600  # Asia/Shanghai has no daylight saving: UTC+8 all year
DAY = 86_400
HOUR = 3_600
SHIFT_SECONDS = 8 * HOUR
SHIFT_NAMES = ("夜班", "早班", "中班")  # 00:00-08:00, 08:00-16:00, 16:00-24:00 local

# Bits of World.flags
VIP = 1  # gold and above, or a big customer: the VIP line
ARREARS = 2
MEMBER = 4
BIG = 8
CHURNED = 16  # drawn as not seen for more than two months
NO_BILLS = 32  # a closed account
SUSPENDED = 64  # two or more bills overdue: service suspended
ARREARS3 = 128  # suspended with three bills overdue


@dataclass
class World:
    sink: Sink
    params: DemoParams
    policy: Policy
    rng: random.Random
    now_s: int
    stamps: Stamps = field(default_factory=Stamps)
    # organisation
    branch_ids: list[int] = field(default_factory=list)  # per city index
    department_ids: dict[str, int] = field(default_factory=dict)  # code → id
    department_kinds: dict[int, DepartmentKind] = field(default_factory=dict)
    branch_departments: list[int] = field(default_factory=list)  # per city index
    staff: dict[Role, list[int]] = field(default_factory=dict)
    staff_names: dict[int, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)  # demo login → id
    handlers_by_department: dict[int, list[int]] = field(default_factory=dict)
    shift_leads: list[int] = field(default_factory=list)  # per shift index
    # customers (index i is customer id i + 1)
    flags: bytearray = field(default_factory=bytearray)
    cities: bytearray = field(default_factory=bytearray)
    tiers: bytearray = field(default_factory=bytearray)
    phones: list[str] = field(default_factory=list)  # primary mobile per customer index
    births: array[int] = field(default_factory=lambda: array("l"))  # date ordinals
    last_activity: array[int] = field(default_factory=lambda: array("q"))
    # contacts drawn before customers are written (their times set last_activity)
    contact_times: array[int] = field(default_factory=lambda: array("q"))
    contact_customers: array[int] = field(default_factory=lambda: array("l"))
    next_contact_id: int = 1
    next_work_order_id: int = 1
    next_event_id: int = 1
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.params.customers

    @property
    def start_s(self) -> int:
        return self.now_s - self.params.days * DAY

    @property
    def first_shift_s(self) -> int:
        """Local midnight of the first day, in UTC seconds: shift 0 starts there."""
        local = self.start_s + LOCAL_OFFSET
        return local - local % DAY - LOCAL_OFFSET

    @property
    def current_shift(self) -> int:
        return (self.now_s - self.first_shift_s) // SHIFT_SECONDS

    def shift_of(self, seconds: int) -> int:
        """The 0-based shift index holding an instant (its id is index + 1)."""
        return (seconds - self.first_shift_s) // SHIFT_SECONDS

    def local_hour(self, seconds: int) -> int:
        return (seconds + LOCAL_OFFSET) % DAY // HOUR

    def local_weekday(self, seconds: int) -> int:
        """0 Monday … 6 Sunday."""
        return ((seconds + LOCAL_OFFSET) // DAY + 3) % 7

    def department(self, code: str) -> int:
        return self.department_ids[code]
