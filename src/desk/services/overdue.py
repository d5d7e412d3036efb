"""Overdue (延时) in SQL: the one definition of :func:`desk.rules.work_orders.is_overdue`,
written over a work-order table's ``next_due`` column so that every list and count (the queue's
overdue view, the handover summary, the dashboard) says what the card and the rule say."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_


def overdue_clause(next_due: ColumnElement[datetime], now: datetime) -> ColumnElement[bool]:
    """``next_due`` is reached at ``now`` (a missed deadline counts from its very instant). Combine
    it with the open-order condition of the query it goes in, so its partial index is used."""
    return and_(next_due.is_not(None), next_due <= now)
