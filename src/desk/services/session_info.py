"""What the console's status line shows about the moment: the shift on now and its lead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from desk.infra.database import now_of, reads
from desk.models import Shift, StaffUser
from desk.rules.permissions import Actor
from desk.services.access import require


@dataclass(frozen=True, slots=True)
class ShiftInfo:
    """The shift covering an instant; ``lead_*`` are None when no lead is assigned."""

    id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    lead_login: str | None
    lead_name: str | None


@reads
def current_shift(session: Session, *, actor: Actor) -> ShiftInfo | None:
    """The shift whose span covers the transaction's instant (the latest-starting one when
    shifts overlap), or None between shifts. Every signed-in role may ask (the status line
    of every screen shows it); a disabled user may not."""
    require(session, actor, None)
    now = now_of(session)
    row = session.exec(
        select(Shift, StaffUser)
        .join(StaffUser, col(StaffUser.id) == col(Shift.lead_id), isouter=True)
        .where(col(Shift.starts_at) <= now, col(Shift.ends_at) > now)
        .order_by(col(Shift.starts_at).desc(), col(Shift.id).desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    shift, lead = row
    assert shift.id is not None
    return ShiftInfo(
        id=shift.id,
        name=shift.name,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        lead_login=lead.login if lead else None,
        lead_name=lead.display_name if lead else None,
    )
