"""Customers, their phones and accounts (generated row by row), then bills and payments
(set-based SQL over the accounts) and itemized records for a bounded sample."""

from __future__ import annotations

import math
import random
import zlib
from array import array
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import column, select, table

from desk.demo.catalog import PLANS, PLANS_BY_TIER
from desk.demo.geography import CITIES, MIGRANT_DIVISIONS
from desk.demo.model import SERVICE_PASSWORDS
from desk.demo.people import IdCards, MobileNumbers, People, fixed_line, lookup_table
from desk.demo.sink import Row
from desk.demo.world import (
    ARREARS,
    ARREARS3,
    BIG,
    CHURNED,
    DAY,
    LOCAL_OFFSET,
    MEMBER,
    NO_BILLS,
    SUSPENDED,
    VIP,
    World,
)
from desk.rules.names import name_keys, part_keys, surname_of
from desk.rules.vocab import BigCustomerClass, CustomerStatus, Tier

TIERS = tuple(Tier)
_TIER_WEIGHTS = ((0, 70.0), (1, 15.0), (2, 9.0), (3, 4.0), (4, 2.0))
_AGES = tuple(
    (age, 1.0 if age < 25 else 1.6 if age < 56 else 1.1 if age < 66 else 0.6)
    for age in range(18, 86)
)
_BIG_CLASSES = ((BigCustomerClass.A, 10.0), (BigCustomerClass.B, 30.0), (BigCustomerClass.C, 60.0))
_STATUS_SUSPENDED = 0.03
_STATUS_CLOSED = 0.015
_ARREARS_ACTIVE = 0.055
_CHURN = {True: 0.12, False: 0.24}  # members, others


def draw_customers(w: World) -> None:
    """What the rest of the demo needs to know about every customer, drawn first: tier,
    membership, big customer, status and arrears, city, birthday, and the last activity
    (contacts drawn next move it forward). Kept in compact arrays on ``w``."""
    r = w.rng.random
    tiers = lookup_table(_TIER_WEIGHTS, 1000)
    city_table = lookup_table([(i, city.population) for i, city in enumerate(CITIES)], 1024)
    ages = lookup_table(_AGES, 2000)
    n, now = w.n, w.now_s
    today = datetime.fromtimestamp(now + LOCAL_OFFSET, UTC).date()
    jan1 = {age: date(today.year - age, 1, 1).toordinal() for age in range(18, 90)}
    flags = bytearray(n)
    tier_of = bytearray(n)
    cities = bytearray(n)
    births = array("l", [0]) * n
    last = w.last_activity
    churn_member, churn_other = _CHURN[True], _CHURN[False]
    closed, suspended = _STATUS_CLOSED, _STATUS_CLOSED + _STATUS_SUSPENDED
    for i in range(n):
        tier: int = tiers[int(r() * 1000)]
        bits = VIP if tier >= 2 else 0
        if tier >= 1 or r() < 0.08:
            bits |= MEMBER
        if r() < 0.015:
            bits |= BIG | VIP
        roll = r()
        if roll < closed:
            bits |= NO_BILLS
        elif roll < suspended:
            bits |= ARREARS | SUSPENDED | (ARREARS3 if r() < 0.33 else 0)
        elif r() < _ARREARS_ACTIVE:
            bits |= ARREARS
        if bits & NO_BILLS or r() < (churn_member if bits & MEMBER else churn_other):
            bits |= CHURNED
            last.append(now - int((61 + r() * 400) * DAY))
        else:
            last.append(now - int(60 * DAY * r() * r()))  # skewed towards the last days
        flags[i] = bits
        tier_of[i] = tier
        cities[i] = city_table[int(r() * 1024)]
        births[i] = jan1[ages[int(r() * 2000)]] + int(r() * 365)
    w.flags, w.tiers, w.cities, w.births = flags, tier_of, cities, births


def _periods(w: World) -> list[tuple[str, date, int]]:
    """The billing periods shown in the demo: (YYYY-MM, due date, issued instant), oldest
    first — at least three months, so some bills are always overdue."""
    today = datetime.fromtimestamp(w.now_s + LOCAL_OFFSET, UTC).date()
    months = max(3, min(12, math.ceil(w.params.days / 30)))
    result = []
    year, month = today.year, today.month
    for back in range(months, 0, -1):
        y, m = year, month - back
        while m < 1:
            y, m = y - 1, m + 12
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        issued_local = datetime(ny, nm, 1, 2, 0, tzinfo=UTC)
        issued = int(issued_local.timestamp()) - LOCAL_OFFSET
        result.append((f"{y:04d}-{m:02d}", date(ny, nm, 20), issued))
    return result


def greetings_due(w: World, days: int = 7) -> list[tuple[int, date]]:
    """VIP and big customers whose birthday falls in the next ``days`` local days."""
    today = datetime.fromtimestamp(w.now_s + LOCAL_OFFSET, UTC).date()
    upcoming = {
        (day.month, day.day): day for day in (today + timedelta(days=k) for k in range(1, days + 1))
    }
    found = []
    for i in range(w.n):
        if w.flags[i] & VIP and not w.flags[i] & NO_BILLS:
            born = date.fromordinal(w.births[i])
            day = upcoming.get((born.month, born.day))
            if day is not None:
                found.append((i, day))
    return found


CUSTOMER_COLUMNS = (
    "id",
    "customer_no",
    "name",
    "name_spaced",
    "name_pinyin",
    "name_initials",
    "id_card_no",
    "id_card_rev",
    "service_password_hash",
    "tier",
    "is_member",
    "big_customer_class",
    "account_manager_name",
    "account_manager_phone",
    "birthday",
    "address",
    "region",
    "branch_id",
    "status",
    "balance_cents",
    "arrears_cents",
    "arrears_since",
    "member_since",
    "last_activity_at",
    "verification_locked_at",
    "created_at",
)
PHONE_COLUMNS = ("id", "customer_id", "phone", "phone_rev", "kind", "is_primary")


class _Keys:
    """Search keys of a name, composed from cached keys of its surname (``name_keys``: read
    as a surname) and given name (``part_keys``: each character on its own); the parts
    concatenate to what ``name_keys`` gives for the whole name. Where the surname and the
    given name's first character make a longer surname (``surname_of``, which reads the
    first two characters only), the name's own keys."""

    def __init__(self) -> None:
        self._surnames: dict[str, tuple[str, str, str]] = {}
        self._given: dict[str, tuple[str, str, str]] = {}
        self._longer: dict[str, tuple[str, str, str]] = {}
        self._heads: dict[str, str | None] = {}

    def of(self, surname: str, given: str, name: str) -> tuple[str, str, str]:
        """(spaced, pinyin, initials) of ``name``, which is ``surname + given``."""
        head = name[:2]
        read = self._heads.get(head, "")
        if read == "":
            read = self._heads[head] = surname_of(head)
        if read is not None and read != surname:
            found = self._longer.get(name)
            if found is None:
                keys = name_keys(name)
                found = self._longer[name] = (keys.spaced, keys.pinyin, keys.initials)
            return found
        first = self._surnames.get(surname)
        if first is None:
            keys = name_keys(surname)
            first = self._surnames[surname] = (keys.spaced, keys.pinyin, keys.initials)
        rest = self._given.get(given)
        if rest is None:
            keys = part_keys(given)
            rest = self._given[given] = (keys.spaced, keys.pinyin, keys.initials)
        return (first[0] + " " + rest[0], first[1] + rest[1], first[2] + rest[2])


def customer_rows(w: World, service_hashes: list[str]) -> Iterator[Row]:
    """Every customer row, from the drawn arrays and a random stream of its own (so the rows
    are the same whether they are made here or in a helper process)."""
    rng = random.Random(w.params.seed * 1_000_003 + 11)
    r = rng.random
    people = People(rng)
    ids = IdCards()
    stamps = w.stamps
    now = w.now_s
    today = datetime.fromtimestamp(now + LOCAL_OFFSET, UTC).date()
    today_ordinal = today.toordinal()
    big_classes = [c.value for c in lookup_table(_BIG_CLASSES, 100)]
    mobiles = MobileNumbers(w.params.seed)
    managers = [
        (people.name(r() < 0.5), mobiles.number(w.n + k)) for k in range(max(4, w.n // 20_000))
    ]
    # Addresses come from a pool per district (people share buildings; generating one
    # per customer would cost more than the rest of the row).
    pool = max(20, w.n // 500)
    districts = [
        [
            (code, f"{city.name}{district}", [people.address(city, district) for _ in range(pool)])
            for code, district in city.districts
        ]
        for city in CITIES
    ]
    periods = _periods(w)
    due_dates = [due.isoformat() for _, due, _ in periods if due < today]
    surnames = people.surnames
    male_chars, female_chars = people.male_chars, people.female_chars
    keys = _Keys()
    days: dict[int, str] = {}
    tier_names = [tier.value for tier in TIERS]
    slots: list[str | None] = [*service_hashes, None]  # slot -1: no password
    flags, tiers, cities, births, last_activity = (
        w.flags,
        w.tiers,
        w.cities,
        w.births,
        w.last_activity,
    )
    branch_ids = w.branch_ids
    active, closed, suspended = (
        CustomerStatus.ACTIVE.value,
        CustomerStatus.CLOSED.value,
        CustomerStatus.SUSPENDED.value,
    )
    migrants = MIGRANT_DIVISIONS

    def day(ordinal: int) -> str:
        text = days.get(ordinal)
        if text is None:
            text = days[ordinal] = date.fromordinal(ordinal).isoformat()
        return text

    male_count, female_count = len(male_chars), len(female_chars)
    keys_of = keys.of
    id_card_of = ids.number
    for i in range(w.n):
        cid = i + 1
        bits = flags[i]
        male = r() < 0.51
        surname = surnames[int(r() * 8192)]
        if male:
            given = male_chars[int(r() * male_count)]
            if r() >= 0.18:
                given += male_chars[int(r() * male_count)]
        else:
            given = female_chars[int(r() * female_count)]
            if r() >= 0.18:
                given += female_chars[int(r() * female_count)]
        name = surname + given
        spaced, pinyin, initials = keys_of(surname, given, name)
        city = cities[i]
        city_districts = districts[city]
        division, region, city_addresses = city_districts[int(r() * len(city_districts))]
        birth = day(births[i])
        if r() < 0.16:
            division = migrants[int(r() * len(migrants))]
        id_card = id_card_of(division, birth, 2 * int(r() * 500) + male)
        number = f"C{cid:09d}"
        big = manager = manager_phone = None
        if bits & BIG:
            big = big_classes[int(r() * 100)]
            manager, manager_phone = managers[int(r() * len(managers))]
        last = last_activity[i]
        created = min(last - DAY, now - int((30 + r() * 5_475) * DAY))
        member_since = None
        if bits & MEMBER:
            created_ordinal = (created + LOCAL_OFFSET) // DAY + 719_163
            member_since = day(created_ordinal + int(r() * (today_ordinal - created_ordinal)))
        status = active
        arrears_since = None
        balance = int(r() * 30_000)
        if bits & NO_BILLS:
            status, balance = closed, 0
        elif bits & ARREARS:
            back = (3 if bits & ARREARS3 else 2) if bits & SUSPENDED else 1
            arrears_since = due_dates[-min(back, len(due_dates))]
            balance = 0
            if bits & SUSPENDED:
                status = suspended
        yield (
            cid,
            number,
            name,
            spaced,
            pinyin,
            initials,
            id_card,
            id_card[::-1],
            slots[_password_slot(number)],
            tier_names[tiers[i]],
            1 if bits & MEMBER else 0,
            big,
            manager,
            manager_phone,
            birth,
            city_addresses[int(r() * len(city_addresses))],
            region,
            branch_ids[city],
            status,
            balance,
            0,
            arrears_since,
            member_since,
            stamps(last),
            None,
            stamps(created),
        )


def phone_rows(w: World, primary: list[str]) -> Iterator[Row]:
    """Every customer's primary mobile (``primary``, customer by customer), and a second
    number (landline or mobile) for some, numbered in the order of the phone number: the
    unique index on it then fills in order instead of at random. Numbers are unique, so they
    alone order the rows (comparing whole tuples cost four times as much)."""
    found: list[tuple[str, int, str, int]] = [
        (phone, customer, "mobile", 1) for customer, phone in enumerate(primary, start=1)
    ]
    mobiles = MobileNumbers(w.params.seed)
    r = random.Random(w.params.seed * 1_000_003 + 13).random
    first_extra = w.n + max(4, w.n // 20_000)
    extra = 0
    for i in range(w.n):
        if r() < 0.08:
            extra += 1
            if r() < 0.6:
                found.append(
                    (fixed_line(CITIES[w.cities[i]], extra, w.params.seed), i + 1, "fixed", 0)
                )
            else:
                found.append((mobiles.number(first_extra + extra), i + 1, "mobile", 0))
    found.sort(key=itemgetter(0))
    return (
        (index, customer, phone, phone[::-1], kind, is_primary)
        for index, (phone, customer, kind, is_primary) in enumerate(found, start=1)
    )


def write_customers(w: World, service_hashes: list[str]) -> None:
    """Customers with their search keys."""
    w.sink.insert("customer", CUSTOMER_COLUMNS, customer_rows(w, service_hashes))


def write_phones(w: World) -> None:
    """Every phone; the primary mobiles are kept on ``w`` for the contacts' caller numbers."""
    w.phones = MobileNumbers(w.params.seed).numbers(w.n)
    w.sink.insert("customer_phone", PHONE_COLUMNS, phone_rows(w, w.phones))


def bill_item_sample(w: World, size: int, first: int) -> list[int]:
    """Whose 详单 the demo holds: the first ``first`` customers (for testers) and those who
    contacted the center in the last 7 days, at most ``size`` ids."""
    chosen = set(range(1, min(w.n, first) + 1))
    since = w.now_s - 7 * DAY
    times, who = w.contact_times, w.contact_customers
    for index in range(len(times) - 1, -1, -1):
        if times[index] < since or len(chosen) >= size:
            break
        if who[index] >= 0:
            chosen.add(who[index] + 1)
    return sorted(chosen)


def write_accounts(w: World) -> int:
    """One account per customer, set-based: the plan is drawn by a hash of the customer id
    from a per-tier table of plans weighted like :data:`PLANS_BY_TIER`. Account ids come from
    the table's own sequence, in customer order; every expression over an id is 64-bit, so a
    database whose sequences are far along builds the same accounts, bills and payments."""
    sink = w.sink
    picks: list[Row] = []
    for index, tier in enumerate(TIERS):
        table = lookup_table(list(PLANS_BY_TIER[tier]), 100)
        for slot, code in enumerate(table):
            plan = next(plan for plan in PLANS if plan.code == code)
            picks.append((tier.value, slot, plan.code, plan.name, plan.monthly_fee_cents))
        del index
    if sink.is_sqlite:
        sink.connection.exec_driver_sql(
            "CREATE TEMP TABLE demo_plan_pick (tier TEXT, slot INTEGER, code TEXT, name TEXT, "
            "fee INTEGER, PRIMARY KEY (tier, slot))"
        )
        number = "printf('A%010d', c.id)"
        opened = "substr(c.created_at, 1, 10)"
    else:
        sink.connection.exec_driver_sql(
            "CREATE TEMP TABLE demo_plan_pick (tier TEXT, slot INTEGER, code TEXT, name TEXT, "
            "fee INTEGER, PRIMARY KEY (tier, slot)) ON COMMIT DROP"
        )
        number = "'A' || lpad(c.id::text, 10, '0')"
        opened = "CAST(c.created_at AS date)"
    sink.insert("demo_plan_pick", ("tier", "slot", "code", "name", "fee"), picks)
    # ``number`` and ``opened`` are this dialect's spelling of two expressions, chosen from the
    # constants above: no value is formatted into the statement (the seed is a bound parameter).
    count = sink.execute(
        f"""
        INSERT INTO account (customer_id, account_no, plan_code, plan_name,
                             monthly_fee_cents, status, opened_on)
        SELECT c.id, {number}, p.code, p.name, p.fee,
               CASE c.status WHEN 'closed' THEN 'closed' WHEN 'suspended' THEN 'suspended'
                    ELSE 'active' END,
               {opened}
        FROM customer c
        JOIN demo_plan_pick p
          ON p.tier = c.tier AND p.slot = (CAST(c.id AS BIGINT) * 2654435761 + :salt) % 100
        ORDER BY c.id
        """,  # noqa: S608 - constant fragments, see above
        {"salt": w.params.seed * 31 + 5},
    )
    sink.connection.exec_driver_sql("DROP TABLE demo_plan_pick")
    sink.rows_written.pop("demo_plan_pick", None)
    sink.rows_written["account"] = count
    return count


def _password_slot(number: str) -> int:
    """Index into the per-build password hashes; -1 for no password (see
    :func:`~desk.demo.model.demo_service_password`, which this mirrors)."""
    digest = zlib.crc32(number.encode())
    if digest % 32 == 0:
        return -1
    return (digest // 32) % len(SERVICE_PASSWORDS)


def _plus_seconds(w: World, column: str, seconds: str) -> str:
    """SQL for ``column`` (an instant) plus an integer expression of seconds, stored form."""
    if w.sink.is_sqlite:
        return (
            f"strftime('%Y-%m-%d %H:%M:%S', {column}, '+' || ({seconds}) || ' seconds') "
            "|| '.000000'"
        )
    return f"{column} + ({seconds}) * interval '1 second'"


def write_bills(w: World) -> None:
    """Monthly bills of every account, and a payment for each paid bill, set-based: one
    statement each, over the accounts crossed with the periods, in (account, period) order
    so the unique (account, period) index fills in order.

    Amounts vary by a multiplicative hash of the account id and the seed. A customer in
    arrears has every bill due on or after ``arrears_since`` unpaid (some partly paid);
    the newest bill, when not due yet, is unpaid for some customers without arrears. A
    closed account has only its oldest bill.
    """
    sink = w.sink
    today = datetime.fromtimestamp(w.now_s + LOCAL_OFFSET, UTC).date()
    salt = w.params.seed * 7_919 + 17
    if sink.is_sqlite:
        sink.connection.exec_driver_sql(
            "CREATE TEMP TABLE demo_period (idx INTEGER PRIMARY KEY, period TEXT, due TEXT, "
            "issued TEXT, salt INTEGER, pay_limit INTEGER)"
        )
    else:
        sink.connection.exec_driver_sql(
            "CREATE TEMP TABLE demo_period (idx INTEGER PRIMARY KEY, period TEXT, due DATE, "
            "issued TIMESTAMPTZ, salt BIGINT, pay_limit INTEGER) ON COMMIT DROP"
        )
    sink.insert(
        "demo_period",
        ("idx", "period", "due", "issued", "salt", "pay_limit"),
        [
            (
                index,
                period,
                due.isoformat(),
                w.stamps(issued),
                salt + index * 1_000_003,
                max(60, min(18 * DAY, w.now_s - issued)),
            )
            for index, (period, due, issued) in enumerate(_periods(w))
        ],
    )
    sink.rows_written.pop("demo_period", None)
    today_value: Any = today if not sink.is_sqlite else today.isoformat()
    sink.execute(
        """
        INSERT INTO bill (account_id, customer_id, period, amount_cents, paid_cents,
                          due_date, status, issued_at)
        SELECT id, customer_id, period, amount,
               CASE WHEN unpaid = 0 THEN amount WHEN partial = 1 THEN amount * 3 / 10
                    ELSE 0 END,
               due,
               CASE WHEN unpaid = 0 THEN 'paid' WHEN partial = 1 THEN 'partial'
                    ELSE 'unpaid' END,
               issued
        FROM (
            SELECT x.id, x.customer_id, x.period, x.due, x.issued, x.idx,
                   x.fee + (x.h % (x.fee / 3 + 800))
                     - CASE WHEN x.h % 9 = 0 THEN x.fee / 4 ELSE 0 END AS amount,
                   CASE WHEN c.arrears_since IS NOT NULL AND x.due >= c.arrears_since THEN 1
                        WHEN x.due >= :today AND x.h % 10 < 4 THEN 1
                        ELSE 0 END AS unpaid,
                   CASE WHEN x.h % 5 = 0 AND x.due < :today THEN 1 ELSE 0 END AS partial
            FROM (
                SELECT a.id, a.customer_id, a.monthly_fee_cents AS fee, p.idx, p.period,
                       p.due, p.issued, (CAST(a.id AS BIGINT) * 2654435761 + p.salt) % 1000003 AS h
                FROM account a CROSS JOIN demo_period p
                WHERE a.status <> 'closed' OR p.idx = 0
            ) x
            JOIN customer c ON c.id = x.customer_id
        ) s
        ORDER BY id, idx
        """,
        {"today": today_value},
    )
    # _plus_seconds spells "instant plus seconds" in this dialect over two constant SQL
    # expressions: no value is formatted into the statement.
    sink.execute(
        f"""
        INSERT INTO payment (customer_id, account_id, paid_at, amount_cents, channel)
        SELECT b.customer_id, b.account_id,
               {_plus_seconds(w, "b.issued_at", "(b.account_id * 40503 + p.salt) % p.pay_limit")},
               b.paid_cents,
               CASE (b.account_id + p.idx) % 10 WHEN 0 THEN 'counter' WHEN 1 THEN 'card'
                    WHEN 2 THEN 'bank' WHEN 3 THEN 'bank' ELSE 'app' END
        FROM (SELECT customer_id, CAST(account_id AS BIGINT) AS account_id, id, period,
                     issued_at, paid_cents FROM bill) b
        JOIN demo_period p ON p.period = b.period
        WHERE b.paid_cents > 0
        ORDER BY b.id
        """  # noqa: S608 - constant fragments, see above
    )
    sink.connection.exec_driver_sql("DROP TABLE demo_period")


def settle_arrears(w: World) -> int:
    today = datetime.fromtimestamp(w.now_s + LOCAL_OFFSET, UTC).date()
    return w.sink.execute(
        """
        UPDATE customer SET arrears_cents = (
            SELECT COALESCE(SUM(b.amount_cents - b.paid_cents), 0) FROM bill b
            WHERE b.customer_id = customer.id AND b.due_date < :today AND b.status <> 'paid')
        WHERE arrears_since IS NOT NULL
        """,
        {"today": today if not w.sink.is_sqlite else today.isoformat()},
    )


def write_bill_items(w: World, customer_ids: list[int]) -> None:
    """Itemized records (详单) of the last two bills of ``customer_ids`` only: a full 详单 for
    every customer would dwarf the rest of the database."""
    if not customer_ids:
        return
    sink, stamps = w.sink, w.stamps
    r = random.Random(w.params.seed * 1_000_003 + 17).random
    periods = [period for period, _, _ in _periods(w)][-2:]
    bills: list[tuple[int, int, str]] = []
    bill = table("bill", column("id"), column("customer_id"), column("period"))
    for start in range(0, len(customer_ids), 500):
        chunk = customer_ids[start : start + 500]
        query = (
            select(bill.c.id, bill.c.customer_id, bill.c.period)
            .where(bill.c.customer_id.in_(chunk), bill.c.period.in_(periods))
            .order_by(bill.c.id)
        )
        bills.extend(
            (int(row[0]), int(row[1]), str(row[2])) for row in sink.connection.execute(query)
        )
    mobiles = MobileNumbers(w.params.seed + 1)

    def rows() -> Iterator[Row]:
        for bill_id, _customer, period in bills:
            year, month = int(period[:4]), int(period[5:])
            month_start = int(datetime(year, month, 1, tzinfo=UTC).timestamp()) - LOCAL_OFFSET
            for _ in range(12 + int(r() * 28)):
                at = month_start + int(r() * 28 * DAY)
                hour = (at + LOCAL_OFFSET) % DAY // 3600
                if hour < 7 and r() < 0.8:
                    at += 9 * 3600
                kind = r()
                if kind < 0.55:
                    seconds = int(20 + r() * r() * 900)
                    yield (
                        bill_id,
                        stamps(at),
                        "voice",
                        mobiles.number(int(r() * 10**7)),
                        seconds,
                        0 if r() < 0.85 else (seconds + 59) // 60 * 15,
                        "国内主叫" if r() < 0.7 else "国内被叫",
                    )
                elif kind < 0.75:
                    yield (
                        bill_id,
                        stamps(at),
                        "sms",
                        mobiles.number(int(r() * 10**7)),
                        1,
                        0 if r() < 0.8 else 10,
                        "国内短信",
                    )
                elif kind < 0.97:
                    kb = int(500 + r() * r() * 400_000)
                    yield (bill_id, stamps(at), "data", None, kb, 0, "国内通用流量")
                else:
                    yield (
                        bill_id,
                        stamps(at),
                        "value_added",
                        "12580",
                        1,
                        500 + int(r() * 3) * 500,
                        "彩铃/视频会员月功能费",
                    )

    sink.insert(
        "bill_item",
        (
            "bill_id",
            "occurred_at",
            "kind",
            "counterpart",
            "quantity",
            "amount_cents",
            "description",
        ),
        rows(),
    )
