"""Imports of customers, bills and tickets (work orders) from CSV and XLSX files.

**Reading.** CSV in UTF-8, UTF-8 with a byte-order mark, or GBK/GB18030 (detected: a BOM,
then strict UTF-8, then charset-normalizer; or given), any line endings; XLSX through
python-calamine, or openpyxl for a very large one (the first sheet). Row numbers are the
file's own: the header is row 1.

**Mapping.** A TOML file says which source column fills which desk field (``[columns]``),
fixed values (``[constants]``), values made from other fields (``[templates]``, e.g. a
placeholder name ``"Customer {customer_no}"``, always reported), value translations
(``[values.FIELD]``), date formats (``[dates]``) and the checks a file needs (a second date
column that must agree, a zero-padded code). Without ``--map`` the columns are desk's own
field names. ``data/mappings/`` ships the mappings of the two sample files.

**Validating.** Every row is held to a pydantic model: an ordinary row is read by plain
converters that accept only what the model would make the same of, and a row they have any
doubt about goes to the model itself; a rejected row is reported with its row number, field
and reason and nothing of it is written. A row that is kept but was
repaired or guessed at (a padded zip code, a blank total, disagreeing dates) is reported as a
warning with its row number too: nothing is changed silently.

**Writing.** The whole file is read to its end before the first write (a byte the encoding
cannot read or a broken CSV line stops the import with nothing written). Validation runs
beside the writes: for a file over :data:`PARALLEL_MIN_BYTES` in a second process
(:mod:`desk.infra.pipeline`), whose batches the writer takes as they come. Good rows are
upserted by natural key (customer number; account and period; ticket number), set-based:
customers staged into a temporary table (COPY on PostgreSQL, of text the validating side
made) and moved every :data:`STAGE_CHUNK` rows in one transaction of a few statements, on
PostgreSQL by :data:`PG_WRITERS` connections side by side for a large file; bills and tickets staged
and moved the same way, a batch of :data:`BATCH` rows per transaction (the same handful of
statements whatever its size). Rows that exist and differ are updated,
rows that exist and match are left alone, so a second run of the same file changes nothing.
A killed import (either process) keeps the chunks it committed, each whole; running it
again completes it. ``dry_run`` does all of it inside transactions that are rolled back.
"""

from __future__ import annotations

import csv
import io
import itertools
import queue
import re
import threading
import tomllib
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache, partial
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlmodel import Session

from desk.infra import pipeline
from desk.infra.database import Database, refused_values
from desk.infra.errors import InvalidInput
from desk.models import metadata
from desk.rules.names import name_keys, reverse
from desk.rules.permissions import Actor, Permission
from desk.rules.text import plain_text_problem
from desk.rules.vocab import (
    Channel,
    CustomerStatus,
    EventKind,
    Priority,
    RequestType,
    Tier,
    WorkOrderSource,
    WorkOrderStatus,
)
from desk.services import audit
from desk.services.access import require

BATCH = 5_000
MAX_PROBLEMS = 1_000  # reported in full up to this many; the counts are always exact
GB_ENCODINGS = {"gb2312", "gbk", "gb18030", "hz", "cp936"}


class ImportKind(StrEnum):
    CUSTOMERS = "customers"
    BILLS = "bills"
    TICKETS = "tickets"


class ImportError_(InvalidInput):
    """A file or mapping that cannot be imported at all (not a row)."""

    title = "Import"


# --- reading ---------------------------------------------------------------------------------


def detect_encoding(data: bytes) -> str:
    """The text encoding of ``data``: a BOM, strict UTF-8, else GB18030 when
    charset-normalizer names a Chinese encoding; anything else is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding.replace("_", "").lower() in GB_ENCODINGS:
        return "gb18030"
    if best is not None:
        try:
            data.decode("gb18030")
            return "gb18030"
        except UnicodeDecodeError:
            pass
    raise ImportError_(
        "cannot tell the file's encoding (not UTF-8, not GBK/GB18030): give --encoding",
        field="encoding",
    )


@dataclass(frozen=True, slots=True)
class SourceFile:
    encoding: str
    headers: list[str]
    records: Iterator[tuple[int, list[str]]]  # (row number in the file, its cells), once

    @property
    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """The records as header -> cell (read once, as the records are)."""
        headers = self.headers
        return ((n, dict(zip(headers, cells, strict=False))) for n, cells in self.records)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def read_file(path: Path, *, encoding: str | None = None) -> SourceFile:
    """The header of a CSV or XLSX file and its rows, read as they are asked for (a CSV of a
    million rows is never held whole; an XLSX sheet is, see :func:`_read_xlsx`). A cell the
    encoding or the CSV reader cannot read stops the import with :class:`ImportError_` before
    anything is written: the rows are all read and validated before the first write."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    chosen = encoding or detect_encoding(path.read_bytes())
    try:
        handle = path.open(encoding=chosen, errors="surrogateescape", newline="")
        text_rows = csv.reader(_checked_lines(handle, chosen))
        headers = [h.strip().removeprefix("\ufeff") for h in next(text_rows)]
    except LookupError as error:
        raise ImportError_(f"{chosen!r} is not an encoding", field="encoding") from error
    except StopIteration as error:
        handle.close()
        raise ImportError_("the file is empty", field="file") from error
    except csv.Error as error:
        handle.close()
        raise ImportError_(f"not a CSV file: {error}", field="file") from error

    def rows() -> Iterator[tuple[int, list[str]]]:
        with handle:
            try:
                for cells in text_rows:
                    if not "".join(cells).strip():
                        continue
                    yield text_rows.line_num, cells
            except csv.Error as error:
                raise ImportError_(f"row {text_rows.line_num}: {error}", field="file") from error

    return SourceFile(chosen, headers, rows())


_UNREADABLE = re.compile("[\udc80-\udcff]")  # a byte the encoding could not read, escaped


def _checked_lines(handle: io.TextIOBase, encoding: str) -> Iterator[str]:
    """The lines of ``handle`` (opened with ``errors="surrogateescape"``); a byte the encoding
    cannot read is one clear error naming its line."""
    number = 0
    try:
        for number, line in enumerate(handle, start=1):  # noqa: B007 - read in the handler
            if _UNREADABLE.search(line):
                raise ImportError_(
                    f"line {number} is not {encoding}: a byte it cannot read (give --encoding)",
                    field="encoding",
                )
            yield line
    except UnicodeError as error:  # e.g. UTF-16 without its byte-order mark
        raise ImportError_(
            f"line {number + 1} is not {encoding}: {error} (give --encoding)", field="encoding"
        ) from error


XLSX_WHOLE_MAX_BYTES = 1 << 30  # sheets' XML up to this (about 1.4M rows of 13 columns) is
# read whole by calamine, larger ones streamed by openpyxl
_SHEET: dict[tuple[str, int, int], Any] = {}  # the sheet read whole for the import under way


def _read_xlsx(path: Path) -> SourceFile:
    """The first sheet of a workbook, read by python-calamine (Rust), which reads a sheet
    whole and about 13 times faster than openpyxl's streaming reader (a million rows of 13
    columns: 9 s and 1.4 GB of memory, against 2 minutes). The sheet is read once, for the
    header, and kept while the import runs: the rows come from it (in the validating
    process, a fork, for a large file), so a sheet that cannot be read stops the import
    before any write. A workbook whose sheets' XML is over :data:`XLSX_WHOLE_MAX_BYTES` is
    streamed by openpyxl instead. The two give the same text for a cell but a date-only one
    (``1980-01-02`` here, ``1980-01-02 00:00:00`` there), which every date field reads
    alike."""
    if not _read_whole(path):
        return _stream_xlsx(path)
    values = _whole_rows(path, keep=True)
    try:
        headers = [cell.strip() for cell in next(values)]
    except StopIteration as error:
        raise ImportError_("the sheet is empty", field="file") from error
    finally:
        values.close()
    return SourceFile("xlsx", headers, _whole_records(path))


def _read_whole(path: Path) -> bool:
    """Whether the workbook's rows are read whole (by calamine), not streamed."""
    try:
        with zipfile.ZipFile(path) as archive:
            sheets_xml = sum(
                entry.file_size
                for entry in archive.infolist()
                if entry.filename.startswith("xl/worksheets/")
            )
    except (zipfile.BadZipFile, OSError) as error:
        raise ImportError_(f"not an XLSX workbook: {error}", field="file") from error
    return sheets_xml <= XLSX_WHOLE_MAX_BYTES


def _whole_rows(path: Path, *, keep: bool = False) -> Generator[list[str], None, None]:
    """Every row of the first sheet as text from row 1, blank ones too, and from column A:
    calamine starts a row at the sheet's first column that holds anything, and the blank
    ones before it are put back. ``keep``: the sheet read is kept (one at a time) until
    :func:`_let_sheet_go`, so the validating process, a fork, finds it read, not to be
    read again (its pages shared with the caller's until either writes them)."""
    from python_calamine import CalamineError, CalamineWorkbook

    status = path.stat()
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    sheet = _SHEET.get(key)
    if sheet is None:
        try:
            with CalamineWorkbook.from_path(path) as book:
                if not book.sheet_names:
                    raise ImportError_("the workbook has no sheet", field="file")
                sheet = book.get_sheet_by_index(0)
        except CalamineError as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ImportError_(f"not an XLSX workbook: {reason}", field="file") from error
        if keep:
            _SHEET.clear()
            _SHEET[key] = sheet
    blank = [""] * (sheet.start[1] if sheet.start else 0)
    for cells in sheet.iter_rows():
        yield blank + [_cell(v) for v in cells]


def _let_sheet_go() -> None:
    """The sheet an import kept (its memory) let go, once the import has ended."""
    _SHEET.clear()


def _whole_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The rows under the header, numbered as in the file, blank ones left out."""
    values = _whole_rows(path)
    next(values, None)  # the header, read before
    for number, texts in enumerate(values, start=2):
        if any(t.strip() for t in texts):
            yield number, texts


def _stream_xlsx(path: Path) -> SourceFile:
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise ImportError_(f"not an XLSX workbook: {error}", field="file") from error
    if not book.worksheets:
        book.close()
        raise ImportError_("the workbook has no sheet", field="file")
    values = book.worksheets[0].iter_rows(values_only=True)
    try:
        headers = [_cell(v).strip() for v in next(values)]
    except StopIteration as error:
        book.close()
        raise ImportError_("the sheet is empty", field="file") from error

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, cells in enumerate(values, start=2):
                texts = [_cell(v) for v in cells]
                if any(t.strip() for t in texts):
                    yield number, texts
        finally:
            book.close()

    return SourceFile("xlsx", headers, rows())


# --- mapping ---------------------------------------------------------------------------------


class DateCheck(BaseModel):
    """A date read from ``column`` with ``format``; when ``check_column`` holds the same date
    written another way (``check_format``), a disagreement is reported for the row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    format: str
    check_column: str | None = None
    check_format: str | None = None
    time_column: str | None = None
    time_format: str | None = None
    expect_from: date | None = None  # the period the file covers: a date outside it whose
    expect_to: date | None = None  # day and month swapped falls inside is reported and swapped


class PadCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    digits: int = Field(ge=1, le=20)


class ImportMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ImportKind
    description: str = ""
    encoding: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    templates: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    dates: dict[str, DateCheck] = Field(default_factory=dict)
    pad: dict[str, PadCheck] = Field(default_factory=dict)
    warn_blank: dict[str, str] = Field(default_factory=dict)  # source column -> why it matters
    # desk field -> longest kept, warned
    truncate: dict[str, Annotated[int, Field(ge=2, le=4000)]] = Field(default_factory=dict)


def load_mapping(path: Path | None, kind: ImportKind) -> ImportMapping:
    """The mapping at ``path`` (or the identity mapping), checked against ``kind``."""
    if path is None:
        return ImportMapping(kind=kind)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        mapping = ImportMapping(**raw)
    except FileNotFoundError as error:
        raise ImportError_(f"no mapping file {path}", field="--map") from error
    except IsADirectoryError as error:
        raise ImportError_(f"{path} is a directory, not a mapping file", field="--map") from error
    except UnicodeDecodeError as error:
        raise ImportError_(
            f"{path} is not UTF-8 text (a mapping is TOML)", field="--map"
        ) from error
    except OSError as error:
        raise ImportError_(f"cannot read {path}: {error.strerror}", field="--map") from error
    except tomllib.TOMLDecodeError as error:
        raise ImportError_(f"{path} is not TOML: {error}", field="--map") from error
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ImportError_(f"{path}: {where}: {first['msg']}", field="--map") from error
    if mapping.kind is not kind:
        raise ImportError_(f"{path} maps {mapping.kind.value}, not {kind.value}", field="--map")
    known = set(ROW_MODELS[kind].model_fields)
    unknown = sorted(
        (
            set(mapping.columns)
            | set(mapping.constants)
            | set(mapping.templates)
            | set(mapping.dates)
            | set(mapping.pad)
        )
        - known
    )
    if unknown:
        raise ImportError_(
            f"{path}: unknown {kind.value} field(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})",
            field="--map",
        )
    return mapping


def shipped_mapping(name: str) -> Path:
    """A mapping shipped in ``data/mappings``."""
    return Path(str(files("desk.data").joinpath("mappings", name)))


def shipped_mapping_names() -> list[str]:
    """The names of the mappings shipped with desk, without ``.toml``."""
    folder = files("desk.data").joinpath("mappings")
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


# --- row models ------------------------------------------------------------------------------


# The validators below run for every cell of a file of a million rows: each takes its common
# case first (printable text, a plain amount, bare digits) and the careful path otherwise.

_PLAIN_AMOUNT = re.compile(r"(-?)([0-9]{1,10})(?:\.([0-9]{1,2}))?")
_SEPARATORS = re.compile(r"[\s-]")


def _text(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        if not value.isprintable():
            problem = plain_text_problem(value, multiline=True)
            if problem:
                raise ValueError(problem)
        return value or None
    return value


def _money_cents(value: object) -> object:
    if value is None or isinstance(value, int):
        return value
    text = str(value).strip().replace(",", "").replace("¥", "").replace("￥", "")
    if not text:
        return None
    plain = _PLAIN_AMOUNT.fullmatch(text)
    if plain is not None:
        sign, units, fraction = plain.groups()
        whole = int(units) * 100 + (int(fraction.ljust(2, "0")) if fraction else 0)
        return -whole if sign else whole
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise ValueError(f"{value!r} is not an amount") from error
    if not amount.is_finite() or abs(amount) > Decimal("1e10"):
        raise ValueError(f"{value!r} is out of range")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{value!r} has more than 2 decimals")
    return int(cents)


def _flag(value: object) -> object:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("yes", "y", "true", "1", "是"):
            return True
        if lowered in ("no", "n", "false", "0", "否", ""):
            return False
        raise ValueError(f"{value!r} is not yes or no")
    return value


def _optional_date(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text[:10])
        except ValueError as error:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from error
    return value


CENTS_MAX = 2**31 - 1  # money columns are 32-bit integers on PostgreSQL: 21,474,836.47 at most


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4000)


class CustomerRow(_Row):
    customer_no: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=64)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{5,20}$")
    id_card_no: str | None = Field(default=None, pattern=r"^[0-9]{17}[0-9Xx]$")
    region: str = Field(min_length=1, max_length=64)
    tier: Tier = Tier.STANDARD
    status: CustomerStatus = CustomerStatus.ACTIVE
    is_member: bool = False
    address: str | None = Field(default=None, max_length=200)
    birthday: date | None = None
    member_since: date | None = None
    balance_cents: int = Field(default=0, ge=-CENTS_MAX, le=CENTS_MAX)
    arrears_cents: int = Field(default=0, ge=0, le=CENTS_MAX)

    _texts = field_validator("customer_no", "name", "region", "address", mode="before")(_text)
    _flags = field_validator("is_member", mode="before")(_flag)
    _dates = field_validator("birthday", "member_since", mode="before")(_optional_date)
    _money = field_validator("balance_cents", "arrears_cents", mode="before")(_money_cents)

    @field_validator("phone", "id_card_no", mode="before")
    @classmethod
    def _compact(cls, value: object) -> object:
        if isinstance(value, str):
            return value if value.isdigit() else (_SEPARATORS.sub("", value) or None)
        return value

    @field_validator("tier", "status", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().lower() or None
        return value


class BillRow(_Row):
    account_no: str = Field(min_length=1, max_length=20)
    period: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    amount_cents: int = Field(ge=0, le=CENTS_MAX)
    paid_cents: int = Field(default=0, ge=0, le=CENTS_MAX)
    due_date: date

    _texts = field_validator("account_no", "period", mode="before")(_text)
    _money = field_validator("amount_cents", "paid_cents", mode="before")(_money_cents)
    _dates = field_validator("due_date", mode="before")(_optional_date)


class TicketRow(_Row):
    number: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=4000)
    category: RequestType = RequestType.COMPLAINT
    channel: Channel = Channel.PHONE
    source: WorkOrderSource = WorkOrderSource.AGENT
    status: WorkOrderStatus = WorkOrderStatus.NEW
    priority: Priority = Priority.NORMAL
    created_at: datetime
    customer_no: str | None = Field(default=None, max_length=20)
    on_behalf: bool = False
    city: str | None = Field(default=None, max_length=64)
    state: str | None = Field(default=None, max_length=64)
    zip: str | None = Field(default=None, max_length=10)

    _texts = field_validator(
        "number", "title", "description", "customer_no", "city", "state", "zip", mode="before"
    )(_text)
    _flags = field_validator("on_behalf", mode="before")(_flag)

    @field_validator("description", mode="before")
    @classmethod
    def _no_none(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("created_at", mode="before")
    @classmethod
    def _instant(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError as error:
                raise ValueError(f"{value!r} is not a date and time") from error
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


ROW_MODELS: dict[ImportKind, type[_Row]] = {
    ImportKind.CUSTOMERS: CustomerRow,
    ImportKind.BILLS: BillRow,
    ImportKind.TICKETS: TicketRow,
}
NATURAL_KEYS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.CUSTOMERS: ("customer_no",),
    ImportKind.BILLS: ("account_no", "period"),
    ImportKind.TICKETS: ("number",),
}


# --- the common case, without the row models --------------------------------------------------

# A file of a million rows spends most of its validation in pydantic calling the before-
# validators above cell by cell. Each row is first read by the converters below, which accept
# only what they can vouch for (the row model would give the very same value); any doubt
# about any cell (a blank required field, a control character, an unusual amount, a value
# too long) hands the whole row to its model, which accepts it or names the field and the
# reason as before. tests/services/test_imports.py checks the two against each other.


class CustomerValues(NamedTuple):
    customer_no: str
    name: str
    phone: str | None
    id_card_no: str | None
    region: str
    tier: Tier
    status: CustomerStatus
    is_member: bool
    address: str | None
    birthday: date | None
    member_since: date | None
    balance_cents: int
    arrears_cents: int


class BillValues(NamedTuple):
    account_no: str
    period: str
    amount_cents: int
    paid_cents: int
    due_date: date


class TicketValues(NamedTuple):
    number: str
    title: str
    description: str
    category: RequestType
    channel: Channel
    source: WorkOrderSource
    status: WorkOrderStatus
    priority: Priority
    created_at: datetime
    customer_no: str | None
    on_behalf: bool
    city: str | None
    state: str | None
    zip: str | None


_Values = CustomerValues | BillValues | TicketValues
VALUES: dict[ImportKind, type[CustomerValues] | type[BillValues] | type[TicketValues]] = {
    ImportKind.CUSTOMERS: CustomerValues,
    ImportKind.BILLS: BillValues,
    ImportKind.TICKETS: TicketValues,
}


class _Doubt(ValueError):
    """A cell the fast path cannot vouch for: its row goes to the row model."""


_REQUIRED = object()
_ABSENT = object()
_SEP = "\x1f"  # joins a column's cells for one check of them all: never in a printable cell


def _whole(pattern: str) -> re.Pattern[str]:
    """``pattern`` for every cell of a column joined by :data:`_SEP`."""
    return re.compile(f"(?:{pattern})(?:{_SEP}(?:{pattern}))*")


class _Cell:
    """A field's fast converter: a cell (``__call__``: the value, or an exception when in
    doubt) or a whole column (``column``: the values and the indexes in doubt). A column
    is first tried whole (a few C-level passes over the column: ``quick``), else cell by
    cell."""

    def __call__(self, value: str) -> object:
        raise NotImplementedError

    def quick(self, cells: Sequence[str], default: object) -> list[object] | None:
        """Every non-blank cell vouched for at once, blank ones given ``default``; None
        when in doubt about any (then cell by cell)."""
        del cells, default
        return None

    def column(self, cells: Sequence[str], default: object) -> tuple[list[object], list[int]]:
        if default is not _REQUIRED or "" not in cells:
            quick = self.quick(cells, default)
            if quick is not None:
                return quick, []
        values: list[object] = []
        doubts: list[int] = []
        for index, cell in enumerate(cells):
            value: object = default
            try:
                if cell == "":
                    if default is _REQUIRED:
                        raise _Doubt
                else:
                    value = self(cell)
                    if value is None and default is not None:
                        raise _Doubt  # blank where a value is required: the model says so
            except (ValueError, TypeError, AttributeError):
                doubts.append(index)
                value = None
            values.append(value)
        return values, doubts


def _filled(cells: Sequence[str]) -> Sequence[str]:
    return [cell for cell in cells if cell] if "" in cells else cells


def _or_default(values: Sequence[object], cells: Sequence[str], default: object) -> list[object]:
    if "" not in cells:
        return list(values)
    given = iter(values)
    return [next(given) if cell else default for cell in cells]


class _Text(_Cell):
    """``_text`` for printable text: stripped, blank as None, at most ``longest``."""

    def __init__(self, longest: int, *, pattern: str | None = None) -> None:
        self.longest = longest
        self.pattern = None if pattern is None else re.compile(pattern)
        self.whole = None if pattern is None else _whole(pattern)

    def __call__(self, value: str) -> object:
        text = value.strip()
        if not text:
            return None  # required: the caller turns this into doubt
        if len(text) > self.longest or not text.isprintable():
            raise _Doubt
        if self.pattern is not None and self.pattern.fullmatch(text) is None:
            raise _Doubt
        return text

    def quick(self, cells: Sequence[str], default: object) -> list[object] | None:
        filled = _filled(cells)
        if not filled:
            return [default] * len(cells)
        if max(map(len, filled)) > self.longest:
            return None
        joined = _SEP.join(filled)
        if self.whole is not None:
            if self.whole.fullmatch(joined) is None:  # the pattern has no blank in it
                return None
        elif not "".join(filled).isprintable() or (
            # printable: the only blank left is the space; stripping must change nothing
            joined[0] == " " or joined[-1] == " " or f" {_SEP}" in joined or f"{_SEP} " in joined
        ):
            return None
        return _or_default(filled, cells, default)


class _Compact(_Cell):
    """``_compact`` for digits: separators dropped, the field's ASCII pattern whole."""

    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)
        self.whole = _whole(pattern)  # no separator in it: a matching cell is compact already

    def __call__(self, value: str) -> object:
        text = value if value.isdigit() else _SEPARATORS.sub("", value)
        if not text:
            return None
        if self.pattern.fullmatch(text) is None:
            raise _Doubt
        return text

    def quick(self, cells: Sequence[str], default: object) -> list[object] | None:
        filled = _filled(cells)
        if filled and self.whole.fullmatch(_SEP.join(filled)) is None:
            return None
        return _or_default(filled, cells, default)


class _Choice(_Cell):
    def __init__(self, kind: type[StrEnum], *, lowered: bool) -> None:
        self.members: dict[str, object] = {member.value: member for member in kind}
        self.lowered = lowered

    def __call__(self, value: str) -> object:
        member = self.members.get(value.strip().lower() if self.lowered else value)
        if member is None:
            raise _Doubt
        return member

    def quick(self, cells: Sequence[str], default: object) -> list[object] | None:
        members = self.members
        if not set(cells) <= members.keys() | {""}:
            return None
        return list(map({**members, "": default}.__getitem__, cells))


_FLAGS = {"yes": True, "y": True, "true": True, "1": True, "是": True}
_FLAGS |= {"no": False, "n": False, "false": False, "0": False, "否": False}


class _Flag(_Cell):
    def __call__(self, value: str) -> object:
        return _flag(value) if type(value) is str else _doubt()

    def quick(self, cells: Sequence[str], default: object) -> list[object] | None:
        if not set(cells) <= _FLAGS.keys() | {""}:
            return None
        return list(map({**_FLAGS, "": default}.__getitem__, cells))


_ISO_DAYS = _whole(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class _Date(_Cell):
    def __call__(self, value: str) -> object:
        return _optional_date(value) if type(value) is str else _doubt()

    def quick(self, cells: Sequence[str], default: object) -> list[object] | None:
        filled = _filled(cells)
        if filled and _ISO_DAYS.fullmatch(_SEP.join(filled)) is None:
            return None
        try:
            days = list(map(date.fromisoformat, filled))
        except ValueError:  # a day that does not exist: the model's reason
            return None
        return _or_default(days, cells, default)


_PLAIN_AMOUNTS = _whole(r"-?[0-9]{1,10}(?:\.[0-9]{1,2})?")


class _Money(_Cell):
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def __call__(self, value: str) -> object:
        cents = _money_cents(value)
        if type(cents) is not int or not self.low <= cents <= self.high:
            raise _Doubt
        return cents

    def quick(self, cells: Sequence[str], default: object) -> list[object] | None:
        filled = _filled(cells)
        if not filled:
            return [default] * len(cells)
        if _PLAIN_AMOUNTS.fullmatch(_SEP.join(filled)) is None:
            return None
        # at most 12 digits: a double holds each amount within far less than half a cent
        cents = [round(float(cell) * 100) for cell in filled]
        if min(cents) < self.low or max(cents) > self.high:
            return None
        return _or_default(cents, cells, default)


class _Instant(_Cell):
    def __call__(self, value: str) -> object:
        moment = datetime.fromisoformat(value.strip())  # a ValueError: the model's reason
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _doubt() -> object:
    raise _Doubt


_CUSTOMER_NO = r"[A-Za-z0-9_.-]+"
_FAST: dict[ImportKind, dict[str, _Cell]] = {
    ImportKind.CUSTOMERS: {
        "customer_no": _Text(20, pattern=_CUSTOMER_NO),
        "name": _Text(64),
        "phone": _Compact(r"\+?[0-9]{5,20}"),
        "id_card_no": _Compact(r"[0-9]{17}[0-9Xx]"),
        "region": _Text(64),
        "tier": _Choice(Tier, lowered=True),
        "status": _Choice(CustomerStatus, lowered=True),
        "is_member": _Flag(),
        "address": _Text(200),
        "birthday": _Date(),
        "member_since": _Date(),
        "balance_cents": _Money(-CENTS_MAX, CENTS_MAX),
        "arrears_cents": _Money(0, CENTS_MAX),
    },
    ImportKind.BILLS: {
        "account_no": _Text(20),
        "period": _Text(7, pattern=r"[0-9]{4}-(?:0[1-9]|1[0-2])"),
        "amount_cents": _Money(0, CENTS_MAX),
        "paid_cents": _Money(0, CENTS_MAX),
        "due_date": _Date(),
    },
    ImportKind.TICKETS: {
        "number": _Text(20, pattern=_CUSTOMER_NO),
        "title": _Text(120),
        "description": _Text(4000),
        "category": _Choice(RequestType, lowered=False),
        "channel": _Choice(Channel, lowered=False),
        "source": _Choice(WorkOrderSource, lowered=False),
        "status": _Choice(WorkOrderStatus, lowered=False),
        "priority": _Choice(Priority, lowered=False),
        "created_at": _Instant(),
        "customer_no": _Text(20),
        "on_behalf": _Flag(),
        "city": _Text(64),
        "state": _Text(64),
        "zip": _Text(10),
    },
}


class _FastRow:
    """The row of one kind read by the converters above: the values, or None (ask the
    model)."""

    def __init__(self, kind: ImportKind) -> None:
        model, converters, make = ROW_MODELS[kind], _FAST[kind], VALUES[kind]
        fields = tuple(model.model_fields)
        if fields != make._fields or set(converters) != set(fields):
            raise RuntimeError(f"the {kind.value} row model, values and converters differ")
        self.make = make
        self.plan = tuple(
            (
                name,
                converters[name],
                _REQUIRED if info.is_required() else info.get_default(call_default_factory=True),
            )
            for name, info in model.model_fields.items()
        )

    def __call__(self, values: Mapping[str, object]) -> _Values | None:
        get = values.get
        out: list[object] = []
        try:
            for name, convert, default in self.plan:
                value = get(name, _ABSENT)
                if value is _ABSENT or value == "":
                    if default is _REQUIRED:
                        return None
                    out.append(default)
                    continue
                converted = convert(value)  # type: ignore[arg-type]
                if converted is None and default is not None:
                    return None  # blank where a value is required: the model says so
                out.append(converted)
        except (ValueError, TypeError, AttributeError):
            return None
        return self.make(*out)  # type: ignore[arg-type]


def _as_values(kind: ImportKind, row: _Row) -> _Values:
    return VALUES[kind](*(getattr(row, name) for name in ROW_MODELS[kind].model_fields))


# --- report ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowProblem:
    row: int
    field: str
    reason: str
    severity: Literal["rejected", "warning"] = "rejected"

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "field": self.field,
            "reason": self.reason,
            "severity": self.severity,
        }

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


@dataclass
class ImportReport:
    kind: ImportKind
    file: str
    encoding: str
    dry_run: bool
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warned: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def absorb(self, read: int, rejected: int, warned: int, problems: list[RowProblem]) -> None:
        """Counts and problems found elsewhere (the validating side) for this run."""
        self.read += read
        self.rejected += rejected
        self.warned += warned
        self.problems.extend(problems[: max(0, MAX_PROBLEMS - len(self.problems))])

    def problem(self, problem: RowProblem) -> None:
        if problem.severity == "rejected":
            self.rejected += 1
        else:
            self.warned += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "file": self.file,
            "encoding": self.encoding,
            "dry_run": self.dry_run,
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "warnings": self.warned,
            "notes": self.notes,
            "problems": [p.as_dict() for p in self.problems],
        }


# --- mapping rows ----------------------------------------------------------------------------


class _Rejected(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _parse_date(text: str, fmt: str) -> datetime:
    """A date (and time) as written in a file; the file's zone is decided by the caller."""
    return datetime.strptime(text.strip(), fmt)  # noqa: DTZ007 - made aware by the caller


def _map_row(
    mapping: ImportMapping, number: int, cells: Mapping[str, str], report: ImportReport
) -> dict[str, object]:
    values: dict[str, object] = dict(mapping.constants)
    for desk_field, column in mapping.columns.items():
        values[desk_field] = cells.get(column, "")
    if not mapping.columns and not mapping.templates:  # the file speaks desk's field names
        values.update({k: v for k, v in cells.items() if k})
    for desk_field, translations in mapping.values.items():
        raw = str(values.get(desk_field, "") or "").strip()
        if raw in translations:
            values[desk_field] = translations[raw]
        elif raw and translations:
            raise _Rejected(desk_field, f"{raw!r} is not one of {', '.join(sorted(translations))}")
    for desk_field, pad in mapping.pad.items():
        raw = (cells.get(pad.column) or "").strip()
        if raw.isdigit() and len(raw) < pad.digits:
            padded = raw.zfill(pad.digits)
            report.problem(
                RowProblem(
                    number,
                    pad.column,
                    f"{raw!r} has {len(raw)} digit(s), not {pad.digits}: a leading zero was "
                    f"lost; stored as {padded}",
                    "warning",
                )
            )
            raw = padded
        values[desk_field] = raw
    for desk_field, spec in mapping.dates.items():
        values[desk_field] = _mapped_date(spec, number, cells, report)
    for column, why in mapping.warn_blank.items():
        if not (cells.get(column) or "").strip():
            report.problem(RowProblem(number, column, f"blank: {why}", "warning"))
    for desk_field, template in mapping.templates.items():
        fields = {**cells, **{k: ("" if v is None else v) for k, v in values.items()}}
        try:
            values[desk_field] = template.format_map(fields)
        except (KeyError, ValueError, IndexError) as error:
            raise _Rejected(
                desk_field, f"template {template!r} cannot be filled: {error}"
            ) from error
    for desk_field, limit in mapping.truncate.items():
        value = values.get(desk_field)
        if isinstance(value, str) and len(value.strip()) > limit:
            cut = value.strip()[: limit - 1] + "…"
            report.problem(
                RowProblem(
                    number,
                    desk_field,
                    f"{len(value.strip())} characters, at most {limit}: shortened to {cut!r} "
                    "(the whole text is kept where the mapping puts it)",
                    "warning",
                )
            )
            values[desk_field] = cut
    return values


def _mapped_date(
    spec: DateCheck, number: int, cells: Mapping[str, str], report: ImportReport
) -> datetime:
    raw = (cells.get(spec.column) or "").strip()
    try:
        day = _parse_date(raw, spec.format)
    except ValueError as error:
        raise _Rejected(spec.column, f"{raw!r} is not a date like {spec.format}") from error
    if spec.check_column and spec.check_format:
        other_raw = (cells.get(spec.check_column) or "").strip()
        try:
            other = _parse_date(other_raw, spec.check_format)
        except ValueError:
            report.problem(
                RowProblem(number, spec.check_column, f"{other_raw!r} is not a date", "warning")
            )
        else:
            if other.date() != day.date():
                mirrored = other.day == day.month and other.month == day.day
                why = "day and month swapped" if mirrored else "they differ"
                report.problem(
                    RowProblem(
                        number,
                        spec.check_column,
                        f"{other_raw!r} disagrees with {spec.column} {raw!r} ({why}); "
                        f"{spec.column} is used: {day.date().isoformat()}",
                        "warning",
                    )
                )
    if spec.expect_from and spec.expect_to:
        low, high = spec.expect_from, spec.expect_to
        if not low <= day.date() <= high:
            swapped: datetime | None
            try:
                swapped = day.replace(month=day.day, day=day.month)
            except ValueError:
                swapped = None
            if swapped is not None and low <= swapped.date() <= high:
                report.problem(
                    RowProblem(
                        number,
                        spec.column,
                        f"{raw!r} reads as {day.date().isoformat()}, outside the file's period "
                        f"{low.isoformat()}..{high.isoformat()}; day and month look swapped: "
                        f"stored as {swapped.date().isoformat()}",
                        "warning",
                    )
                )
                day = swapped
            else:
                report.problem(
                    RowProblem(
                        number,
                        spec.column,
                        f"{raw!r} reads as {day.date().isoformat()}, outside the file's period "
                        f"{low.isoformat()}..{high.isoformat()}; stored as read",
                        "warning",
                    )
                )
    if spec.time_column and spec.time_format:
        time_raw = (cells.get(spec.time_column) or "").strip()
        try:
            moment = _parse_date(time_raw, spec.time_format)
        except ValueError as error:
            raise _Rejected(spec.time_column, f"{time_raw!r} is not a time") from error
        day = day.replace(hour=moment.hour, minute=moment.minute, second=moment.second)
    return day.replace(tzinfo=UTC) if day.tzinfo is None else day


def _validated(
    kind: ImportKind,
    mapping: ImportMapping,
    source: SourceFile,
    report: ImportReport,
) -> Iterator[tuple[int, _Values]]:
    model = ROW_MODELS[kind]
    known = frozenset(model.model_fields)
    fast = _FastRow(kind)
    seen: dict[tuple[object, ...], int] = {}
    keys = NATURAL_KEYS[kind]
    positions = tuple(VALUES[kind]._fields.index(k) for k in keys)
    _check_columns(kind, mapping, source, report)
    bare = mapping == ImportMapping(kind=kind)  # desk's own field names, nothing to map
    for number, cells in source.rows:
        report.read += 1
        try:
            values = cells if bare else _map_row(mapping, number, cells, report)
            row = fast(values)
            if row is None:
                # a blank cell is no value: the field's default, or "Field required"
                row = _as_values(
                    kind, model(**{k: v for k, v in values.items() if k in known and v != ""})
                )
        except _Rejected as rejected:
            report.problem(RowProblem(number, rejected.field, rejected.reason))
            continue
        except ValidationError as error:
            report.problem(_rejection(number, error))
            continue
        key = tuple(row[i] for i in positions)
        if key in seen:
            report.problem(
                RowProblem(
                    number, keys[0], f"{key[0]!r} repeats row {seen[key]}; the first is kept"
                )
            )
            continue
        seen[key] = number
        yield number, row


def _rejection(number: int, error: ValidationError) -> RowProblem:
    """The row's problem as the row model names it: its first error."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "row"
    reason = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "missing":
        reason = "blank, and a value is required"
    return RowProblem(number, where, reason)


def _check_columns(
    kind: ImportKind, mapping: ImportMapping, source: SourceFile, report: ImportReport
) -> None:
    """A column the mapping reads that the file lacks, or (without a mapping) a required
    field with no column, stops the import before any row; a column without a mapping that
    names no field is said in a note, not dropped silently."""
    headers = set(source.headers)
    missing = sorted(
        {c for c in mapping.columns.values() if c not in headers}
        | {d.column for d in mapping.dates.values() if d.column not in headers}
        | {p.column for p in mapping.pad.values() if p.column not in headers}
    )
    identity = not mapping.columns and not mapping.templates
    fields = ROW_MODELS[kind].model_fields
    if identity:
        missing += sorted(
            name
            for name, info in fields.items()
            if info.is_required()
            and name not in headers
            and name not in mapping.constants
            and name not in mapping.dates
        )
    if missing:
        raise ImportError_(
            f"the file has no column {', '.join(repr(m) for m in missing)} "
            f"(it has: {', '.join(repr(h) for h in source.headers)})",
            field="--map" if not identity else "file",
        )
    if identity:
        ignored = [h for h in source.headers if h and h not in fields]
        if ignored:
            report.notes.append(
                f"column(s) {', '.join(repr(h) for h in ignored)} name no {kind.value} field: "
                "ignored (a mapping file can use them)"
            )


# --- writing ---------------------------------------------------------------------------------

_CUSTOMER: Table = metadata.tables["customer"]
_PHONE: Table = metadata.tables["customer_phone"]
_ACCOUNT: Table = metadata.tables["account"]
_BILL: Table = metadata.tables["bill"]
_ORDER: Table = metadata.tables["work_order"]
_EVENT: Table = metadata.tables["work_order_event"]


# Customers are written set-based: every validated row is staged into a temporary table of
# the import's own connection (no lock on desk's tables while the file is read), then moved
# in chunks of STAGE_CHUNK rows, one write transaction each: phones another customer owns
# rejected, differing rows updated, new rows inserted and their phones added, each one
# statement over the chunk.

STAGE_CHUNK = 50_000
STAGE_FLUSH = 10_000
_STAGE_CACHE_KIB = 262_144  # SQLite page cache of the import's connection while it writes

_STAGE_META = MetaData()
_COMPARED = (
    "name",
    "name_spaced",
    "name_pinyin",
    "name_initials",
    "id_card_no",
    "id_card_rev",
    "region",
    "tier",
    "status",
    "is_member",
    "address",
    "birthday",
    "member_since",
    "balance_cents",
    "arrears_cents",
)
_STAGE: Table = Table(
    "desk_import_customer",
    _STAGE_META,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("row_number", Integer, nullable=False),
    Column("customer_no", String(20), nullable=False),
    *(Column(name, _CUSTOMER.c[name].type) for name in _COMPARED),
    Column("phone", String(20)),
    Column("phone_rev", String(20)),
    Column("phone_kind", String(8)),
    prefixes=["TEMPORARY"],
)
_STAGE_COLUMNS = tuple(column.name for column in _STAGE.columns)
_STAGE_KINDS = tuple(
    next(
        (
            kind
            for kind, sql in ((bool, Boolean), (date, Date), (int, Integer))
            if isinstance(column.type, sql)
        ),
        str,
    )
    for column in _STAGE.columns
)  # how each column of the stage is written as COPY text
_FTS_TRIGGER = "customer_fts_ai"


@lru_cache(maxsize=200_000)
def _name_keys(name: str) -> tuple[str, str, str]:
    keys = name_keys(name)
    return keys.spaced, keys.pinyin, keys.initials


def _staged(seq: int, number: int, row: CustomerValues, sqlite: bool) -> tuple[object, ...]:
    spaced, pinyin, initials = _name_keys(row.name)
    id_card = (row.id_card_no or "").upper()
    phone = row.phone
    birthday: object = row.birthday
    member_since: object = row.member_since
    is_member: object = row.is_member
    if sqlite:  # the bare driver gets what SQLAlchemy would store
        birthday = None if row.birthday is None else row.birthday.isoformat()
        member_since = None if row.member_since is None else row.member_since.isoformat()
        is_member = int(row.is_member)
    return (
        seq,
        number,
        row.customer_no,
        row.name,
        spaced,
        pinyin,
        initials,
        id_card,
        reverse(id_card),
        row.region,
        row.tier.value,
        row.status.value,
        is_member,
        row.address,
        birthday,
        member_since,
        row.balance_cents,
        row.arrears_cents,
        phone,
        None if phone is None else reverse(phone),
        None if phone is None else ("fixed" if phone.startswith("0") else "mobile"),
    )


class _CopyText(NamedTuple):
    """Stage rows made into PostgreSQL's COPY text in the validating process: the text
    crosses to the writer as one string (pickling a batch's tuples, with their dates, cost
    that process as much as validating them, and unpickling and formatting them again cost
    the writer's), and goes to the server as it is."""

    seqs: list[int]
    text: str


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_column(values: Sequence[object], kind: type) -> list[str]:
    """A column of the stage in COPY's text format (``\\N`` for NULL)."""
    if kind is str:
        texts = [v if v is None or type(v) is str else str(v) for v in values]
        written = "".join([v for v in texts if v is not None])
        if any(special in written for special in "\\\t\n\r"):  # rare: escape the column
            return ["\\N" if v is None else v.translate(_COPY_ESCAPES) for v in texts]
        return ["\\N" if v is None else v for v in texts]
    if kind is bool:
        return ["\\N" if v is None else ("t" if v else "f") for v in values]
    if kind is date:
        return ["\\N" if v is None else v.isoformat() for v in values]  # type: ignore[attr-defined]
    if kind is int:
        return ["\\N" if v is None else str(int(v)) for v in values]  # type: ignore[call-overload]
    raise AssertionError(kind)


def _copy_text(items: list[tuple[object, ...]]) -> _CopyText:
    columns = [
        _copy_column(values, kind)
        for values, kind in zip(zip(*items, strict=True), _STAGE_KINDS, strict=True)
    ]
    lines = ["\t".join(row) for row in zip(*columns, strict=True)]
    return _CopyText([int(item[0]) for item in items], "\n".join(lines) + "\n")  # type: ignore[call-overload]


def _copy_into_stage(
    connection: Connection, rows: list[tuple[object, ...]] | _CopyText, *, sqlite: bool
) -> None:
    if sqlite:
        assert not isinstance(rows, _CopyText)
        # every column of the stage in order, composed by SQLAlchemy, sent as one executemany
        insert = str(_STAGE.insert().compile(dialect=connection.dialect))
        connection.exec_driver_sql(insert, rows)
        return
    assert isinstance(rows, _CopyText)  # made by _writable_batches
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {_STAGE.name} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
        copy.write(rows.text)


def _write_customer_chunk(
    connection: Connection, low: int, high: int, report: ImportReport, now: datetime, actor: Actor
) -> None:
    """Stage rows ``low <= seq < high`` into desk's tables, in the caller's transaction."""
    stage, customer, phone = _STAGE, _CUSTOMER, _PHONE
    chunk = and_(stage.c.seq >= low, stage.c.seq < high)
    taken = connection.execute(
        select(stage.c.seq, stage.c.row_number, stage.c.phone, customer.c.customer_no)
        .select_from(
            stage.join(phone, phone.c.phone == stage.c.phone).join(
                customer, customer.c.id == phone.c.customer_id
            )
        )
        .where(chunk, customer.c.customer_no != stage.c.customer_no)
    ).all()
    for _, number, number_phone, owner in taken:
        report.problem(RowProblem(number, "phone", f"{number_phone} belongs to customer {owner}"))
    for start in range(0, len(taken), 5_000):
        seqs = [seq for seq, *_ in taken[start : start + 5_000]]
        connection.execute(delete(stage).where(stage.c.seq.in_(seqs)))
    staged, matched = connection.execute(
        select(func.count(), func.count(customer.c.id))
        .select_from(stage.outerjoin(customer, customer.c.customer_no == stage.c.customer_no))
        .where(chunk)
    ).one()
    same_customer = customer.c.customer_no == stage.c.customer_no
    updated = 0
    if matched:  # a chunk of new customers only (a first import) has nothing to compare
        updated = connection.execute(
            update(customer)
            .values(
                {name: stage.c[name] for name in _COMPARED}
                | {
                    "version": customer.c.version + 1,
                    "updated_at": literal(now, customer.c.updated_at.type),
                    "updated_by": actor.user_id,
                }
            )
            .where(
                same_customer,
                chunk,
                or_(*(customer.c[name].is_distinct_from(stage.c[name]) for name in _COMPARED)),
            )
        ).rowcount
    inserted = int(staged) - int(matched)  # the chunk's rows with no customer yet
    if inserted:
        _insert_new_customers(connection, chunk, now)
    other = phone.alias("other")
    has_primary = (
        exists().where(other.c.customer_id == customer.c.id, other.c.is_primary).correlate(customer)
    )
    phone_free = ~exists().where(other.c.phone == stage.c.phone).correlate(stage)
    connection.execute(
        insert(phone).from_select(
            ["customer_id", "phone", "phone_rev", "kind", "is_primary"],
            select(
                customer.c.id,
                stage.c.phone,
                stage.c.phone_rev,
                stage.c.phone_kind,
                ~has_primary,
            )
            .select_from(stage.join(customer, same_customer))
            .where(chunk, stage.c.phone.is_not(None), phone_free),
        )
    )
    report.inserted += inserted
    report.updated += updated
    report.unchanged += int(matched) - updated


def _insert_new_customers(
    connection: Connection, chunk: ColumnElement[bool], now: datetime
) -> None:
    """The chunk's new customers, in the file's order (the stage's own: sorting them by
    number cost a fifth of the statement). On SQLite the full-text trigger
    (one FTS5 insert per row, half the cost of a large import) is set aside for the statement
    and its work done as one statement after it, then put back as it was, all inside this
    transaction: a failure or a kill rolls the three back together."""
    stage, customer = _STAGE, _CUSTOMER
    new = (
        select(
            stage.c.customer_no,
            *(stage.c[name] for name in _COMPARED),
            literal(now, customer.c.created_at.type),
        )
        .where(chunk, ~exists().where(customer.c.customer_no == stage.c.customer_no))
        .order_by(stage.c.seq)
    )
    statement = insert(customer).from_select(["customer_no", *_COMPARED, "created_at"], new)
    trigger = None
    if connection.dialect.name == "sqlite":
        trigger = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_FTS_TRIGGER,)
        ).scalar()
    if trigger is None:
        connection.execute(statement)
        return
    last = connection.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM customer").scalar_one()
    connection.exec_driver_sql(f"DROP TRIGGER {_FTS_TRIGGER}")
    connection.execute(statement)
    connection.exec_driver_sql(
        "INSERT INTO customer_fts (rowid, name_spaced) "
        "SELECT id, name_spaced FROM customer WHERE id > ?",
        (last,),
    )
    connection.exec_driver_sql(str(trigger))


def _pragma(connection: Connection, pragma: str) -> None:
    """A SQLite pragma outside any transaction (through the driver: no autobegin)."""
    connection.connection.driver_connection.execute(f"PRAGMA {pragma}")  # type: ignore[union-attr]


def _import_customers(
    db: Database,
    actor: Actor,
    batches: Iterable[_Batch],
    report: ImportReport,
    *,
    dry_run: bool,
    writers: int,
) -> None:
    """Stage the batches as they come (a temporary table of the writing connection: no lock
    on desk's tables), and write every :data:`STAGE_CHUNK` rows staged as one transaction: a
    killed import keeps whole chunks, and running it again finds them unchanged and writes
    the rest. With ``writers`` above 1 (PostgreSQL, a large file) the batches are dealt in
    turn to that many connections, each in a thread of its own (see :data:`PG_WRITERS`)."""
    if writers <= 1:
        with _staging(db, _STAGE) as connection:
            writer = _ChunkWriter(db, connection, actor, report, dry_run=dry_run)
            for batch in batches:
                report.absorb(batch.read, batch.rejected, batch.warned, batch.problems)
                if batch.items:
                    writer.take(batch.items)
            writer.finish()
        return
    abort = threading.Event()
    lanes = [_Lane(db, actor, report, abort, dry_run=dry_run) for _ in range(writers)]
    turn = 0
    try:
        for batch in batches:
            report.absorb(batch.read, batch.rejected, batch.warned, batch.problems)
            if abort.is_set():  # a lane failed: what it raised is raised below
                break
            if batch.items:
                lanes[turn % writers].put(batch.items)
                turn += 1
    except BaseException:
        abort.set()
        raise
    finally:
        for lane in lanes:
            lane.close()
    for lane in lanes:
        lane.merge_into(report)
    for lane in lanes:
        if lane.failure is not None:
            raise lane.failure


class _ChunkWriter:
    """The stage of one connection: rows taken in batches, written every
    :data:`STAGE_CHUNK` rows (and what is left at the end), each chunk one transaction."""

    def __init__(
        self,
        db: Database,
        connection: Connection,
        actor: Actor,
        report: ImportReport,
        *,
        dry_run: bool,
    ) -> None:
        self.db, self.connection, self.actor, self.report = db, connection, actor, report
        self.dry_run = dry_run
        self.sqlite = connection.dialect.name == "sqlite"
        self.staged: list[int] = []  # the seq of each row staged and not yet written, in order
        if self.sqlite:
            _pragma(connection, f"cache_size=-{_STAGE_CACHE_KIB}")

    def take(self, items: list[tuple[object, ...]] | _CopyText) -> None:
        with self.connection.begin():
            _copy_into_stage(self.connection, items, sqlite=self.sqlite)
        if isinstance(items, _CopyText):
            self.staged.extend(items.seqs)
        else:
            self.staged.extend(int(item[0]) for item in items)  # type: ignore[call-overload]
        while len(self.staged) >= STAGE_CHUNK:
            self._write(self.staged[STAGE_CHUNK - 1] + 1)
            del self.staged[:STAGE_CHUNK]

    def finish(self) -> None:
        if self.staged:
            self._write(self.staged[-1] + 1)
            self.staged.clear()

    def _write(self, high: int) -> None:
        """The staged rows below seq ``high`` (a lane's seqs have gaps: the other lanes'
        rows)."""
        connection, low, now = self.connection, self.staged[0], self.db.clock.now()
        _write_once(
            connection,
            lambda: _write_customer_chunk(connection, low, high, self.report, now, self.actor),
            dry_run=self.dry_run,
        )
        with connection.begin():
            connection.execute(delete(_STAGE).where(_STAGE.c.seq < high))


PG_WRITERS = 2
"""PostgreSQL: the connections a large customer import writes on side by side. The server's
work for a new customer (its entries in the indexes of ``customer`` and ``customer_phone``
and its name grams) is most of the import's time, and a connection's work runs on one CPU of
the server. The rows of a file do not depend on one another (a customer number or a phone
that comes again in the file is rejected by row before it is staged), so whole chunks can be
written by several connections at once, each its own transaction. Measured on 1,000,000 new
customers into the 1M demo: see the README's import figures. SQLite has one writer."""

_LANE_QUEUED = 2  # batches dealt to a lane and not yet staged, at most


def customer_writers(size: int, *, sqlite: bool) -> int:
    """The connections that write a customer file of ``size`` bytes: :data:`PG_WRITERS` for
    a large file on PostgreSQL (one validated in a second process), else one."""
    return PG_WRITERS if size >= PARALLEL_MIN_BYTES and not sqlite else 1


class _Lane:
    """A writing connection in a thread of its own, fed batches through a bounded queue.
    It counts into a report of its own (merged by the caller after it ended). A failure
    sets ``abort`` for the other lanes and the caller; a lane that sees it writes nothing
    more and drains its queue, so the caller never waits on it."""

    def __init__(
        self,
        db: Database,
        actor: Actor,
        report: ImportReport,
        abort: threading.Event,
        *,
        dry_run: bool,
    ) -> None:
        self.db, self.actor, self.abort, self.dry_run = db, actor, abort, dry_run
        self.report = ImportReport(
            kind=report.kind, file=report.file, encoding=report.encoding, dry_run=dry_run
        )
        self.queue: queue.Queue[list[tuple[object, ...]] | _CopyText | None] = queue.Queue(
            _LANE_QUEUED
        )
        self.thread = threading.Thread(target=self._run, name="desk-import-writer", daemon=True)
        self.failure: BaseException | None = None

    def put(self, items: list[tuple[object, ...]] | _CopyText) -> None:
        if self.thread.ident is None:
            self.thread.start()  # a lane connects when it is first given rows
        self.queue.put(items)

    def close(self) -> None:
        """No more rows: the lane writes what it holds (unless aborted) and ends."""
        if self.thread.ident is None:
            return
        self.queue.put(None)
        self.thread.join()

    def merge_into(self, report: ImportReport) -> None:
        mine = self.report
        report.inserted += mine.inserted
        report.updated += mine.updated
        report.unchanged += mine.unchanged
        report.absorb(0, mine.rejected, mine.warned, mine.problems)

    def _run(self) -> None:
        ended = False
        try:
            with _staging(self.db, _STAGE) as connection:
                writer = _ChunkWriter(
                    self.db, connection, self.actor, self.report, dry_run=self.dry_run
                )
                while (items := self.queue.get()) is not None:
                    if not self.abort.is_set():
                        writer.take(items)
                ended = True
                if not self.abort.is_set():
                    writer.finish()
        except BaseException as error:  # raised again in the caller's thread
            self.failure = error
            self.abort.set()
            while not ended and self.queue.get() is not None:
                pass


@contextmanager
def _staging(db: Database, stage: Table) -> Iterator[Connection]:
    """The import's own connection, with ``stage`` made afresh on it (a temporary table of
    that connection: no lock on desk's tables while it fills). On the way out, an error's
    included, the stage is dropped and the connection given back to the pool as it was."""
    with db.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        try:
            with connection.begin():
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {stage.name}")
                stage.create(connection)
            yield connection
        except BaseException:
            _drop_stage(connection, stage, sqlite=sqlite, quiet=True)  # the first error is told
            raise
        _drop_stage(connection, stage, sqlite=sqlite, quiet=False)


def _write_once(connection: Connection, write: Callable[[], None], *, dry_run: bool) -> None:
    """``write`` in one writing transaction of the import's connection: committed, or rolled
    back on an error and on a dry run."""
    connection.execution_options(desk_write=True)
    transaction = connection.begin()
    try:
        write()
    except BaseException:
        transaction.rollback()
        raise
    if dry_run:
        transaction.rollback()
    else:
        transaction.commit()
    connection.execution_options(desk_write=False)


def _drop_stage(connection: Connection, stage: Table, *, sqlite: bool, quiet: bool) -> None:
    """Roll back what is open (a commit that failed leaves its transaction to roll back),
    drop the stage, give the pool its connection as it was. ``quiet``: a failure here (the
    disk still full, the connection lost) is not raised, the caller's error is."""
    try:
        transaction = connection.get_transaction()
        if transaction is not None:
            transaction.rollback()
        connection.execution_options(desk_write=False)
        with connection.begin():
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {stage.name}")
        if sqlite:
            _pragma(connection, "cache_size=-2000")  # SQLite's default, for the pool
    except Exception:
        if not quiet:
            raise
        connection.invalidate()  # the pool gets a fresh one, not this one's state


# Bills and tickets are written set-based too: each batch staged into a temporary table of the
# import's connection and moved in its own transaction by a few statements over the batch: rows
# whose account or customer does not exist rejected by row, differing rows updated, new rows
# inserted (a new ticket with its 'created' event), each one statement.

_BILL_STAGE: Table = Table(
    "desk_import_bill",
    _STAGE_META,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("row_number", Integer, nullable=False),
    Column("account_no", String(20), nullable=False),
    Column("period", String(7), nullable=False),
    Column("account_id", Integer),
    Column("customer_id", Integer),
    *(Column(name, _BILL.c[name].type) for name in ("amount_cents", "paid_cents", "due_date")),
    Column("status", String(16), nullable=False),
    prefixes=["TEMPORARY"],
)
_BILL_COMPARED = ("customer_id", "amount_cents", "paid_cents", "due_date", "status")
_TICKET_COMPARED = (
    "customer_id",
    "category",
    "title",
    "description",
    "priority",
    "channel",
    "source",
    "status",
    "created_at",
    "ladder_next_at",
)
_TICKET_STAGE: Table = Table(
    "desk_import_ticket",
    _STAGE_META,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("row_number", Integer, nullable=False),
    Column("number", String(20), nullable=False),
    Column("customer_no", String(20)),
    Column("fresh", Boolean),
    *(Column(name, _ORDER.c[name].type) for name in _TICKET_COMPARED),
    Column("data", _EVENT.c.data.type),
    prefixes=["TEMPORARY"],
)
_STAGES = {ImportKind.BILLS: _BILL_STAGE, ImportKind.TICKETS: _TICKET_STAGE}


def _reject_staged(
    connection: Connection,
    stage: Table,
    where: ColumnElement[bool],
    field: str,
    reason: Callable[[Any], str],
    report: ImportReport,
) -> None:
    """The staged rows matching ``where``: each reported as rejected and taken out of the
    stage."""
    found = connection.execute(
        select(stage.c.seq, stage.c.row_number, stage.c[field]).where(where)
    ).all()
    for _, number, value in found:
        report.problem(RowProblem(number, field, reason(value)))
    for start in range(0, len(found), 5_000):
        seqs = [seq for seq, *_ in found[start : start + 5_000]]
        connection.execute(delete(stage).where(stage.c.seq.in_(seqs)))


def _write_bills(
    connection: Connection, batch: list[tuple[int, _Values]], report: ImportReport, now: datetime
) -> None:
    """A batch of bills, in the caller's transaction (see above)."""
    stage, bill, account = _BILL_STAGE, _BILL, _ACCOUNT
    rows = [(n, r) for n, r in batch if isinstance(r, BillValues)]
    if not rows:
        return
    connection.execute(delete(stage))
    connection.execute(
        stage.insert(),
        [
            {
                "seq": seq,
                "row_number": number,
                "account_no": row.account_no,
                "period": row.period,
                "amount_cents": row.amount_cents,
                "paid_cents": row.paid_cents,
                "due_date": row.due_date,
                "status": "paid"
                if row.paid_cents >= row.amount_cents
                else "partial"
                if row.paid_cents
                else "unpaid",
            }
            for seq, (number, row) in enumerate(rows, start=1)
        ],
    )
    owner = account.c.account_no == stage.c.account_no
    connection.execute(
        update(stage).values(
            account_id=select(account.c.id).where(owner).scalar_subquery(),
            customer_id=select(account.c.customer_id).where(owner).scalar_subquery(),
        )
    )
    _reject_staged(
        connection, stage, stage.c.account_id.is_(None), "account_no", _no("account"), report
    )
    _reject_staged(
        connection,
        stage,
        stage.c.paid_cents > stage.c.amount_cents,
        "paid_cents",
        lambda _: "more than the amount billed",
        report,
    )
    same = and_(bill.c.account_id == stage.c.account_id, bill.c.period == stage.c.period)
    staged, matched = connection.execute(
        select(func.count(), func.count(bill.c.id)).select_from(stage.outerjoin(bill, same))
    ).one()
    updated = connection.execute(
        update(bill)
        .values({name: stage.c[name] for name in _BILL_COMPARED})
        .where(
            same, or_(*(bill.c[name].is_distinct_from(stage.c[name]) for name in _BILL_COMPARED))
        )
    ).rowcount
    connection.execute(
        insert(bill).from_select(
            ["account_id", "period", *_BILL_COMPARED, "issued_at"],
            select(
                stage.c.account_id,
                stage.c.period,
                *(stage.c[name] for name in _BILL_COMPARED),
                literal(now, bill.c.issued_at.type),
            )
            .where(~exists().where(same))
            .order_by(stage.c.seq),
        )
    )
    report.inserted += int(staged) - int(matched)
    report.updated += updated
    report.unchanged += int(matched) - updated


def _no(what: str) -> Callable[[Any], str]:
    return lambda value: f"no {what} {value!r}"


def _write_tickets(
    connection: Connection, batch: list[tuple[int, _Values]], report: ImportReport, now: datetime
) -> None:
    """A batch of tickets, in the caller's transaction (see above): a new one gets its
    'created' event, in the same statement set."""
    stage, order, customer, event = _TICKET_STAGE, _ORDER, _CUSTOMER, _EVENT
    rows = [(n, r) for n, r in batch if isinstance(r, TicketValues)]
    if not rows:
        return
    connection.execute(delete(stage))
    connection.execute(
        stage.insert(),
        [
            {
                "seq": seq,
                "row_number": number,
                "number": row.number,
                "customer_no": row.customer_no,
                "customer_id": None,
                "category": row.category.value,
                "title": row.title,
                "description": row.description,
                "priority": row.priority.value,
                "channel": row.channel.value,
                "source": row.source.value,
                "status": row.status.value,
                "created_at": row.created_at,
                "ladder_next_at": None if row.status is WorkOrderStatus.CLOSED else row.created_at,
                "data": {
                    "imported": report.file,
                    "row": number,
                    "on_behalf": row.on_behalf,
                    **{
                        k: v
                        for k, v in (("city", row.city), ("state", row.state), ("zip", row.zip))
                        if v
                    },
                },
            }
            for seq, (number, row) in enumerate(rows, start=1)
        ],
    )
    connection.execute(
        update(stage)
        .where(stage.c.customer_no.is_not(None))
        .values(
            customer_id=select(customer.c.id)
            .where(customer.c.customer_no == stage.c.customer_no)
            .scalar_subquery()
        )
    )
    _reject_staged(
        connection,
        stage,
        and_(stage.c.customer_no.is_not(None), stage.c.customer_id.is_(None)),
        "customer_no",
        _no("customer"),
        report,
    )
    same = order.c.number == stage.c.number
    connection.execute(update(stage).values(fresh=~exists().where(same)))
    staged, fresh = connection.execute(
        select(func.count(), func.count().filter(stage.c.fresh))
    ).one()
    updated = connection.execute(
        update(order)
        .values(
            {name: stage.c[name] for name in _TICKET_COMPARED}
            | {"updated_at": literal(now, order.c.updated_at.type)}
        )
        .where(
            same,
            or_(*(order.c[name].is_distinct_from(stage.c[name]) for name in _TICKET_COMPARED)),
        )
    ).rowcount
    connection.execute(
        insert(order).from_select(
            ["number", *_TICKET_COMPARED, "updated_at", "version"],
            select(
                stage.c.number,
                *(stage.c[name] for name in _TICKET_COMPARED),
                literal(now, order.c.updated_at.type),
                literal(1),
            )
            .where(stage.c.fresh)
            .order_by(stage.c.seq),
        )
    )
    connection.execute(
        insert(event).from_select(
            ["work_order_id", "at", "kind", "to_status", "reason", "data"],
            select(
                order.c.id,
                stage.c.created_at,
                literal(EventKind.CREATED.value),
                stage.c.status,
                literal("imported"),
                stage.c.data,
            )
            .select_from(stage.join(order, same))
            .where(stage.c.fresh)
            .order_by(stage.c.seq),
        )
    )
    report.inserted += int(fresh)
    report.updated += updated
    report.unchanged += int(staged) - int(fresh) - updated


WRITERS = {
    ImportKind.BILLS: _write_bills,
    ImportKind.TICKETS: _write_tickets,
}


def _write_in_batches(
    db: Database,
    kind: ImportKind,
    batches: Iterable[_Batch],
    report: ImportReport,
    *,
    dry_run: bool,
) -> None:
    """Bills and tickets: each batch as it comes, staged and written in one transaction of
    the import's own connection (its stage is a temporary table of that connection)."""
    write = WRITERS[kind]
    with _staging(db, _STAGES[kind]) as connection:
        for batch in batches:
            report.absorb(batch.read, batch.rejected, batch.warned, batch.problems)
            if not batch.items:
                continue
            now = db.clock.now()
            _write_once(
                connection, partial(write, connection, batch.items, report, now), dry_run=dry_run
            )


# --- validating: in a second process for a large file -----------------------------------------

PARALLEL_MIN_BYTES = 1024 * 1024  # smaller files (a few thousand rows) are validated
# in-process: they take less time than a second process is worth


@dataclass(frozen=True, slots=True)
class _Job:
    """What the validating side needs."""

    kind: ImportKind
    mapping: ImportMapping
    path: Path
    encoding: str
    file: str
    sqlite: bool
    batch_rows: int
    columns: bool = True  # a file in desk's own columns read a column at a time


@dataclass(slots=True)
class _Batch:
    """Rows kept (as the writer wants them) and the problems found, for about ``batch_rows``
    rows of the file; the counts are this batch's."""

    items: Any  # a list of what the writer takes, or _CopyText
    problems: list[RowProblem]
    read: int
    rejected: int
    warned: int


class _CustomerItems:
    """Customer rows as the stage's tuples, numbered in the file's order; a phone on two
    rows of the file is kept on the first."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        self.phones: dict[str, int] = {}
        self.seq = 0

    def __call__(self, number: int, row: _Values, report: ImportReport) -> object:
        assert isinstance(row, CustomerValues)
        if row.phone is not None:
            first = self.phones.setdefault(row.phone, number)
            if first != number:
                report.problem(RowProblem(number, "phone", f"{row.phone} is on row {first} too"))
                return None
        self.seq += 1
        return _staged(self.seq, number, row, self.sqlite)

    def block(
        self,
        numbers: list[int],
        columns: list[list[Any]],
        kept: list[int],
        report: ImportReport,
    ) -> list[tuple[object, ...]]:
        """The rows ``kept`` of a block read a column at a time (in the order of
        :class:`CustomerValues`), as the stage's tuples: what :meth:`__call__` makes of
        each."""
        phones = columns[2]
        taken = self.phones
        kept_ = []
        for i in kept:
            phone = phones[i]
            if phone is not None:
                first = taken.setdefault(phone, numbers[i])
                if first != numbers[i]:
                    report.problem(
                        RowProblem(numbers[i], "phone", f"{phone} is on row {first} too")
                    )
                    continue
            kept_.append(i)
        if len(kept_) < len(numbers):
            numbers = [numbers[i] for i in kept_]
            columns = [[column[i] for i in kept_] for column in columns]
        (
            customer_no,
            name,
            phone_,
            id_card_no,
            region,
            tier,
            status,
            is_member,
            address,
            birthday,
            member_since,
            balance,
            arrears,
        ) = columns
        keys = list(map(_name_keys, name))
        id_card = [(card or "").upper() for card in id_card_no]
        if self.sqlite:  # the bare driver gets what SQLAlchemy would store
            birthday = [None if day is None else day.isoformat() for day in birthday]
            member_since = [None if day is None else day.isoformat() for day in member_since]
            is_member = list(map(int, is_member))
        seq = range(self.seq + 1, self.seq + 1 + len(numbers))
        self.seq += len(numbers)
        return list(
            zip(
                seq,
                numbers,
                customer_no,
                name,
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                id_card,
                [card[::-1] for card in id_card],
                region,
                [t.value for t in tier],
                [s.value for s in status],
                is_member,
                address,
                birthday,
                member_since,
                balance,
                arrears,
                phone_,
                [None if p is None else p[::-1] for p in phone_],
                [
                    None if p is None else ("fixed" if p.startswith("0") else "mobile")
                    for p in phone_
                ],
                strict=True,
            )
        )


def _as_read(number: int, row: _Values, report: ImportReport) -> object:
    del report
    return (number, row)


def _column_batches(job: _Job, source: SourceFile) -> Iterator[_Batch]:
    """The rows of a file in desk's own columns, validated a column at a time: each
    block of :attr:`_Job.batch_rows` rows is cut into its columns, each column read whole by
    its field's converter (see :class:`_Cell`), and only the rows with a cell in doubt (or a
    record of another width) go one by one to the fast row and the row model. Same rows kept,
    same problems, same order as :func:`_validated` row by row."""
    kind = job.kind
    model, make = ROW_MODELS[kind], VALUES[kind]
    known = frozenset(model.model_fields)
    fast = _FastRow(kind)
    headers = source.headers
    width = len(headers)
    where = {header: index for index, header in enumerate(headers)}  # the last one, as a dict
    keys = NATURAL_KEYS[kind]
    positions = [make._fields.index(k) for k in keys]
    seen: dict[tuple[object, ...], int] = {}
    customers = _CustomerItems(job.sqlite) if kind is ImportKind.CUSTOMERS else None
    records = source.records
    while block := list(itertools.islice(records, job.batch_rows)):
        report = ImportReport(kind=kind, file=job.file, encoding=source.encoding, dry_run=False)
        report.read = len(block)
        numbers = [number for number, _ in block]
        rows = [cells for _, cells in block]
        doubt = {i for i, cells in enumerate(rows) if len(cells) != width}
        regular = [
            cells if i not in doubt else (cells + [""] * width)[:width]
            for i, cells in enumerate(rows)
        ]
        cut = list(zip(*regular, strict=True)) if regular and width else []
        columns: list[list[object]] = []
        for name, converter, default in fast.plan:
            index = where.get(name)
            if index is None:
                if default is _REQUIRED:
                    doubt.update(range(len(block)))
                columns.append([None if default is _REQUIRED else default] * len(block))
                continue
            values, doubts = converter.column(cut[index], default)
            doubt.update(doubts)
            columns.append(values)
        rejected: set[int] = set()
        for i in sorted(doubt):
            values_ = dict(zip(headers, rows[i], strict=False))
            row = fast(values_)
            if row is None:
                try:
                    row = _as_values(
                        kind, model(**{k: v for k, v in values_.items() if k in known and v != ""})
                    )
                except ValidationError as error:
                    report.problem(_rejection(numbers[i], error))
                    rejected.add(i)
                    continue
            for column, value in zip(columns, row, strict=True):
                column[i] = value
        kept: list[int] = []
        natural = zip(*(columns[p] for p in positions), strict=True)
        for i, (number, key) in enumerate(zip(numbers, natural, strict=True)):
            if i in rejected:
                continue
            first = seen.setdefault(key, number)
            if first != number:
                report.problem(
                    RowProblem(
                        number, keys[0], f"{key[0]!r} repeats row {first}; the first is kept"
                    )
                )
                continue
            kept.append(i)
        if customers is not None:
            items: list[Any] = customers.block(numbers, columns, kept, report)
        else:
            items = [(numbers[i], make(*(column[i] for column in columns))) for i in kept]  # type: ignore[arg-type]
        report.problems.sort(key=lambda problem: problem.row)
        yield _Batch(items, report.problems, report.read, report.rejected, report.warned)


def _prepared_batches(job: _Job) -> Iterator[_Batch]:
    """The file read, mapped and validated, in batches (this runs in the second process
    for a large file): a column at a time in desk's own columns, else row by row."""
    source = read_file(job.path, encoding=job.encoding)
    if job.columns and job.mapping == ImportMapping(kind=job.kind):
        yield from _column_batches(job, source)
        return
    report = ImportReport(kind=job.kind, file=job.file, encoding=source.encoding, dry_run=False)
    prepare: Callable[[int, _Values, ImportReport], object] = (
        _CustomerItems(job.sqlite) if job.kind is ImportKind.CUSTOMERS else _as_read
    )
    items: list[Any] = []
    for number, row in _validated(job.kind, job.mapping, source, report):
        item = prepare(number, row, report)
        if item is not None:
            items.append(item)
        if report.read >= job.batch_rows:
            yield _Batch(items, report.problems, report.read, report.rejected, report.warned)
            items, report.problems = [], []
            report.read = report.rejected = report.warned = 0
    yield _Batch(items, report.problems, report.read, report.rejected, report.warned)


def _writable_batches(job: _Job) -> Iterator[_Batch]:
    """The prepared batches as the writer takes them: on PostgreSQL a batch of customers as
    COPY text, made where the rows are validated (the second process, for a large file)."""
    copy = job.kind is ImportKind.CUSTOMERS and not job.sqlite
    for batch in _prepared_batches(job):
        if copy and batch.items:
            batch.items = _copy_text(batch.items)
        yield batch


def _read_to_the_end(path: Path, encoding: str) -> None:
    """Read the whole file before the first write, so that a cell the encoding or the CSV
    reader cannot read stops the import with nothing written, while the validating side
    reads it (again) at its own pace."""
    if encoding == "xlsx":
        if not _read_whole(path):  # read whole, a sheet gives no row before its end
            for _ in read_file(path).rows:
                pass
        return
    try:
        with path.open(encoding=encoding, newline="") as handle:
            for _ in csv.reader(handle):
                pass
    except (UnicodeError, csv.Error):
        for _ in read_file(path, encoding=encoding).rows:  # the careful reading names the line
            pass
        raise ImportError_("the file cannot be read to its end", field="file") from None


def run_import(
    db: Database,
    *,
    actor: Actor,
    kind: ImportKind,
    path: Path,
    mapping_path: Path | None = None,
    encoding: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import ``path`` as ``kind``; see the module's documentation."""

    def allowed(session: Session) -> None:
        require(session, actor, Permission.MANAGE_DATA)
        if not dry_run:  # the run ends with an audit entry: no rows written without it
            audit.check_key(session)

    db.run(allowed, write=not dry_run)
    try:
        return _run_import(
            db, actor, ImportKind(kind), path, mapping_path, encoding, dry_run=dry_run
        )
    finally:
        _let_sheet_go()


def _run_import(
    db: Database,
    actor: Actor,
    kind: ImportKind,
    path: Path,
    mapping_path: Path | None,
    encoding: str | None,
    *,
    dry_run: bool,
) -> ImportReport:
    mapping = load_mapping(mapping_path, kind)
    source = read_file(path, encoding=encoding or mapping.encoding)
    report = ImportReport(kind=kind, file=path.name, encoding=source.encoding, dry_run=dry_run)
    for desk_field, template in mapping.templates.items():
        report.notes.append(f"{desk_field} is made from {template!r}, not read from the file")
    _check_columns(kind, mapping, source, report)
    job = _Job(
        kind=kind,
        mapping=mapping,
        path=path,
        encoding=source.encoding,
        file=path.name,
        sqlite=db.is_sqlite,
        batch_rows=STAGE_FLUSH if kind is ImportKind.CUSTOMERS else BATCH,
    )
    parallel = path.stat().st_size >= PARALLEL_MIN_BYTES
    with refused_values(), pipeline.produced(_writable_batches, job, parallel=parallel) as batches:
        _read_to_the_end(path, source.encoding)
        if kind is ImportKind.CUSTOMERS:
            writers = customer_writers(path.stat().st_size, sqlite=db.is_sqlite)
            _import_customers(db, actor, batches, report, dry_run=dry_run, writers=writers)
        else:
            _write_in_batches(db, kind, batches, report, dry_run=dry_run)
    report.problems.sort(key=lambda problem: problem.row)
    if not dry_run:
        db.run(
            lambda session: audit.record(
                session,
                action=f"import.{kind.value}",
                actor=actor,
                target_type="import",
                detail={
                    k: v for k, v in report.as_dict().items() if k not in ("problems", "notes")
                },
            ),
            write=True,
        )
    return report
