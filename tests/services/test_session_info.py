"""The shift on now, for the status line: on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from desk.clock import FixedClock
from desk.infra.database import Database
from desk.models import Shift
from desk.rules.permissions import shell_actor
from desk.rules.vocab import Role
from desk.services import session_info, users

AGENT = shell_actor("test")  # any active user may ask


def _lead(db: Database) -> int:
    view = users.add_user(
        db,
        actor=shell_actor("test"),
        new=users.NewUser(login="lead1", display_name="王班长", role=Role.LEAD, password="secret1"),
    )
    return view.id


def _shift(db: Database, name: str, start_h: int, end_h: int, lead_id: int | None) -> None:
    day = FixedClock().now().replace(hour=0)

    def add(session: Session) -> None:
        session.add(
            Shift(
                name=name,
                starts_at=day + timedelta(hours=start_h),
                ends_at=day + timedelta(hours=end_h),
                lead_id=lead_id,
            )
        )

    db.run(add, write=True)


def test_the_shift_covering_now_with_its_lead(db: Database, clock: FixedClock) -> None:
    lead = _lead(db)
    _shift(db, "夜班", -8, 0, None)
    _shift(db, "早班", 0, 8, lead)  # 02:00 UTC is inside
    _shift(db, "中班", 8, 16, None)
    info = session_info.current_shift(db, actor=AGENT)
    assert info is not None
    assert info.name == "早班"
    assert (info.lead_login, info.lead_name) == ("lead1", "王班长")
    assert info.starts_at <= clock.now() < info.ends_at


def test_no_shift_between_shifts_and_the_end_is_exclusive(db: Database, clock: FixedClock) -> None:
    _shift(db, "早班", -6, 2, None)  # ends exactly at 02:00 UTC, the clock's instant
    assert session_info.current_shift(db, actor=AGENT) is None
    clock.advance(timedelta(minutes=-1))
    info = session_info.current_shift(db, actor=AGENT)
    assert info is not None
    assert info.lead_login is None


def test_overlapping_shifts_give_the_latest_started(db: Database) -> None:
    _shift(db, "早班", -2, 6, None)
    _shift(db, "加班", 1, 4, None)
    info = session_info.current_shift(db, actor=AGENT)
    assert info is not None
    assert info.name == "加班"
