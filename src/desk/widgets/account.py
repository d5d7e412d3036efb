"""Account data as Rich renderables: balance and plans, bills, payments, itemized records.

Pure functions of the read models of :mod:`desk.services.bills` (easy to test); the screens
only decide when to show them (to a caller verified in the current contact).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from desk.i18n import N_
from desk.i18n import gettext as _
from desk.widgets.format import local_date, local_time, yuan

if TYPE_CHECKING:
    from desk.services.bills import AccountOverview, BillInquiry, BillLine, ItemPage, PaymentLine

BILL_STATUS_LABELS: dict[str, str] = {
    "paid": N_("bill_status.paid"),
    "partial": N_("bill_status.partial"),
    "unpaid": N_("bill_status.unpaid"),
}

ACCOUNT_STATUS_LABELS: dict[str, str] = {
    "active": N_("account.status.active"),
    "suspended": N_("account.status.suspended"),
}

ITEM_KIND_LABELS: dict[str, str] = {
    "voice": N_("account.item_kind.voice"),
    "sms": N_("account.item_kind.sms"),
    "data": N_("account.item_kind.data"),
    "value_added": N_("account.item_kind.value_added"),
}


PAYMENT_CHANNEL_LABELS: dict[str, str] = {
    "counter": N_("account.pay_channel.counter"),
    "app": N_("account.pay_channel.app"),
    "bank": N_("account.pay_channel.bank"),
    "card": N_("account.pay_channel.card"),
}


def payment_channel_label(channel: str) -> str:
    """A payment's channel in words (a code this console does not know is shown as it is)."""
    msgid = PAYMENT_CHANNEL_LABELS.get(channel)
    return _(msgid) if msgid else channel


def bill_status_label(status: str) -> str:
    msgid = BILL_STATUS_LABELS.get(status)
    return _(msgid) if msgid else status


def _table(*msgids: str) -> Table:
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False, header_style="bold")
    for msgid in msgids:
        table.add_column(_(msgid), no_wrap=True)
    return table


def render_overview(overview: AccountOverview) -> Group:
    head = Text()
    head.append(f"{_('account.balance')}: ", style="dim")
    head.append(yuan(overview.balance_cents), style="bold")
    if overview.arrears_cents:
        head.append("   ")
        head.append(
            _(
                "account.arrears",
                amount=yuan(overview.arrears_cents),
                since=local_date(overview.arrears_since) or "-",
            ),
            style="bold red",
        )
    plans = _table(
        N_("account.col.account"),
        N_("account.col.plan"),
        N_("account.col.fee"),
        N_("account.col.status"),
        N_("account.col.add_ons"),
    )
    for line in overview.accounts:
        plans.add_row(
            line.account_no,
            line.plan_name,
            yuan(line.monthly_fee_cents),
            _(ACCOUNT_STATUS_LABELS[line.status])
            if line.status in ACCOUNT_STATUS_LABELS
            else line.status,
            ", ".join(add_on.name for add_on in line.add_ons) or "-",
        )
    return Group(head, plans)


def _bill_rows(table: Table, lines: Collection[BillLine]) -> None:
    for line in lines:
        owed = Text(yuan(line.owed_cents), style="bold red") if line.owed_cents else Text("-")
        table.add_row(
            line.period,
            line.account_no,
            yuan(line.amount_cents),
            yuan(line.paid_cents),
            owed,
            bill_status_label(line.status),
        )


def render_bills(inquiry: BillInquiry) -> Group:
    columns = (
        N_("account.col.period"),
        N_("account.col.account"),
        N_("account.col.amount"),
        N_("account.col.paid"),
        N_("account.col.owed"),
        N_("account.col.status"),
    )
    current = _table(*columns)
    _bill_rows(current, inquiry.current)
    parts: list[RenderableType] = [
        Text(_("account.current", period=inquiry.current_period), style="bold underline"),
        current if inquiry.current else Text(_("account.no_bill"), style="dim"),
    ]
    if inquiry.history is not None:
        history = _table(*columns)
        _bill_rows(history, inquiry.history)
        parts.append(Text(_("account.history"), style="bold underline"))
        parts.append(history if inquiry.history else Text(_("account.no_bill"), style="dim"))
    return Group(*parts)


def render_payments(lines: Collection[PaymentLine]) -> RenderableType:
    if not lines:
        return Text(_("account.no_payments"), style="dim")
    table = _table(N_("account.col.paid_at"), N_("account.col.amount"), N_("account.col.channel"))
    for line in lines:
        table.add_row(
            local_time(line.paid_at), yuan(line.amount_cents), payment_channel_label(line.channel)
        )
    return Group(Text(_("account.payments"), style="bold underline"), table)


def item_cells(page: ItemPage, marked: Collection[int]) -> list[tuple[str, ...]]:
    """Rows of the itemized table; ``marked`` records show a mark (disputed)."""
    rows: list[tuple[str, ...]] = []
    for item in page.items:
        kind = ITEM_KIND_LABELS.get(item.kind)
        rows.append(
            (
                "✓" if item.id in marked else "",
                local_time(item.occurred_at),
                _(kind) if kind else item.kind,
                item.counterpart_masked or "-",
                str(item.quantity),
                yuan(item.amount_cents),
                item.description,
            )
        )
    return rows
