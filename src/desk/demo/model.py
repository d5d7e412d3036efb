"""The demo's parameters, what a build reports, and the facts testers may rely on."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from desk.infra.errors import InvalidInput
from desk.rules.vocab import Role

DEMO_PASSWORD = "demo123"

# The demo users, one per role (README, "The demo database"), all with the password ``demo123``.
DEMO_USERS: dict[str, Role] = {
    "agent1": Role.AGENT,
    "lead1": Role.LEAD,
    "complaint1": Role.COMPLAINT_LEAD,
    "handler1": Role.HANDLER,
    "supervisor1": Role.SUPERVISOR,
    "admin1": Role.ADMIN,
}

# A handful of 6-digit service passwords, each hashed once per build (argon2id per customer
# would take hours); a customer's password is a pure function of the customer number, so a
# tester can look it up with :func:`demo_service_password`.
SERVICE_PASSWORDS: tuple[str, ...] = (
    "135790",
    "246802",
    "314159",
    "271828",
    "520131",
    "778899",
    "602418",
    "909192",
)

MIN_CUSTOMERS = 100
MAX_CUSTOMERS = 5_000_000
MAX_DAYS = 365
MAX_BACKLOG = 2_000_000

Progress = Callable[[str, int, float], None]
"""Called after each step: what was generated, how many rows, seconds it took."""


def demo_service_password(customer_no: str) -> str | None:
    """The service password of a demo customer (None: the customer never set one).

    Deterministic from the customer number alone, whatever the seed: testers can verify a
    caller in the console without reading the database.
    """
    digest = zlib.crc32(customer_no.encode())
    if digest % 32 == 0:
        return None
    return SERVICE_PASSWORDS[(digest // 32) % len(SERVICE_PASSWORDS)]


def customer_no(customer_id: int) -> str:
    return f"C{customer_id:09d}"


@dataclass(frozen=True, slots=True)
class DemoParams:
    """What a demo database is built from; the same parameters build the same data.

    ``backlog`` adds that many open work orders on top of the normal flow (many overdue), for
    load tests of the sweep and the queues.
    """

    customers: int = 200_000
    days: int = 90
    seed: int = 1
    backlog: int = 0

    def __post_init__(self) -> None:
        if not MIN_CUSTOMERS <= self.customers <= MAX_CUSTOMERS:
            raise InvalidInput(
                f"must be between {MIN_CUSTOMERS} and {MAX_CUSTOMERS}", field="customers"
            )
        if not 1 <= self.days <= MAX_DAYS:
            raise InvalidInput(f"must be between 1 and {MAX_DAYS}", field="days")
        if self.seed < 0:
            raise InvalidInput("must not be negative", field="seed")
        if not 0 <= self.backlog <= MAX_BACKLOG:
            raise InvalidInput(f"must be between 0 and {MAX_BACKLOG}", field="backlog")

    def as_meta(self) -> dict[str, str]:
        return {
            "demo": "1",
            "demo_customers": str(self.customers),
            "demo_days": str(self.days),
            "demo_seed": str(self.seed),
            "demo_backlog": str(self.backlog),
        }

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> DemoParams | None:
        if meta.get("demo") != "1":
            return None
        try:
            return cls(
                customers=int(meta["demo_customers"]),
                days=int(meta["demo_days"]),
                seed=int(meta["demo_seed"]),
                backlog=int(meta.get("demo_backlog", "0")),
            )
        except (KeyError, ValueError, InvalidInput):
            return None


@dataclass(frozen=True)
class DemoSummary:
    params: DemoParams
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    built_at: str = ""
