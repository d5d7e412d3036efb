"""Exports of customers, contacts and tickets (work orders) as CSV, XLSX or JSON.

Personal data is masked by default (names, phones, ID-card numbers, addresses, with the
same rules as the customer card); ``unmasked`` exports need an admin and are audited with
what was exported. ``since``/``until`` limit rows by their creation (contacts: offered)
instant. Rows are read in keyset pages and written as they come, so a million customers
never sit in memory at once (XLSX is written in openpyxl's streaming mode).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from desk.clock import as_utc
from desk.infra.database import Database
from desk.infra.errors import InvalidInput, PermissionDenied
from desk.models import metadata
from desk.rules.masking import mask_address, mask_id_card, mask_name, mask_phone
from desk.rules.permissions import Actor, Permission
from desk.rules.vocab import Role
from desk.services import audit
from desk.services.access import require

PAGE = 5_000
XLSX_SHEET_ROWS = 1_048_576  # a sheet's rows in Excel and LibreOffice, header included


class ExportKind(StrEnum):
    CUSTOMERS = "customers"
    CONTACTS = "contacts"
    TICKETS = "tickets"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


_CUSTOMER: Table = metadata.tables["customer"]
_PHONE: Table = metadata.tables["customer_phone"]
_CONTACT: Table = metadata.tables["contact"]
_ORDER: Table = metadata.tables["work_order"]

COLUMNS: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.CUSTOMERS: (
        "customer_no",
        "name",
        "phone",
        "id_card_no",
        "tier",
        "status",
        "region",
        "address",
        "is_member",
        "balance",
        "arrears",
        "created_at",
    ),
    ExportKind.CONTACTS: (
        "id",
        "customer_no",
        "caller_number",
        "channel",
        "direction",
        "request_type",
        "offered_at",
        "answered_at",
        "ended_at",
        "outcome",
        "satisfaction",
        "on_behalf",
    ),
    ExportKind.TICKETS: (
        "number",
        "customer_no",
        "category",
        "title",
        "priority",
        "status",
        "channel",
        "source",
        "is_major",
        "created_at",
        "closed_at",
        "reply_due",
    ),
}


@dataclass(frozen=True, slots=True)
class ExportResult:
    kind: ExportKind
    rows: int
    masked: bool
    path: str


def _money(cents: int | None) -> str:
    return "" if cents is None else f"{cents / 100:.2f}"


def _instant(value: object) -> str:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return "" if value is None else str(value)


def _pages(
    connection: Connection, kind: ExportKind, since: datetime | None, until: datetime | None
) -> Iterator[list[dict[str, Any]]]:
    if kind is ExportKind.CUSTOMERS:
        table, when = _CUSTOMER, _CUSTOMER.c.created_at
        primary = (
            select(_PHONE.c.phone)
            .where(_PHONE.c.customer_id == _CUSTOMER.c.id, _PHONE.c.is_primary.is_(True))
            .limit(1)
            .scalar_subquery()
        )
        query = select(_CUSTOMER, primary.label("phone"))
    elif kind is ExportKind.CONTACTS:
        table, when = _CONTACT, _CONTACT.c.offered_at
        query = select(_CONTACT, _CUSTOMER.c.customer_no).join(
            _CUSTOMER, _CUSTOMER.c.id == _CONTACT.c.customer_id, isouter=True
        )
    else:
        table, when = _ORDER, _ORDER.c.created_at
        query = select(_ORDER, _CUSTOMER.c.customer_no).join(
            _CUSTOMER, _CUSTOMER.c.id == _ORDER.c.customer_id, isouter=True
        )
    if since is not None:
        query = query.where(when >= as_utc(since))
    if until is not None:
        query = query.where(when < as_utc(until))
    after = 0
    while True:
        page = [
            dict(row)
            for row in connection.execute(
                query.where(table.c.id > after).order_by(table.c.id).limit(PAGE)
            ).mappings()
        ]
        if not page:
            return
        after = int(page[-1]["id"])
        yield page


def _shape(kind: ExportKind, row: dict[str, Any], masked: bool) -> dict[str, Any]:
    if kind is ExportKind.CUSTOMERS:
        phone = row.get("phone") or ""
        address = row.get("address") or ""
        return {
            "customer_no": row["customer_no"],
            "name": mask_name(row["name"]) if masked else row["name"],
            "phone": mask_phone(phone) if masked and phone else phone,
            "id_card_no": mask_id_card(row["id_card_no"])
            if masked and row["id_card_no"]
            else row["id_card_no"],
            "tier": row["tier"],
            "status": row["status"],
            "region": row["region"],
            "address": mask_address(address, row["region"]) if masked and address else address,
            "is_member": bool(row["is_member"]),
            "balance": _money(row["balance_cents"]),
            "arrears": _money(row["arrears_cents"]),
            "created_at": _instant(row["created_at"]),
        }
    if kind is ExportKind.CONTACTS:
        number = row.get("caller_number") or ""
        shaped = {name: row.get(name) for name in COLUMNS[kind]}
        shaped["caller_number"] = mask_phone(number) if masked and number else number
        for name in ("offered_at", "answered_at", "ended_at"):
            shaped[name] = _instant(row.get(name))
        return shaped
    shaped = {name: row.get(name) for name in COLUMNS[kind]}
    for name in ("created_at", "closed_at", "reply_due"):
        shaped[name] = _instant(row.get(name))
    return shaped


def export(
    db: Database,
    *,
    actor: Actor,
    kind: ExportKind,
    fmt: ExportFormat,
    out: Path | TextIO,
    since: datetime | None = None,
    until: datetime | None = None,
    unmasked: bool = False,
) -> ExportResult:
    """Write ``kind`` to ``out`` (a path, or a text stream for CSV and JSON)."""

    def allowed(session: Session) -> None:
        require(session, actor, Permission.MANAGE_DATA)
        audit.check_key(session)  # the export ends with an audit entry: refuse before a row

    db.run(allowed, write=True)
    kind, fmt = ExportKind(kind), ExportFormat(fmt)
    if isinstance(out, Path):
        if out.is_dir():
            raise InvalidInput(f"{out} is a directory: name a file", field="--output")
        if not out.parent.is_dir():
            raise InvalidInput(f"no directory {out.parent}", field="--output")
    if unmasked and actor.role is not Role.ADMIN:
        raise PermissionDenied("an unmasked export is for admins only")
    if since is not None and until is not None and since >= until:
        raise InvalidInput("must be before --to", field="--from")
    if fmt is ExportFormat.XLSX and not isinstance(out, Path):
        raise InvalidInput("an XLSX export needs a file (--output)", field="--output")
    if unmasked:  # the intent is on record before a single row leaves
        db.run(
            lambda session: audit.record(
                session,
                action="export.unmasked",
                actor=actor,
                target_type=kind.value,
                detail={
                    "format": fmt.value,
                    "since": _instant(since),
                    "until": _instant(until),
                    "to": str(out) if isinstance(out, Path) else "stdout",
                },
            ),
            write=True,
        )
    count = 0
    with db.engine.connect() as connection, connection.begin():
        rows = (
            _shape(kind, row, not unmasked)
            for page in _pages(connection, kind, since, until)
            for row in page
        )
        if fmt is ExportFormat.XLSX:
            assert isinstance(out, Path)
            count = _write_xlsx(out, kind, rows)
        elif isinstance(out, Path):
            part = out.with_name(out.name + ".part")
            try:
                with part.open(
                    "w", encoding="utf-8-sig" if fmt is ExportFormat.CSV else "utf-8", newline=""
                ) as handle:
                    count = _write_text(handle, fmt, kind, rows)
                part.replace(out)
            finally:
                part.unlink(missing_ok=True)  # a failed write leaves no half file
        else:
            count = _write_text(out, fmt, kind, rows)
    db.run(
        lambda session: audit.record(
            session,
            action="export.done",
            actor=actor,
            target_type=kind.value,
            detail={"format": fmt.value, "rows": count, "masked": not unmasked},
        ),
        write=True,
    )
    return ExportResult(kind, count, not unmasked, str(out) if isinstance(out, Path) else "-")


def _write_text(
    handle: TextIO | io.TextIOBase,
    fmt: ExportFormat,
    kind: ExportKind,
    rows: Iterator[dict[str, Any]],
) -> int:
    count = 0
    if fmt is ExportFormat.CSV:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS[kind], lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
        return count
    handle.write("[")
    for row in rows:
        handle.write(
            ("," if count else "") + "\n" + json.dumps(row, ensure_ascii=False, default=str)
        )
        count += 1
    handle.write("\n]\n")
    return count


def _write_xlsx(path: Path, kind: ExportKind, rows: Iterator[dict[str, Any]]) -> int:
    """One sheet of :data:`XLSX_SHEET_ROWS` rows at most (what a spreadsheet program opens),
    each with the header; more rows go on to sheets named ``customers 2``, ``customers 3``…"""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook(write_only=True)
    columns = COLUMNS[kind]
    per_sheet = XLSX_SHEET_ROWS - 1  # under the header
    sheet = book.create_sheet(kind.value)
    sheet.append(list(columns))
    count = 0
    for row in rows:
        if count and count % per_sheet == 0:  # the sheet is full
            sheet = book.create_sheet(f"{kind.value} {count // per_sheet + 1}")
            sheet.append(list(columns))
        sheet.append([row[name] for name in columns])
        count += 1
    part = path.with_name(path.name + ".part")
    try:
        book.save(part)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)  # a failed write leaves no half file
    return count
