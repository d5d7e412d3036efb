"""The shift handover (交接班): the shift gathered, signed once, acknowledged by the next lead.

**The summary** of a shift is computed set-based, a handful of aggregate statements over
indexed columns (:func:`shift_summary`): contacts by request type, work orders created and
closed in the shift, those open and overdue now, complaints in the chase ladder and major ones,
callbacks due in the next shift, returned orders not replied to again, and the problems noted
during the shift. Signing stores it as it was then, with the lead's notes; the unique index on
``handover.shift_id`` makes a second sign-off impossible, whoever races.

**Shifts** follow the policy's pattern (:mod:`desk.rules.handover`); :func:`open_shifts`
writes the record of the shift on now and of the next one when missing (the callback plan
calls it on the console's timer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from desk.clock import as_utc
from desk.infra.database import now_of, reads, writes
from desk.infra.errors import InvalidInput, NotFound, PermissionDenied
from desk.models import (
    Callback,
    Contact,
    Handover,
    Shift,
    ShiftNote,
    StaffUser,
    WorkOrder,
    WorkOrderEvent,
)
from desk.rules.handover import next_shift, shift_at
from desk.rules.permissions import Actor, Permission
from desk.rules.policy import Policy
from desk.rules.vocab import (
    CallbackStatus,
    ContactOutcome,
    EventKind,
    RequestType,
    ShiftNoteKind,
    WorkOrderStatus,
)
from desk.services import audit
from desk.services.access import require
from desk.services.overdue import overdue_clause

NOTES_LIMIT = 8000
ACK_LIMIT = 2000
PROBLEM_LIMIT = 2000
LISTED = 20  # orders listed by number in the summary (majors, returns), the rest counted
_CLOSED = WorkOrderStatus.CLOSED.value


# --- read models ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShiftView:
    id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    lead_id: int | None
    lead_name: str | None


@dataclass(frozen=True, slots=True)
class ProblemNote:
    at: datetime
    kind: ShiftNoteKind
    text: str
    author: str


@dataclass(frozen=True, slots=True)
class SignedHandover:
    id: int
    shift_id: int
    shift_name: str
    shift_starts_at: datetime
    shift_ends_at: datetime
    outgoing_lead: str
    signed_at: datetime
    notes: str
    summary: dict[str, Any]
    incoming_lead: str | None
    acknowledged_at: datetime | None
    acknowledgement: str | None


@dataclass(frozen=True, slots=True)
class HandoverView:
    """What the handover screen shows: the shift, its summary (stored once signed, live
    before), the handover if signed, and the handovers of others awaiting acknowledgement."""

    shift: ShiftView
    summary: dict[str, Any]
    signed: SignedHandover | None
    awaiting: tuple[SignedHandover, ...]
    can_sign: bool
    sign_refusal: str | None


# --- shifts ----------------------------------------------------------------------------------


def open_shifts(session: Session, *, now: datetime, policy: Policy) -> int:
    """Write the shift on now and the next one when no shift record covers their start;
    the number written."""
    span = shift_at(now, policy)
    written = 0
    for wanted in (span, next_shift(span, policy)):
        covered = session.execute(
            select(Shift.id).where(  # type: ignore[call-overload]
                col(Shift.starts_at) <= wanted.starts_at, col(Shift.ends_at) > wanted.starts_at
            )
        ).first()
        if covered is None:
            session.add(Shift(name=wanted.name, starts_at=wanted.starts_at, ends_at=wanted.ends_at))
            written += 1
    session.flush()
    return written


def _shift_view(session: Session, shift: Shift) -> ShiftView:
    assert shift.id is not None
    lead = session.get(StaffUser, shift.lead_id) if shift.lead_id else None
    return ShiftView(
        id=shift.id,
        name=shift.name,
        starts_at=as_utc(shift.starts_at),
        ends_at=as_utc(shift.ends_at),
        lead_id=shift.lead_id,
        lead_name=lead.display_name if lead else None,
    )


def _shift_on(session: Session, now: datetime) -> Shift | None:
    """The shift covering ``now``, else the last one that started before it."""
    return session.scalars(
        select(Shift)
        .where(col(Shift.starts_at) <= now)
        .order_by(
            case((col(Shift.ends_at) > now, 0), else_=1),
            col(Shift.starts_at).desc(),
            col(Shift.id).desc(),
        )
        .limit(1)
    ).first()


def _shift(session: Session, shift_id: int | None) -> Shift:
    if shift_id is None:
        shift = _shift_on(session, now_of(session))
        if shift is None:
            raise NotFound("no shift has started yet")
        return shift
    shift = session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(f"no shift {shift_id}")
    return shift


# --- the summary -----------------------------------------------------------------------------


def shift_summary(
    session: Session, *, starts_at: datetime, ends_at: datetime, next_ends_at: datetime
) -> dict[str, Any]:
    """The shift ``[starts_at, ends_at)`` gathered, as of the transaction's instant."""
    now = now_of(session)
    contact = Contact.__table__  # type: ignore[attr-defined]
    order = WorkOrder.__table__  # type: ignore[attr-defined]
    event = WorkOrderEvent.__table__  # type: ignore[attr-defined]
    callback = Callback.__table__  # type: ignore[attr-defined]
    note = ShiftNote.__table__  # type: ignore[attr-defined]
    staff = StaffUser.__table__  # type: ignore[attr-defined]

    in_shift = and_(contact.c.offered_at >= starts_at, contact.c.offered_at < ends_at)
    by_type = {rt.value: 0 for rt in RequestType}
    abandoned = answered = 0
    for request_type, count, dropped, taken in session.execute(
        select(
            contact.c.request_type,
            func.count(),
            func.sum(case((contact.c.outcome == ContactOutcome.ABANDONED.value, 1), else_=0)),
            func.sum(case((contact.c.answered_at.is_not(None), 1), else_=0)),
        )
        .where(in_shift)
        .group_by(contact.c.request_type)
    ):
        if request_type in by_type:
            by_type[request_type] = int(count)
        abandoned += int(dropped or 0)
        answered += int(taken or 0)

    created = {
        str(category): int(count)
        for category, count in session.execute(
            select(order.c.category, func.count())
            .where(order.c.created_at >= starts_at, order.c.created_at < ends_at)
            .group_by(order.c.category)
        )
    }
    closed = session.execute(
        select(func.count()).where(order.c.closed_at >= starts_at, order.c.closed_at < ends_at)
    ).scalar_one()

    # Literals, not bound values: the partial indexes of open (and returned) orders are used
    # only when the query's condition is the index's own.
    is_open = order.c.status != literal_column(f"'{_CLOSED}'")
    total_open = session.execute(
        select(func.count()).select_from(order).where(is_open)
    ).scalar_one()
    overdue = session.execute(
        select(func.count())
        .select_from(order)
        .where(is_open, overdue_clause(order.c.next_due, now))
    ).scalar_one()
    chase = {
        int(level): int(count)
        for level, count in session.execute(
            select(order.c.escalation_level, func.count())
            .where(
                is_open,
                order.c.category == RequestType.COMPLAINT.value,
                order.c.escalation_level > literal_column("0"),
            )
            .group_by(order.c.escalation_level)
        )
    }
    majors = session.execute(
        select(func.count()).select_from(order).where(is_open, order.c.is_major)
    ).scalar_one()

    def listed(*conditions: Any) -> list[dict[str, Any]]:
        return [
            {"number": number, "title": title, "status": status}
            for number, title, status in session.execute(
                select(order.c.number, order.c.title, order.c.status)
                .where(is_open, *conditions)
                .order_by(order.c.created_at, order.c.id)
                .limit(LISTED)
            )
        ]

    returned = and_(
        order.c.status == WorkOrderStatus.DISPATCHED.value,
        order.c.redispatch_count > literal_column("0"),
    )
    returned_count = session.execute(
        select(func.count()).select_from(order).where(returned)
    ).scalar_one()
    returned_in_shift = session.execute(
        select(func.count()).where(
            event.c.kind == EventKind.REJECTED.value,
            event.c.at >= starts_at,
            event.c.at < ends_at,
        )
    ).scalar_one()
    breached_in_shift = session.execute(
        select(func.count()).where(
            event.c.kind == EventKind.BREACH.value,
            event.c.at >= starts_at,
            event.c.at < ends_at,
        )
    ).scalar_one()

    due_next = {
        str(purpose): int(count)
        for purpose, count in session.execute(
            select(callback.c.purpose, func.count())
            .where(
                callback.c.status == CallbackStatus.PENDING.value,
                callback.c.due_at < next_ends_at,
            )
            .group_by(callback.c.purpose)
        )
    }
    overdue_callbacks = session.execute(
        select(func.count()).where(
            callback.c.status == CallbackStatus.PENDING.value, callback.c.due_at < ends_at
        )
    ).scalar_one()

    problems = [
        {"at": as_utc(at).isoformat(), "kind": kind, "text": text, "author": author}
        for at, kind, text, author in session.execute(
            select(note.c.at, note.c.kind, note.c.text, staff.c.display_name)
            .join(staff, staff.c.id == note.c.author_id)
            .where(note.c.at >= starts_at, note.c.at < ends_at)
            .order_by(note.c.at, note.c.id)
        )
    ]
    return {
        "as_of": now.isoformat(),
        "contacts": by_type,
        "contacts_total": sum(by_type.values()),
        "contacts_answered": answered,
        "abandoned": abandoned,
        "work_orders_created": sum(created.values()),
        "work_orders_created_by_category": created,
        "work_orders_closed": int(closed),
        "work_orders_open": int(total_open),
        "work_orders_overdue": int(overdue or 0),
        "breaches_in_shift": int(breached_in_shift),
        "complaints_reminded": chase.get(1, 0),
        "complaints_hq_proposed": chase.get(2, 0),
        "complaints_hq_confirmed": sum(count for level, count in chase.items() if level >= 3),
        "major_complaints": int(majors),
        "major_list": listed(order.c.is_major),
        "returns_unanswered": int(returned_count),
        "returns_in_shift": int(returned_in_shift),
        "returns_list": listed(returned),
        "callbacks_due_next_shift": due_next,
        "callbacks_overdue": int(overdue_callbacks),
        "problems": problems,
    }


def _summary_of(session: Session, shift: Shift, policy: Policy) -> dict[str, Any]:
    ends = as_utc(shift.ends_at)
    return shift_summary(
        session,
        starts_at=as_utc(shift.starts_at),
        ends_at=ends,
        next_ends_at=next_shift(shift_at(ends, policy), policy).starts_at,
    )


# --- views -----------------------------------------------------------------------------------


def _name(session: Session, user_id: int | None) -> str | None:
    user = session.get(StaffUser, user_id) if user_id else None
    return user.display_name if user else None


def _signed(session: Session, handover: Handover) -> SignedHandover:
    assert handover.id is not None
    shift = session.get(Shift, handover.shift_id)
    assert shift is not None
    return SignedHandover(
        id=handover.id,
        shift_id=handover.shift_id,
        shift_name=shift.name,
        shift_starts_at=as_utc(shift.starts_at),
        shift_ends_at=as_utc(shift.ends_at),
        outgoing_lead=_name(session, handover.outgoing_lead_id) or "?",
        signed_at=as_utc(handover.signed_at),
        notes=handover.notes,
        summary=dict(handover.summary),
        incoming_lead=_name(session, handover.incoming_lead_id),
        acknowledged_at=as_utc(handover.acknowledged_at) if handover.acknowledged_at else None,
        acknowledgement=handover.acknowledgement,
    )


def _awaiting(session: Session, actor: Actor) -> tuple[SignedHandover, ...]:
    rows = session.scalars(
        select(Handover)
        .where(
            col(Handover.acknowledged_at).is_(None),
            col(Handover.outgoing_lead_id) != actor.user_id,
        )
        .order_by(col(Handover.signed_at))
        .limit(LISTED)
    ).all()
    return tuple(_signed(session, row) for row in rows)


def _sign_refusal(actor: Actor, shift: Shift, signed: Handover | None, now: datetime) -> str | None:
    if signed is not None:
        return "signed"
    if as_utc(shift.starts_at) > now:
        return "not_started"
    if shift.lead_id not in (None, actor.user_id):
        return "not_the_lead"
    return None


def _view(session: Session, actor: Actor, shift: Shift, policy: Policy) -> HandoverView:
    signed = session.scalars(select(Handover).where(col(Handover.shift_id) == shift.id)).first()
    refusal = _sign_refusal(actor, shift, signed, now_of(session))
    return HandoverView(
        shift=_shift_view(session, shift),
        summary=dict(signed.summary) if signed else _summary_of(session, shift, policy),
        signed=_signed(session, signed) if signed else None,
        awaiting=_awaiting(session, actor),
        can_sign=refusal is None,
        sign_refusal=refusal,
    )


@reads
def handover_view(
    session: Session, *, actor: Actor, policy: Policy, shift_id: int | None = None
) -> HandoverView:
    """The handover of ``shift_id`` (default: the shift on now, else the last one begun)."""
    require(session, actor, Permission.SIGN_HANDOVER)
    return _view(session, actor, _shift(session, shift_id), policy)


@writes
def sign_handover(
    session: Session, *, actor: Actor, policy: Policy, shift_id: int, notes: str
) -> HandoverView:
    """Sign the shift off with ``notes``: the summary is stored as it is now. A shift is
    signed once; only its lead (or any lead, when it has none) signs it, once it began."""
    require(session, actor, Permission.SIGN_HANDOVER)
    notes = (notes or "").strip()
    if len(notes) > NOTES_LIMIT:
        raise InvalidInput(f"at most {NOTES_LIMIT} characters", field="notes")
    shift = _shift(session, shift_id)
    now = now_of(session)
    signed = session.scalars(select(Handover).where(col(Handover.shift_id) == shift.id)).first()
    refusal = _sign_refusal(actor, shift, signed, now)
    if refusal == "signed":
        assert signed is not None
        raise InvalidInput(
            f"{shift.name} was signed off by {_name(session, signed.outgoing_lead_id)} at "
            f"{as_utc(signed.signed_at).isoformat(timespec='minutes')}: a shift is signed once",
            field="shift_id",
        )
    if refusal == "not_started":
        raise InvalidInput(f"{shift.name} has not begun", field="shift_id")
    if refusal == "not_the_lead":
        raise PermissionDenied(
            f"{shift.name} is led by {_name(session, shift.lead_id)}: only they sign it off"
        )
    summary = _summary_of(session, shift, policy)
    if shift.lead_id is None:
        shift.lead_id = actor.user_id or None
        session.add(shift)
    handover = Handover(
        shift_id=shift.id or 0,
        outgoing_lead_id=actor.user_id,
        summary=summary,
        notes=notes,
        signed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(handover)
            session.flush()
    except IntegrityError as error:
        raise InvalidInput(
            f"{shift.name} was signed off meanwhile: a shift is signed once", field="shift_id"
        ) from error
    audit.record(
        session,
        action="handover.sign",
        actor=actor,
        target_type="shift",
        target_id=shift.id,
        detail={"handover": handover.id},
    )
    return _view(session, actor, shift, policy)


@writes
def acknowledge_handover(
    session: Session, *, actor: Actor, policy: Policy, handover_id: int, acknowledgement: str
) -> HandoverView:
    """The incoming lead has read the handover: their stamp (and words, if any) is kept."""
    require(session, actor, Permission.SIGN_HANDOVER)
    handover = session.get(Handover, handover_id)
    if handover is None:
        raise NotFound(f"no handover {handover_id}")
    text = (acknowledgement or "").strip()
    if len(text) > ACK_LIMIT:
        raise InvalidInput(f"at most {ACK_LIMIT} characters", field="acknowledgement")
    if handover.outgoing_lead_id == actor.user_id:
        raise PermissionDenied("the next lead acknowledges a handover, not the one who signed it")
    if handover.acknowledged_at is not None:
        raise InvalidInput(
            f"acknowledged already by {_name(session, handover.incoming_lead_id)} at "
            f"{as_utc(handover.acknowledged_at).isoformat(timespec='minutes')}",
            field="handover_id",
        )
    now = now_of(session)
    handover.incoming_lead_id = actor.user_id or None
    handover.acknowledged_at = now
    handover.acknowledgement = text or None
    session.add(handover)
    audit.record(
        session,
        action="handover.acknowledge",
        actor=actor,
        target_type="handover",
        target_id=handover.id,
    )
    shift = session.get(Shift, handover.shift_id)
    assert shift is not None
    return _view(session, actor, shift, policy)


@writes
def note_shift_problem(
    session: Session, *, actor: Actor, policy: Policy, kind: ShiftNoteKind, text: str
) -> ProblemNote:
    """Note an equipment or system problem on the shift on now, for its handover."""
    require(session, actor, Permission.NOTE_SHIFT_PROBLEM)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("say what the problem is", field="text")
    if len(text) > PROBLEM_LIMIT:
        raise InvalidInput(f"at most {PROBLEM_LIMIT} characters", field="text")
    kind = ShiftNoteKind(kind)
    now = now_of(session)
    open_shifts(session, now=now, policy=policy)
    shift = _shift_on(session, now)
    assert shift is not None
    assert shift.id is not None
    session.add(ShiftNote(shift_id=shift.id, author_id=actor.user_id, at=now, kind=kind, text=text))
    return ProblemNote(at=now, kind=kind, text=text, author=actor.display_name or actor.login)


# --- the log (交接班日志) ----------------------------------------------------------------------


@reads
def handover_log(
    session: Session, *, actor: Actor, policy: Policy, shift_id: int | None = None
) -> SignedHandover:
    """The handover log of a shift (default: the last one signed): signed, or the shift as
    it stands now when not signed yet (then ``signed_at`` is now and no one has signed)."""
    require(session, actor, Permission.VIEW_DASHBOARD)
    if shift_id is None:
        last = session.scalars(
            select(Handover).order_by(col(Handover.signed_at).desc(), col(Handover.id).desc())
        ).first()
        if last is None:
            raise NotFound("no shift has been signed off yet")
        return _signed(session, last)
    shift = _shift(session, shift_id)
    signed = session.scalars(select(Handover).where(col(Handover.shift_id) == shift.id)).first()
    if signed is not None:
        return _signed(session, signed)
    assert shift.id is not None
    return SignedHandover(
        id=0,
        shift_id=shift.id,
        shift_name=shift.name,
        shift_starts_at=as_utc(shift.starts_at),
        shift_ends_at=as_utc(shift.ends_at),
        outgoing_lead="",
        signed_at=now_of(session),
        notes="",
        summary=_summary_of(session, shift, policy),
        incoming_lead=None,
        acknowledged_at=None,
        acknowledgement=None,
    )


def _iso(instant: datetime | None) -> str:
    return instant.isoformat() if instant else ""


def log_rows(log: SignedHandover) -> Sequence[tuple[str, str, str]]:
    """The log as (section, item, value) rows: the same rows for text, CSV and XLSX."""
    s = log.summary
    rows: list[tuple[str, str, str]] = [
        ("shift", "name", log.shift_name),
        ("shift", "starts_at", log.shift_starts_at.isoformat()),
        ("shift", "ends_at", log.shift_ends_at.isoformat()),
        ("shift", "outgoing_lead", log.outgoing_lead),
        ("shift", "signed_at", log.signed_at.isoformat() if log.id else ""),
        ("shift", "incoming_lead", log.incoming_lead or ""),
        (
            "shift",
            "acknowledged_at",
            log.acknowledged_at.isoformat() if log.acknowledged_at else "",
        ),
    ]
    for request_type, count in s.get("contacts", {}).items():
        rows.append(("contacts", request_type, str(count)))
    for key in ("contacts_total", "contacts_answered", "abandoned"):
        rows.append(("contacts", key, str(s.get(key, 0))))
    for key in (
        "work_orders_created",
        "work_orders_closed",
        "work_orders_open",
        "work_orders_overdue",
        "breaches_in_shift",
    ):
        rows.append(("work_orders", key, str(s.get(key, 0))))
    for key in (
        "complaints_reminded",
        "complaints_hq_proposed",
        "complaints_hq_confirmed",
        "major_complaints",
    ):
        rows.append(("complaints", key, str(s.get(key, 0))))
    for item in s.get("major_list", []):
        rows.append(("complaints", "major", f"{item['number']} {item['title']}"))
    rows.append(("returns", "returns_unanswered", str(s.get("returns_unanswered", 0))))
    rows.append(("returns", "returns_in_shift", str(s.get("returns_in_shift", 0))))
    for item in s.get("returns_list", []):
        rows.append(("returns", "returned", f"{item['number']} {item['title']}"))
    for purpose, count in s.get("callbacks_due_next_shift", {}).items():
        rows.append(("callbacks_due_next_shift", purpose, str(count)))
    rows.append(("callbacks", "callbacks_overdue", str(s.get("callbacks_overdue", 0))))
    for problem in s.get("problems", []):
        rows.append(("problems", problem["kind"], f"{problem['text']} ({problem['author']})"))
    rows.append(("notes", "outgoing", log.notes))
    rows.append(("notes", "incoming", log.acknowledgement or ""))
    return rows
