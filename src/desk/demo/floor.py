"""The floor around the work orders: callbacks to make, shift handovers and notes,
verification attempts, the knowledge base and canned replies."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import column, delete, table

from desk.demo.catalog import SHIFT_NOTES
from desk.demo.contacts import REQUEST_TYPES, RT_INDEX, ContactMaker
from desk.demo.knowledge import shipped_articles, shipped_replies
from desk.demo.sink import Row
from desk.demo.work_orders import CALLBACK_COLUMNS, WorkOrderWriter
from desk.demo.world import (
    ARREARS,
    BIG,
    CHURNED,
    DAY,
    HOUR,
    LOCAL_OFFSET,
    MEMBER,
    NO_BILLS,
    SHIFT_SECONDS,
    VIP,
    World,
)
from desk.rules.calendar import china_public_holidays
from desk.rules.vocab import (
    CallbackKind,
    CallbackPurpose,
    CallbackStatus,
    RequestType,
    Role,
)
from desk.services.knowledge import rebuild_index


def _local_day_start(seconds: int) -> int:
    local = seconds + LOCAL_OFFSET
    return local - local % DAY - LOCAL_OFFSET


def write_callbacks(
    w: World,
    writer: WorkOrderWriter,
    maker: ContactMaker,
    greetings: Sequence[tuple[int, date]],
) -> None:
    """Work-order callbacks, then surveys, greetings, win-back and apology calls."""
    sink, stamps, r, now = w.sink, w.stamps, w.rng.random, w.now_s
    sink.insert("callback", CALLBACK_COLUMNS, writer.callbacks)
    tomorrow = _local_day_start(now) + DAY
    rows: list[Row] = []
    # Satisfaction surveys: recent callers, each at most once (policy: once in 30 days).
    surveyed: set[int] = set()
    times, customers = w.contact_times, w.contact_customers
    wanted = max(8, w.n // 2_000)
    index = len(times) - 1
    while index >= 0 and len(surveyed) < wanted and times[index] >= now - 2 * DAY:
        who = customers[index]
        if who >= 0 and who not in surveyed and r() < 0.2:
            surveyed.add(who)
            due = tomorrow + 10 * HOUR + int(r() * 8 * HOUR)
            kind = CallbackKind.PHONE if r() < 0.7 else CallbackKind.SMS
            rows.append(
                (
                    who + 1,
                    None,
                    kind.value,
                    CallbackPurpose.SURVEY.value,
                    stamps(due),
                    None,
                    CallbackStatus.PENDING.value,
                    0,
                    None,
                    None,
                    None,
                    stamps(times[index]),
                )
            )
        index -= 1
    # Birthday greetings for VIP and big customers.
    for who, birthday in greetings:
        due = (
            int(datetime(birthday.year, birthday.month, birthday.day, 10, tzinfo=UTC).timestamp())
            - LOCAL_OFFSET
        )
        rows.append(
            (
                who + 1,
                None,
                CallbackKind.PHONE.value,
                CallbackPurpose.GREETING.value,
                stamps(due),
                None,
                CallbackStatus.PENDING.value,
                0,
                None,
                "生日关怀",
                None,
                stamps(now - int(r() * DAY)),
            )
        )
    # Holiday greetings (SMS) to big customers before the next public holiday.
    holiday = _next_holiday(now)
    if holiday is not None:
        eve = datetime(holiday.year, holiday.month, holiday.day, tzinfo=UTC)
        due = int(eve.timestamp()) - LOCAL_OFFSET - DAY + 9 * HOUR
        big = [i for i in range(w.n) if w.flags[i] & BIG and not w.flags[i] & NO_BILLS]
        for who in big[: max(5, w.n // 5_000)]:
            rows.append(
                (
                    who + 1,
                    None,
                    CallbackKind.SMS.value,
                    CallbackPurpose.GREETING.value,
                    stamps(max(due, now + HOUR)),
                    None,
                    CallbackStatus.PENDING.value,
                    0,
                    None,
                    f"{holiday.isoformat()} 节日问候",
                    None,
                    stamps(now - DAY),
                )
            )
    # Win-back calls: members not seen for two months.
    lapsed = [
        i
        for i in range(w.n)
        if w.flags[i] & MEMBER
        and w.flags[i] & CHURNED
        and not w.flags[i] & NO_BILLS
        and w.last_activity[i] < now - 60 * DAY
    ]
    for who in lapsed[: max(10, w.n // 1_000)]:
        rows.append(
            (
                who + 1,
                None,
                CallbackKind.PHONE.value,
                CallbackPurpose.WIN_BACK.value,
                stamps(tomorrow + 9 * HOUR + int(r() * 2 * DAY)),
                None,
                CallbackStatus.PENDING.value,
                0,
                None,
                None,
                None,
                stamps(now - int(r() * DAY)),
            )
        )
    # Apology calls after major complaints; satisfaction calls after recent complaints.
    for who, closed in writer.closed_major:
        due = closed + DAY
        done = due + HOUR <= now
        rows.append(
            (
                who + 1,
                None,
                CallbackKind.PHONE.value,
                CallbackPurpose.APOLOGY.value,
                stamps(due),
                w.staff[Role.SUPERVISOR][0],
                CallbackStatus.DONE.value if done else CallbackStatus.PENDING.value,
                1 if done else 0,
                stamps(due + 600) if done else None,
                "已向客户致歉,客户表示理解" if done else None,
                4 if done else None,
                stamps(closed),
            )
        )
    for who, closed in writer.recent_closed_complaints[: max(5, w.n // 10_000)]:
        rows.append(
            (
                who + 1,
                None,
                CallbackKind.PHONE.value,
                CallbackPurpose.SATISFACTION.value,
                stamps(max(closed + DAY, now + HOUR)),
                None,
                CallbackStatus.PENDING.value,
                0,
                None,
                None,
                None,
                stamps(closed),
            )
        )
    sink.insert("callback", CALLBACK_COLUMNS, rows)
    del maker


def _next_holiday(now: int) -> date | None:
    today = datetime.fromtimestamp(now + LOCAL_OFFSET, UTC).date()
    horizon = today + timedelta(days=14)
    days = sorted(
        day
        for year in {today.year, horizon.year}
        for day in china_public_holidays(year)
        if today < day <= horizon
    )
    return days[0] if days else None


def write_shift_records(w: World, writer: WorkOrderWriter, maker: ContactMaker) -> None:
    """Notes about equipment and systems, and a signed handover for every finished shift:
    acknowledged by the next lead, except the last one, still waiting for it."""
    sink, stamps, r = w.sink, w.stamps, w.rng.random
    current = w.current_shift
    first = w.first_shift_s
    notes: list[Row] = []
    noted: dict[int, list[str]] = {}
    chosen = {current, current - 1} | {index for index in range(current + 1) if r() < 0.16}
    for index in sorted(i for i in chosen if i >= 0):
        kind, text = SHIFT_NOTES[int(r() * len(SHIFT_NOTES))]
        start = first + index * SHIFT_SECONDS
        at = min(w.now_s - 60, start + int(r() * SHIFT_SECONDS))
        if at < start:
            continue
        notes.append((index + 1, w.shift_leads[index], stamps(at), kind, text))
        noted.setdefault(index, []).append(text)
    sink.insert("shift_note", ("shift_id", "author_id", "at", "kind", "text"), notes)
    created, closed = writer.created_by_shift, writer.closed_by_shift
    rows: list[Row] = []
    for index in range(current):
        stats = maker.stats.get(index, [0] * (len(REQUEST_TYPES) + 1))
        summary = {
            "contacts": {rt.value: stats[i] for i, (rt, _) in enumerate(REQUEST_TYPES)},
            "contacts_total": sum(stats[:-1]),
            "abandoned": stats[-1],
            "work_orders_created": created.get(index, 0),
            "work_orders_closed": closed.get(index, 0),
            "notes": noted.get(index, []),
        }
        end = first + (index + 1) * SHIFT_SECONDS
        signed = end + 300 + int(r() * 900)
        last = index == current - 1
        acknowledged = None if last else signed + 120 + int(r() * 1_200)
        complaints = stats[RT_INDEX[RequestType.COMPLAINT]]
        created_count, closed_count = created.get(index, 0), closed.get(index, 0)
        text = (
            f"本班共受理 {summary['contacts_total']} 个接触,投诉 {complaints} 件,"
            f"新建工单 {created_count} 张,结单 {closed_count} 张。"
        )
        if noted.get(index):
            text += " 设备/系统:" + ";".join(noted[index])
        rows.append(
            (
                index + 1,
                w.shift_leads[index],
                None if last else w.shift_leads[index + 1],
                json.dumps(summary, ensure_ascii=False),
                text,
                stamps(min(signed, w.now_s)),
                stamps.maybe(
                    acknowledged if acknowledged is None or acknowledged <= w.now_s else None
                ),
            )
        )
    sink.insert(
        "handover",
        (
            "shift_id",
            "outgoing_lead_id",
            "incoming_lead_id",
            "summary",
            "notes",
            "signed_at",
            "acknowledged_at",
        ),
        rows,
    )


def write_verifications(w: World, maker: ContactMaker) -> list[tuple[int, int]]:
    """Verification attempts of the last 24 hours, a few failures, and two customers locked
    by five failures (a lead has to lift the lock). Returns (customer id, locked at)."""
    sink, stamps, r, now = w.sink, w.stamps, w.rng.random, w.now_s
    rows: list[Row] = []
    for who, contact_id, at, agent, method in maker.verified_recently:
        if r() < 0.06:
            rows.append((who + 1, contact_id, agent, method, 0, stamps(max(at - 40, 0))))
        rows.append((who + 1, contact_id, agent, method, 1, stamps(at)))
    locked: list[tuple[int, int]] = []
    candidates = [i for i in range(min(w.n, 400)) if not w.flags[i] & (NO_BILLS | ARREARS | VIP)][
        -2:
    ]
    agents = w.staff[Role.AGENT]
    for who in candidates:
        start = now - int(2 * HOUR + r() * 10 * HOUR)
        for attempt in range(w.policy.verification.max_failures):
            rows.append(
                (
                    who + 1,
                    None,
                    agents[attempt % len(agents)],
                    "service_password",
                    0,
                    stamps(start + attempt * 420),
                )
            )
        locked.append((who + 1, start + (w.policy.verification.max_failures - 1) * 420))
    sink.insert(
        "verification_attempt",
        ("customer_id", "contact_id", "agent_id", "method", "success", "at"),
        rows,
    )
    return locked


def apply_locks(w: World, locks: Sequence[tuple[int, int]]) -> None:
    """Set ``verification_locked_at`` of the customers locked by five failures."""
    sink = w.sink
    for customer_id, at in locks:
        value: object = w.stamps(at) if sink.is_sqlite else datetime.fromtimestamp(at, UTC)
        sink.execute(
            "UPDATE customer SET verification_locked_at = :at WHERE id = :id",
            {"at": value, "id": customer_id},
        )


def write_knowledge(w: World) -> None:
    updated = w.stamps(w.now_s - 30 * DAY)
    sink = w.sink
    sink.insert(
        "knowledge_article",
        ("code", "title", "category", "keywords", "body", "active", "updated_at"),
        [
            (
                article.code,
                article.title,
                article.category,
                article.keywords,
                article.body,
                1,
                updated,
            )
            for article in shipped_articles()
        ],
    )
    sink.insert(
        "canned_reply",
        ("code", "request_type", "title", "text"),
        [(reply.code, reply.request_type, reply.title, reply.text) for reply in shipped_replies()],
    )
    rebuild_index(sink.connection)


def write_meta(w: World, built_at: str) -> None:
    sink = w.sink
    existing = {str(row[0]) for row in sink.rows("SELECT key FROM desk_meta")}
    values = {**w.params.as_meta(), "demo_built_at": built_at}
    if "created_at" not in existing:
        values["created_at"] = built_at
    meta = table("desk_meta", column("key"))
    sink.connection.execute(delete(meta).where(meta.c.key.in_(list(values))))
    sink.insert("desk_meta", ("key", "value"), sorted(values.items()))
