"""Imports on both databases: encodings, XLSX, mappings, the sample files' traps (in fixtures
made here, never read from elsewhere), idempotent upserts, a killed import, fuzzed cells."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import event, text

from desk.infra import pipeline
from desk.infra.database import Database
from desk.rules.permissions import shell_actor
from desk.services import audit, imports
from desk.services.imports import ImportKind

SHELL = shell_actor("test")

TELCO_HEADER = (
    "customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,"
    "InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,"
    "StreamingMovies,Contract,PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,Churn"
)
TELCO_ROWS = [
    "7590-VHVEG,Female,0,Yes,No,1,No,No phone service,DSL,No,Yes,No,No,No,No,"
    "Month-to-month,Yes,Electronic check,29.85,29.85,No",
    "5575-GNVDE,Male,0,No,No,34,Yes,No,DSL,Yes,No,Yes,No,No,No,One year,No,Mailed check,"
    "56.95,1889.5,No",
    "4472-LVYGI,Female,0,Yes,Yes,0,No,No phone service,DSL,Yes,No,Yes,Yes,Yes,No,Two year,Yes,"
    "Bank transfer (automatic),52.55, ,No",
    "3668-QPYBK,Male,0,No,No,2,Yes,No,DSL,Yes,Yes,No,No,No,No,Month-to-month,Yes,Mailed check,"
    "53.85,108.15,Yes",
]
COMCAST_HEADER = [
    "Ticket #",
    "Customer Complaint",
    "Date",
    "Date_month_year",
    "Time",
    "Received Via",
    "City",
    "State",
    "Zip code",
    "Status",
    "Filing on Behalf of Someone",
]
COMCAST_ROWS = [
    [
        "250635",
        "Comcast Cable Internet Speeds",
        "22-04-15",
        "22-Apr-15",
        "3:53:50 PM",
        "Customer Care Call",
        "Abingdon",
        "Maryland",
        "21009",
        "Closed",
        "No",
    ],
    [
        "223441",
        "Payment disappear - service got disconnected",
        "06-12-15",
        "06-Dec-15",
        "10:22:56 AM",
        "Internet",
        "Acworth",
        "Georgia",
        "30102",
        "Open",
        "Yes",
    ],
    [
        "242732",
        "Speed and Service",
        "18-04-15",
        "18-Apr-15",
        "9:55:47 AM",
        "Internet",
        "Boston",
        "Massachusetts",
        "2135",
        "Pending",
        "No",
    ],
    [
        "277946",
        "Data cap",
        "05-07-15",
        "05-Jul-15",
        "11:59:35 AM",
        "Internet",
        "Acworth",
        "Georgia",
        "30101",
        "Weird",
        "No",
    ],
    [
        "250635",
        "Duplicate of the first",
        "22-04-15",
        "22-Apr-15",
        "3:53:50 PM",
        "Customer Care Call",
        "Abingdon",
        "Maryland",
        "21009",
        "Closed",
        "No",
    ],
]


def _telco(tmp_path: Path) -> Path:
    path = tmp_path / "telco.csv"
    path.write_text("\n".join([TELCO_HEADER, *TELCO_ROWS]) + "\n", encoding="utf-8")
    return path


def _comcast(tmp_path: Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COMCAST_HEADER)
    writer.writerows(COMCAST_ROWS)
    path = tmp_path / "comcast.csv"
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


def _run(
    db: Database, kind: ImportKind, path: Path, mapping: str | None = None, **kwargs: object
) -> imports.ImportReport:
    mapping_path = imports.shipped_mapping(mapping) if mapping else None
    return imports.run_import(
        db,
        actor=SHELL,
        kind=kind,
        path=path,
        mapping_path=mapping_path,
        **kwargs,  # type: ignore[arg-type]
    )


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_the_telco_sample_imports_with_its_traps_reported(db: Database, tmp_path: Path) -> None:
    report = _run(db, ImportKind.CUSTOMERS, _telco(tmp_path), "telco_customer_churn.toml")
    assert (report.read, report.inserted, report.rejected) == (4, 4, 0)
    assert [(p.row, p.field, p.severity) for p in report.problems] == [
        (4, "TotalCharges", "warning")
    ]
    assert any("not read from the file" in note for note in report.notes)
    with db.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT customer_no, name, status, is_member FROM customer ORDER BY customer_no")
        ).all()
    assert [(r[0], r[1], r[2], bool(r[3])) for r in rows][:2] == [
        ("3668-QPYBK", "Telco 3668-QPYBK", "closed", False),
        ("4472-LVYGI", "Telco 4472-LVYGI", "active", True),
    ]
    again = _run(db, ImportKind.CUSTOMERS, _telco(tmp_path), "telco_customer_churn.toml")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)


def test_the_comcast_sample_imports_with_its_traps_reported(db: Database, tmp_path: Path) -> None:
    report = _run(db, ImportKind.TICKETS, _comcast(tmp_path), "comcast_complaints.toml")
    assert report.encoding == "utf-8-sig"
    assert (report.read, report.inserted, report.rejected) == (5, 3, 2)
    found = {(p.row, p.field, p.severity) for p in report.problems}
    assert (3, "Date_month_year", "warning") in found  # day and month swapped
    assert (4, "Zip code", "warning") in found  # 2135 lost its leading zero
    assert (5, "status", "rejected") in found  # "Weird" is no status
    assert (6, "number", "rejected") in found  # the ticket repeats row 2
    with db.engine.connect() as connection:
        swapped = connection.execute(
            text("SELECT created_at, status FROM work_order WHERE number = 'CC-223441'")
        ).one()
        events = connection.execute(
            text("SELECT COUNT(*) FROM work_order_event WHERE kind = 'created'")
        ).scalar_one()
    assert str(swapped[0]).startswith("2015-06-12")
    assert swapped[1] == "new"
    assert events == 3
    again = _run(db, ImportKind.TICKETS, _comcast(tmp_path), "comcast_complaints.toml")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert _count(db, "work_order_event") == 3


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_encodings_are_detected(db: Database, tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "people.csv"
    body = "customer_no,name,phone,region\r\nC1,张三丰,13812345678,杭州\r\nC2,李四,,宁波\r\n"
    path.write_bytes(body.encode(encoding))
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, report.rejected) == (2, 0)
    with db.engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM customer ORDER BY customer_no")).scalars()
        assert list(names) == ["张三丰", "李四"]


def test_an_xlsx_file(db: Database, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["customer_no", "name", "phone", "region", "balance_cents"])
    sheet.append(["C1", "王芳", 13900001111, "杭州", 12.5])
    sheet.append(["C2", "", 13900002222, "杭州", 1])
    path = tmp_path / "people.xlsx"
    book.save(path)
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert report.inserted == 1
    assert [(p.row, p.field) for p in report.problems] == [(3, "name")]
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT balance_cents FROM customer")).scalar_one() == 1250


def _typed_workbook(path: Path) -> Path:
    """Cells of every type a spreadsheet stores (text, whole and decimal numbers, dates,
    date-times, booleans), a blank row in the middle and a rejected row after it."""
    from datetime import date, datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        ["customer_no", "name", "phone", "region", "birthday", "member_since", "is_member"]
        + ["balance_cents"]
    )
    sheet.append(["C1", "王芳", 13900001111, "杭州", date(1980, 1, 2), "2020-05-06", True, 12.5])
    when = datetime(2021, 1, 1)  # noqa: DTZ001 - a spreadsheet's date-times carry no zone
    sheet.append(["C2", "李四", "13900002222", "宁波", "1981-03-04", when, "no", 3])
    sheet.append([])
    sheet.append(["C3", "", 13900003333, "杭州", None, None, False, 0])
    sheet.append([None, None, None, None, None, None, None, None])
    sheet.append([2024, "赵六", 13900004444, "温州", date(1990, 12, 31), None, 1, -1.25])
    book.save(path)
    return path


@pytest.mark.parametrize("reader", ["whole", "streamed"])
def test_an_xlsx_reads_alike_whole_or_streamed(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """A workbook is read whole by calamine, or streamed by openpyxl past a size: the same
    rows, values, row numbers and problems either way."""
    if reader == "streamed":
        monkeypatch.setattr(imports, "XLSX_WHOLE_MAX_BYTES", 0)
    report = _run(db, ImportKind.CUSTOMERS, _typed_workbook(tmp_path / "typed.xlsx"))
    assert (report.read, report.inserted, report.rejected) == (4, 3, 1)
    assert [(p.row, p.field) for p in report.problems] == [(5, "name")]
    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.customer_no, c.name, p.phone, c.birthday, c.member_since, "
                "c.is_member, c.balance_cents FROM customer c "
                "JOIN customer_phone p ON p.customer_id = c.id ORDER BY c.customer_no"
            )
        ).all()

    def day(value: object) -> str | None:  # a date, or its text on SQLite
        return None if value is None else str(value)

    assert [(*row[:3], day(row[3]), day(row[4]), bool(row[5]), row[6]) for row in rows] == [
        ("2024", "赵六", "13900004444", "1990-12-31", None, True, -125),
        ("C1", "王芳", "13900001111", "1980-01-02", "2020-05-06", True, 1250),
        ("C2", "李四", "13900002222", "1981-03-04", "2021-01-01", False, 300),
    ]


@pytest.mark.parametrize("reader", ["whole", "streamed"])
def test_an_xlsx_with_blank_columns_and_rows_before_its_cells(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """A sheet whose cells start in column C: the columns stay aligned with the header."""
    from openpyxl import Workbook

    if reader == "streamed":
        monkeypatch.setattr(imports, "XLSX_WHOLE_MAX_BYTES", 0)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["customer_no", "name", "region"], ["C1", "王芳", "杭州"], [], ["C2", "", "宁波"]):
        sheet.append([None, None, *row])
    path = tmp_path / "offset.xlsx"
    book.save(path)
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, [(p.row, p.field) for p in report.problems]) == (1, [(4, "name")])
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT customer_no, name, region FROM customer")).one()
    assert tuple(stored) == ("C1", "王芳", "杭州")


def test_a_large_xlsx_is_read_once_for_its_header_and_its_rows(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workbook over PARALLEL_MIN_BYTES is validated in a forked process, which takes the
    sheet the caller read for the header instead of reading it again; once the import has
    ended the sheet is let go."""
    import python_calamine
    from bench.figures.imports import write_workbook

    path = tmp_path / "large.xlsx"
    write_workbook(path, 0, 20_000)
    assert path.stat().st_size >= imports.PARALLEL_MIN_BYTES
    readings = tmp_path / "readings"
    opened = python_calamine.CalamineWorkbook.from_path

    def counted(*args: object, **kwargs: object) -> object:
        with readings.open("a") as log:  # the forked process appends here too
            log.write(f"{os.getpid()}\n")
        return opened(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", counted)
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, report.rejected) == (20_000, 0)
    assert readings.read_text().splitlines() == [str(os.getpid())]
    assert imports._SHEET == {}


def test_a_zip_that_is_no_workbook_and_an_empty_sheet(db: Database, tmp_path: Path) -> None:
    import zipfile

    from openpyxl import Workbook

    stray = tmp_path / "stray.xlsx"
    with zipfile.ZipFile(stray, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    with pytest.raises(imports.ImportError_, match="not an XLSX workbook"):
        _run(db, ImportKind.CUSTOMERS, stray)
    empty = tmp_path / "empty.xlsx"
    Workbook().save(empty)
    with pytest.raises(imports.ImportError_, match="the sheet is empty"):
        _run(db, ImportKind.CUSTOMERS, empty)
    assert _count(db, "customer") == 0


def test_a_dry_run_writes_nothing(db: Database, tmp_path: Path) -> None:
    report = _run(
        db, ImportKind.CUSTOMERS, _telco(tmp_path), "telco_customer_churn.toml", dry_run=True
    )
    assert report.inserted == 4
    assert _count(db, "customer") == 0
    assert _count(db, "audit_log") == 0


def test_a_dry_run_of_a_large_file_writes_nothing_on_any_connection(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validated in a second process and, on PostgreSQL, written by two connections: every
    chunk rolled back, the counts what a real run reports."""
    monkeypatch.setattr(imports, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(imports, "STAGE_FLUSH", 100)
    monkeypatch.setattr(imports, "STAGE_CHUNK", 150)
    path = _many(tmp_path, 700)
    report = _run(db, ImportKind.CUSTOMERS, path, dry_run=True)
    kept = 700 - len([n for n in range(700) if n % 7 == 3])
    assert (report.read, report.inserted, report.dry_run) == (700, kept, True)
    assert _count(db, "customer") == 0
    assert _count(db, "customer_phone") == 0
    assert _count(db, "audit_log") == 0
    real = _run(db, ImportKind.CUSTOMERS, path)
    assert (real.inserted, real.rejected) == (report.inserted, report.rejected)


def test_changed_rows_are_updated_and_phones_stay_with_their_owner(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_text("customer_no,name,phone,region\nC1,张三,13800000001,杭州\n", encoding="utf-8")
    _run(db, ImportKind.CUSTOMERS, path)
    path.write_text(
        "customer_no,name,phone,region\nC1,张三丰,13800000001,杭州\nC2,李四,13800000001,杭州\n",
        encoding="utf-8",
    )
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, report.updated, report.rejected) == (0, 1, 1)
    assert [(p.row, p.field) for p in report.problems] == [(3, "phone")]


@pytest.mark.parametrize("second_process", [False, True], ids=["inline", "second-process"])
def test_a_killed_import_keeps_whole_chunks_and_a_rerun_completes_it(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second_process: bool
) -> None:
    monkeypatch.setattr(imports, "PARALLEL_MIN_BYTES", 0 if second_process else 10**9)
    monkeypatch.setattr(imports, "STAGE_CHUNK", 3)
    monkeypatch.setattr(imports, "STAGE_FLUSH", 4)
    path = tmp_path / "p.csv"
    lines = ["customer_no,name,phone,region"] + [
        f"C{n},客户{n},1380000{n:04d},杭州" for n in range(10)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    real = imports._write_customer_chunk
    calls = {"n": 0}

    def dies_in_the_third_chunk(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        mine = calls["n"]  # on PostgreSQL two connections write chunks side by side
        real(*args, **kwargs)
        if mine == 3:
            raise KeyboardInterrupt  # the process is stopped mid-transaction

    monkeypatch.setattr(imports, "_write_customer_chunk", dies_in_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        _run(db, ImportKind.CUSTOMERS, path)
    assert _count(db, "customer") == 6  # two whole chunks, nothing of the third
    assert _count(db, "customer_phone") == 6
    assert _count(db, "audit_log") == 0
    monkeypatch.setattr(imports, "_write_customer_chunk", real)
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, report.updated, report.unchanged) == (4, 0, 6)
    assert _count(db, "customer") == 10
    again = _run(db, ImportKind.CUSTOMERS, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 10)
    if db.is_sqlite:  # the full-text index found every name, the trigger is back
        with db.engine.connect() as connection:
            assert (
                connection.execute(
                    text("SELECT COUNT(*) FROM customer_fts WHERE customer_fts MATCH '\"客 户\"'")
                ).scalar_one()
                == 10
            )
            assert (
                connection.execute(
                    text("SELECT COUNT(*) FROM sqlite_master WHERE name = 'customer_fts_ai'")
                ).scalar_one()
                == 1
            )


def test_phones_repeated_in_the_file_or_owned_elsewhere_reject_their_row(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "customer_no,name,phone,region\nC1,张三,13800000001,杭州\nC2,李四,13800000001,杭州\n"
        "C3,王五,13800000003,杭州\n",
        encoding="utf-8",
    )
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, report.rejected) == (2, 1)
    assert [(p.row, p.field, p.reason) for p in report.problems] == [
        (3, "phone", "13800000001 is on row 2 too")
    ]
    with db.engine.connect() as connection:
        primary = connection.execute(
            text("SELECT COUNT(*) FROM customer_phone WHERE is_primary")
        ).scalar_one()
    assert primary == 2


def test_an_update_raises_the_row_version_and_names_who(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("customer_no,name,region\nC1,张三,杭州\n", encoding="utf-8")
    _run(db, ImportKind.CUSTOMERS, path)
    path.write_text("customer_no,name,region\nC1,张三,宁波\n", encoding="utf-8")
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert report.updated == 1
    with db.engine.connect() as connection:
        row = connection.execute(
            text("SELECT region, version, updated_by FROM customer WHERE customer_no = 'C1'")
        ).one()
    assert tuple(row) == ("宁波", 2, SHELL.user_id)


def test_a_file_without_a_required_column_is_refused_before_any_row(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    path.write_text("customer_no,nom,region,colour\nC1,张三,杭州,red\n", encoding="utf-8")
    with pytest.raises(imports.ImportError_, match="no column 'name'"):
        _run(db, ImportKind.CUSTOMERS, path)
    path.write_text("customer_no,name,region,colour\nC1,张三,杭州,red\n", encoding="utf-8")
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert any("'colour'" in note and "ignored" in note for note in report.notes)


def test_a_byte_the_encoding_cannot_read_late_in_the_file_writes_nothing(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "p.csv"
    body = "customer_no,name,region\n" + "".join(f"C{n},客户,杭州\n" for n in range(50))
    path.write_bytes(body.encode("utf-8") + b"C99,\xff\xfe,x\n")
    with pytest.raises(imports.ImportError_, match="not utf-8"):
        _run(db, ImportKind.CUSTOMERS, path, encoding="utf-8")
    assert _count(db, "customer") == 0


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00\x00garbage\x81\x82", "encoding"),
    ],
)
def test_files_that_cannot_be_read_are_named(
    db: Database, tmp_path: Path, content: bytes, said: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(imports.ImportError_, match=said):
        _run(db, ImportKind.CUSTOMERS, path)


def test_a_mapping_for_another_kind_or_a_missing_column_is_refused(
    db: Database, tmp_path: Path
) -> None:
    with pytest.raises(imports.ImportError_, match="maps customers"):
        _run(db, ImportKind.TICKETS, _telco(tmp_path), "telco_customer_churn.toml")
    with pytest.raises(imports.ImportError_, match="no column"):
        _run(db, ImportKind.TICKETS, _telco(tmp_path), "comcast_complaints.toml")


CELL = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(CELL, CELL, CELL, CELL, CELL, CELL), min_size=1, max_size=6))
def test_fuzzed_customer_cells_are_rejected_by_row_or_imported_whole(
    sqlite_db: Database, tmp_path: Path, rows: list[tuple[str, ...]]
) -> None:
    db = sqlite_db
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM customer_phone"))
        connection.execute(text("DELETE FROM customer"))
    path = tmp_path / "fuzz.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["customer_no", "name", "phone", "region", "tier", "balance_cents"])
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    try:
        report = _run(db, ImportKind.CUSTOMERS, path)
    except imports.ImportError_:
        return  # a file-level refusal (e.g. a cell the CSV reader cannot parse), nothing written
    assert report.inserted + report.updated + report.unchanged + report.rejected <= report.read
    assert _count(db, "customer") == report.inserted
    for problem in report.problems:
        assert problem.row >= 2
        assert problem.field


def test_an_import_this_machine_could_not_audit_writes_nothing(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.csv"
    path.write_text("customer_no,name,region\nC1,张三,杭州\n", encoding="utf-8")
    _run(db, ImportKind.CUSTOMERS, path)  # the log is sealed with this machine's key
    path.write_text("customer_no,name,region\nC2,李四,杭州\n", encoding="utf-8")
    monkeypatch.setenv("DESK_AUDIT_KEY", "another key that is long enough, 32+ chars")
    with pytest.raises(audit.AuditKeyError):
        _run(db, ImportKind.CUSTOMERS, path)
    assert _count(db, "customer") == 1


def _many(tmp_path: Path, count: int, bad_from: int | None = None) -> Path:
    path = tmp_path / "many.csv"
    lines = ["customer_no,name,phone,region,tier"]
    for n in range(count):
        tier = "bronze" if n % 7 == 3 else "gold"  # every 7th row rejected by its tier
        lines.append(f"M{n},客户{n},139{n:08d},杭州,{tier}")
    body = "\n".join(lines) + "\n"
    data = body.encode("utf-8")
    if bad_from is not None:
        data += b"M-bad,\xff\xfe,x,y,gold\n"
    path.write_bytes(data)
    return path


def test_validation_in_a_second_process_keeps_the_contract(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(imports, "STAGE_FLUSH", 100)  # many batches cross between the two
    monkeypatch.setattr(imports, "STAGE_CHUNK", 250)
    path = _many(tmp_path, 1_000)
    report = _run(db, ImportKind.CUSTOMERS, path)
    rejected = [n for n in range(1_000) if n % 7 == 3]
    assert (report.read, report.inserted, report.rejected) == (
        1_000,
        1_000 - len(rejected),
        len(rejected),
    )
    assert [(p.row, p.field) for p in report.problems] == [(n + 2, "tier") for n in rejected]
    assert _count(db, "customer") == 1_000 - len(rejected)
    again = _run(db, ImportKind.CUSTOMERS, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1_000 - len(rejected))
    with pytest.raises(imports.ImportError_, match="line 1002 is not utf-8"):
        _run(db, ImportKind.CUSTOMERS, _many(tmp_path, 1_000, bad_from=1_000), encoding="utf-8")
    assert _count(db, "customer") == 1_000 - len(rejected)  # nothing of the unreadable file


def test_backslashes_and_the_null_mark_are_stored_as_written(db: Database, tmp_path: Path) -> None:
    """On PostgreSQL the stage is filled with COPY text made by the validating side: a
    backslash, a literal \\N, quotes and an empty cell come out as the file had them."""
    path = tmp_path / "p.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["customer_no", "name", "region", "address", "birthday", "is_member"])
    writer.writerow(
        ["C1", "王\\N", "杭州\\西湖", "C:\\temp\\new \\t \"甲\" 'b'", "1990-01-18", "yes"]
    )
    writer.writerow(["C2", "\\N", "\\", "", "", "no"])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, report.rejected) == (2, 0)
    with db.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT name, region, address, birthday, is_member FROM customer "
                "ORDER BY customer_no"
            )
        ).all()
    stored = [(*row[:3], None if row[3] is None else str(row[3]), bool(row[4])) for row in rows]
    assert stored == [
        ("王\\N", "杭州\\西湖", "C:\\temp\\new \\t \"甲\" 'b'", "1990-01-18", True),
        ("\\N", "\\", None, None, False),
    ]
    again = _run(db, ImportKind.CUSTOMERS, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


@pytest.mark.parametrize("writers", [1, 2, 3])
def test_writers_side_by_side_write_what_one_writer_writes(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writers: int
) -> None:
    """On PostgreSQL a large file's chunks are dealt to several connections (SQLite keeps
    one): the same rows, counts and problems, whatever the number of writers; a file that
    only repeats what is there changes nothing."""
    monkeypatch.setattr(imports, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(imports, "PG_WRITERS", writers)
    monkeypatch.setattr(imports, "STAGE_FLUSH", 70)
    monkeypatch.setattr(imports, "STAGE_CHUNK", 100)
    first = tmp_path / "first.csv"
    first.write_text(
        "customer_no,name,phone,region\n"
        + "".join(f"M{n},老客户{n},137{n:08d},杭州\n" for n in range(0, 600, 3)),
        encoding="utf-8",
    )
    _run(db, ImportKind.CUSTOMERS, first)
    path = _many(tmp_path, 600)  # M0..M599: every 3rd there (renamed), every 7th a bad tier
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1 + 250] = "M250,客户250,13700000003,杭州,gold"  # M3's phone: refused by row
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    real = imports._write_customer_chunk
    connections: set[int] = set()

    def noted(connection, *args, **kwargs):  # type: ignore[no-untyped-def]
        connections.add(id(connection.connection.driver_connection))
        real(connection, *args, **kwargs)

    monkeypatch.setattr(imports, "_write_customer_chunk", noted)
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert len(connections) == (1 if db.is_sqlite else writers)
    bad_tier = {n for n in range(600) if n % 7 == 3}
    existing = set(range(0, 600, 3))
    assert report.read == 600
    assert report.updated == len(existing - bad_tier)
    assert report.inserted == 600 - len(existing | bad_tier) - 1
    assert report.unchanged == 0
    assert [(p.row, p.field) for p in report.problems] == sorted(
        [(n + 2, "tier") for n in bad_tier] + [(252, "phone")]
    )
    with db.engine.connect() as connection:
        names = dict(connection.execute(text("SELECT customer_no, name FROM customer")).all())
        phones = connection.execute(
            text(
                "SELECT COUNT(*), COUNT(DISTINCT customer_id), SUM(CASE WHEN is_primary "
                "THEN 1 ELSE 0 END) FROM customer_phone"
            )
        ).one()
    assert len(names) == 600 - len(bad_tier - existing) - 1
    assert (names["M6"], names["M9"]) == ("客户6", "客户9")
    assert "M250" not in names
    assert names["M24"] == "老客户24"  # a bad tier: the row rejected, the customer kept
    # the first import's phones, the new customers', and a second phone for each renamed one
    assert tuple(phones) == (len(names) + len(existing - bad_tier), len(names), len(names))
    again = _run(db, ImportKind.CUSTOMERS, path)
    assert (again.inserted, again.updated, again.unchanged) == (
        0,
        0,
        report.updated + report.inserted,
    )


def test_a_validating_process_that_dies_leaves_whole_chunks_and_a_rerun_completes(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(imports, "STAGE_FLUSH", 100)
    monkeypatch.setattr(imports, "STAGE_CHUNK", 200)
    path = _many(tmp_path, 1_000)
    real = imports._prepared_batches

    def dies_after_500_rows(*args, **kwargs):  # type: ignore[no-untyped-def]
        for n, batch in enumerate(real(*args, **kwargs)):
            if n == 5:
                os._exit(9)  # the second process is killed
            yield batch

    monkeypatch.setattr(imports, "_prepared_batches", dies_after_500_rows)
    with pytest.raises(pipeline.ProducerFailed, match="ended without finishing"):
        _run(db, ImportKind.CUSTOMERS, path)
    written = _count(db, "customer")
    assert written % 200 == 0  # whole chunks only
    assert written < 857
    assert _count(db, "customer_phone") == written
    assert _count(db, "audit_log") == 0
    monkeypatch.setattr(imports, "_prepared_batches", real)
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, report.unchanged) == (857 - written, written)
    assert _count(db, "customer") == 857


def _accounts(db: Database, tmp_path: Path) -> None:
    """Customers C0..C9, each with the account A0..A9."""
    path = tmp_path / "owners.csv"
    path.write_text(
        "customer_no,name,region\n" + "".join(f"C{n},客户{n},杭州\n" for n in range(10)),
        encoding="utf-8",
    )
    _run(db, ImportKind.CUSTOMERS, path)
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO account (customer_id, account_no, plan_code, plan_name, "
                "monthly_fee_cents, status, opened_on) "
                "SELECT id, 'A' || substr(customer_no, 2), 'P1', 'Plan', 0, 'active', "
                "'2025-01-01' FROM customer"
            )
        )


def _bills(tmp_path: Path) -> Path:
    lines = ["account_no,period,amount_cents,paid_cents,due_date"]
    for n in range(30):
        account = "A99" if n == 5 else f"A{n % 10}"
        period = "2026-13" if n == 20 else f"2026-{1 + n // 10:02d}"
        paid = "0" if n % 3 else f"{10 + n}.00"
        lines.append(f"{account},{period},{10 + n}.00,{paid},2026-{1 + n // 10:02d}-20")
    path = tmp_path / "bills.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _tickets(tmp_path: Path) -> Path:
    lines = ["number,title,customer_no,status,created_at"]
    for n in range(30):
        customer = "C77" if n == 4 else f"C{n % 10}"
        status = "bogus" if n == 9 else "new"
        lines.append(f"T{n},问题 {n},{customer},{status},2026-10-{1 + n % 28:02d} 09:00:00")
    path = tmp_path / "tickets.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("second_process", [False, True], ids=["inline", "second-process"])
@pytest.mark.parametrize(
    ("kind", "table", "make", "bad", "good_in_two_batches"),
    [
        (ImportKind.BILLS, "bill", _bills, {7: "account_no", 22: "period"}, 15),
        (ImportKind.TICKETS, "work_order", _tickets, {6: "customer_no", 11: "status"}, 14),
    ],
    ids=["bills", "tickets"],
)
def test_bills_and_tickets_go_through_the_same_pipeline(
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    second_process: bool,
    kind: ImportKind,
    table: str,
    make: Callable[[Path], Path],
    bad: dict[int, str],
    good_in_two_batches: int,
) -> None:
    """Every row validated (beside the writes when in a second process), rejects reported by
    row and field, batches committed whole: a killed import keeps whole batches, a re-run
    completes it, a third run changes nothing."""
    monkeypatch.setattr(imports, "PARALLEL_MIN_BYTES", 0 if second_process else 10**9)
    monkeypatch.setattr(imports, "BATCH", 8)
    _accounts(db, tmp_path)
    path = make(tmp_path)
    real = imports.WRITERS[kind]
    calls = {"n": 0}

    def dies_in_the_third_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        real(*args, **kwargs)
        if calls["n"] == 3:
            raise KeyboardInterrupt  # stopped mid-transaction

    monkeypatch.setitem(imports.WRITERS, kind, dies_in_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        _run(db, kind, path)
    assert _count(db, table) == good_in_two_batches
    monkeypatch.setitem(imports.WRITERS, kind, real)
    report = _run(db, kind, path)
    assert (report.read, report.rejected) == (30, 2)
    assert {(p.row, p.field) for p in report.problems} == set(bad.items())
    assert (report.inserted, report.unchanged) == (28 - good_in_two_batches, good_in_two_batches)
    again = _run(db, kind, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 28)
    assert _count(db, table) == 28
    if kind is ImportKind.TICKETS:
        assert _count(db, "work_order_event") == 28  # one 'created' event each, never two


# --- the fast path and the row models agree ----------------------------------------------

TRICKY = [
    "",
    " ",
    "\t",
    "\x00",
    "\u3000",
    " x ",
    "C1",
    "C-1.a_b",
    "c 1",
    "王伟",
    " 王伟 ",
    "王\u3000伟",
    "王\n伟",
    *("x" * n for n in (10, 11, 20, 21, 64, 65, 120, 121, 200, 201, 4000, 4001)),
    "王" * 65,
    "gold",
    " GOLD ",
    "Gold",
    "bronze",
    "active",
    "Closed",
    "closed",
    "new",
    "complaint",
    " complaint",
    "Complaint",
    "vip_line",
    "urgent",
    "web_form",
    "yes",
    "是",
    "否",
    "Y",
    "maybe",
    "0",
    "1",
    "-3",
    "1.5",
    "12.345",
    "1,000.00",
    "¥12",
    "￥-0.5",
    "-0.05",
    "0.29",
    "4.35",
    "-1.13",
    "21474836.47",
    "21474836.48",
    "0.001",
    " 7 ",
    "1e3",
    "NaN",
    "99999999999",
    "10000000000",
    "2020-01-01",
    "2020-01-01 garbage",
    "20200101",
    "2020-02-30",
    "2026-10-01 09:00:00",
    "2026-10-01T09:00:00+08:00",
    "2026-01",
    "2026-13",
    "13800000000",
    "+8613800000000",
    "138-0000-0000",
    "138 0000 0000",
    "１３８００００００００",
    "٣٤٥٦٧٨",
    "1234",
    "330106198001011234",
    "33010619800101123x",
    "33010619800101123Y",
]
CELLS = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))


def _model_values(kind: ImportKind, values: dict[str, str]) -> object:
    """What the row model makes of the cells (the reference), or the error it names."""
    model = imports.ROW_MODELS[kind]
    try:
        row = model(**{k: v for k, v in values.items() if v != ""})
    except ValidationError:
        return "rejected"
    return imports._as_values(kind, row)


GOOD_ROWS: dict[ImportKind, dict[str, str]] = {
    ImportKind.CUSTOMERS: {
        "customer_no": "C1",
        "name": "王伟",
        "phone": "13800000000",
        "id_card_no": "330106198001011234",
        "region": "杭州",
        "tier": "gold",
        "status": "active",
        "is_member": "yes",
        "address": "文三路1号",
        "birthday": "1980-01-01",
        "member_since": "2020-01-01",
        "balance_cents": "12.50",
        "arrears_cents": "0",
    },
    ImportKind.BILLS: {
        "account_no": "A1",
        "period": "2026-01",
        "amount_cents": "10.00",
        "paid_cents": "5",
        "due_date": "2026-01-20",
    },
    ImportKind.TICKETS: {
        "number": "T1",
        "title": "问题 1",
        "description": "断网",
        "category": "complaint",
        "channel": "phone",
        "source": "agent",
        "status": "new",
        "priority": "normal",
        "created_at": "2026-10-01 09:00:00",
        "customer_no": "C1",
        "on_behalf": "no",
        "city": "杭州",
        "state": "浙江",
        "zip": "310000",
    },
}


@pytest.mark.parametrize("kind", list(ImportKind))
@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_the_fast_path_gives_what_the_row_model_gives_or_defers_to_it(
    kind: ImportKind, data: st.DataObject
) -> None:
    """A good row with one to three cells changed (to a tricky value, or left out): the fast
    path gives exactly the model's values (types too) or hands the row to the model."""
    values = dict(GOOD_ROWS[kind])
    changed = data.draw(
        st.lists(st.sampled_from(sorted(values)), min_size=1, max_size=3, unique=True)
    )
    for name in changed:
        if data.draw(st.booleans(), label=f"leave {name} out"):
            del values[name]
        else:
            values[name] = data.draw(CELLS, label=name)
    fast = imports._FastRow(kind)(values)
    if fast is None:
        return  # the model decides, as it always did
    reference = _model_values(kind, values)
    assert reference != "rejected", values
    assert [(type(v), v) for v in fast] == [(type(v), v) for v in reference]  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", list(ImportKind))
def test_each_tricky_cell_in_each_field_is_read_as_the_row_model_reads_it(
    kind: ImportKind,
) -> None:
    fast = imports._FastRow(kind)
    for name in GOOD_ROWS[kind]:
        for cell in [None, *TRICKY]:
            values = dict(GOOD_ROWS[kind])
            if cell is None:
                del values[name]
            else:
                values[name] = cell
            got = fast(values)
            if got is not None:
                reference = _model_values(kind, values)
                assert reference != "rejected", (name, cell)
                assert [(type(v), v) for v in got] == [(type(v), v) for v in reference], (  # type: ignore[union-attr]
                    name,
                    cell,
                )


def test_the_fast_path_takes_the_common_rows() -> None:
    """Ordinary rows do not go to the model (else a large file is as slow as before)."""
    from bench.figures.imports import COLUMNS, _row

    customers = imports._FastRow(ImportKind.CUSTOMERS)
    for i in range(200):
        values = dict(zip(COLUMNS, _row(i), strict=True))
        assert customers(values) == _model_values(ImportKind.CUSTOMERS, values)
    bill = {
        "account_no": "A1",
        "period": "2026-01",
        "amount_cents": "10.00",
        "due_date": "2026-01-20",
    }
    assert imports._FastRow(ImportKind.BILLS)(bill) == _model_values(ImportKind.BILLS, bill)
    ticket = {
        "number": "T1",
        "title": "问题 1",
        "customer_no": "C1",
        "status": "new",
        "created_at": "2026-10-01 09:00:00",
    }
    assert imports._FastRow(ImportKind.TICKETS)(ticket) == _model_values(ImportKind.TICKETS, ticket)


def test_an_amount_beyond_the_money_column_is_rejected_by_row(db: Database, tmp_path: Path) -> None:
    """Money columns are 32-bit on PostgreSQL: one cent more than they hold is the row's
    problem, named by field, on both databases (it was the driver's out-of-range error)."""
    path = tmp_path / "p.csv"
    path.write_text(
        "customer_no,name,region,balance_cents\n"
        "C1,张三,杭州,21474836.47\nC2,李四,杭州,21474836.48\nC3,王五,杭州,-21474836.48\n",
        encoding="utf-8",
    )
    report = _run(db, ImportKind.CUSTOMERS, path)
    assert (report.inserted, report.rejected) == (1, 2)
    assert [(p.row, p.field) for p in report.problems] == [
        (3, "balance_cents"),
        (4, "balance_cents"),
    ]
    with db.engine.connect() as connection:
        stored = connection.execute(text("SELECT balance_cents FROM customer")).scalar_one()
    assert stored == 2**31 - 1


def _batches(job: imports._Job) -> tuple[list[object], list[object], int, int]:
    items: list[object] = []
    problems: list[object] = []
    read = rejected = 0
    for batch in imports._prepared_batches(job):
        items += batch.items
        problems += batch.problems
        read += batch.read
        rejected += batch.rejected
    return items, problems, read, rejected


@pytest.mark.parametrize("kind", list(ImportKind))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_column_at_a_time_keeps_and_rejects_what_row_by_row_does(
    kind: ImportKind, data: st.DataObject, tmp_path: Path
) -> None:
    """Random files in desk's columns (good rows with tricky cells, repeated keys and phones,
    short and long records, blank lines, an unknown and a repeated column): the same rows
    kept as the same stage tuples or values, the same problems in the same order."""
    good = GOOD_ROWS[kind]
    headers = data.draw(st.permutations(sorted(good)))
    if data.draw(st.booleans(), label="extra columns"):
        headers = [*headers, "colour", headers[0]]
    lines: list[list[str]] = []
    for n in range(data.draw(st.integers(1, 12), label="rows")):
        row = dict(good)
        for key in imports.NATURAL_KEYS[kind][:1]:
            row[key] = f"{good[key]}{data.draw(st.integers(0, n), label='key')}"
        if "phone" in row:
            row["phone"] = f"1380000{data.draw(st.integers(0, 9999), label='phone'):04d}"
        for name in data.draw(st.lists(st.sampled_from(sorted(good)), max_size=2), label="odd"):
            row[name] = data.draw(CELLS, label=name)
        cells = [row.get(h, "") for h in headers]
        shape = data.draw(st.sampled_from(["whole", "whole", "whole", "short", "long", "blank"]))
        if shape == "short":
            cells = cells[:-1]
        elif shape == "long":
            cells = [*cells, "x"]
        elif shape == "blank":
            cells = [""] * len(headers)
        lines.append(cells)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(lines)
    path = tmp_path / f"{kind.value}.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    batch_rows = data.draw(st.integers(1, 5), label="batch rows")
    sqlite = data.draw(st.booleans(), label="sqlite")
    mapping = imports.load_mapping(None, kind)
    job = imports._Job(kind, mapping, path, "utf-8", path.name, sqlite, batch_rows, columns=True)
    by_rows = imports._Job(kind, mapping, path, "utf-8", path.name, sqlite, batch_rows, False)
    columns, rows = _batches(job), _batches(by_rows)
    assert columns[1:] == rows[1:]
    assert [[(type(v), v) for v in item] for item in columns[0]] == [  # type: ignore[attr-defined]
        [(type(v), v) for v in item]  # type: ignore[attr-defined]
        for item in rows[0]
    ]


@pytest.mark.parametrize("kind", list(ImportKind))
def test_each_tricky_value_filling_a_column_is_read_as_row_by_row(
    kind: ImportKind, tmp_path: Path
) -> None:
    """Each field: a file whose column holds one tricky value on every row (the whole-column
    checks), and one with a different tricky value on each row (the cell-by-cell path)."""
    good = GOOD_ROWS[kind]
    headers = sorted(good)
    key = imports.NATURAL_KEYS[kind][0]
    mapping = imports.load_mapping(None, kind)
    for name in headers:
        files: list[list[str]] = [[cell] * 3 for cell in TRICKY] + [TRICKY]
        for number, cells in enumerate(files):
            lines = []
            for n, cell in enumerate(cells):
                row = dict(good)
                row[key] = f"{good[key]}{n}"
                if "phone" in row:
                    row["phone"] = f"1380000{n:04d}"
                row[name] = cell
                lines.append([row[h] for h in headers])
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(headers)
            writer.writerows(lines)
            path = tmp_path / f"{name}-{number}.csv"
            path.write_text(buffer.getvalue(), encoding="utf-8")
            results = [
                _batches(imports._Job(kind, mapping, path, "utf-8", "f", True, 50, columns))
                for columns in (True, False)
            ]
            assert results[0][1:] == results[1][1:], (name, cells[0])
            assert [[(type(v), v) for v in item] for item in results[0][0]] == [  # type: ignore[attr-defined]
                [(type(v), v) for v in item]  # type: ignore[attr-defined]
                for item in results[1][0]
            ], (name, cells[0])


@pytest.mark.parametrize("kind", [ImportKind.BILLS, ImportKind.TICKETS])
def test_bills_and_tickets_are_written_set_based(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: ImportKind
) -> None:
    """A batch is staged and moved by the same few statements whatever its size (3 rows or
    3,000); a changed row is updated and counted, the others left alone, a ticket keeps its
    one 'created' event."""
    monkeypatch.setattr(imports, "PARALLEL_MIN_BYTES", 10**9)
    _accounts(db, tmp_path)
    seen: list[str] = []

    def capture(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    def lines(rows: int, changed: int | None = None) -> str:
        if kind is ImportKind.BILLS:
            body = [
                f"A{n % 10},{2000 + (n + rows) // 120:04d}-{1 + (n + rows) // 10 % 12:02d},"
                f"{n + (1 if n == changed else 0)}.00,2026-01-20"
                for n in range(rows)
            ]
            return "\n".join(["account_no,period,amount_cents,due_date", *body]) + "\n"
        body = [
            f"T{rows}-{n},问题 {n}{'!' if n == changed else ''},C{n % 10},2026-10-01 09:00:00"
            for n in range(rows)
        ]
        return "\n".join(["number,title,customer_no,created_at", *body]) + "\n"

    counts = []
    for rows in (3, 3_000):
        path = tmp_path / f"{kind.value}-{rows}.csv"
        path.write_text(lines(rows), encoding="utf-8")
        seen.clear()
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            report = _run(db, kind, path)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert (report.inserted, report.rejected) == (rows, 0)
        counts.append(len(seen))
    assert counts[0] == counts[1]
    path.write_text(lines(3_000, changed=1_234), encoding="utf-8")
    report = _run(db, kind, path)
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 2_999)
    if kind is ImportKind.TICKETS:
        assert _count(db, "work_order_event") == 3_003
