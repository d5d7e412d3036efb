"""``desk import customers`` of a large file (issue 10: 1,000,000 rows in at most 60 s).

A CSV of ``DESK_BENCH_IMPORT_ROWS`` new customers (default 1,000,000; a few thousand when
quick) is written in desk's own columns: number, name, phone, ID card, region, tier, status,
membership, address, birthday, member since, balance, arrears. On a throwaway copy of the
dataset (which keeps its customers, indexes, full-text index and triggers):

- ``import.customers``: :func:`desk.services.imports.run_import` of the file, from the file to
  the committed rows: every row read, validated, staged, then written in chunks (each new
  customer, its search keys and its phone);
- ``import.customers_again``: the same file once more (0 changes: every row compared);
- ``import.customers_xlsx``: an XLSX workbook of a tenth as many other new customers, in the
  same columns (its goal scaled: 6 s for 100,000 rows), no baseline;

Baseline, same run, on the same copy after desk's runs (so on a table that much larger): the
bare driver loading the same rows under other numbers and phones, already parsed, without any
check: ``executemany`` of ``INSERT INTO customer`` and ``INSERT INTO
customer_phone`` in one transaction on SQLite, ``COPY`` of both on PostgreSQL. Each figure's
note gives the CPU seconds too (desk's and its validating process's): on a loaded machine
the wall time shows the load.

Run on its own: ``python -m bench.figures.imports DB_FILE [ROWS]``.
"""

from __future__ import annotations

import csv
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.core import BenchContext, Figure

TARGET_S_PER_MILLION = 60.0
ROWS = 1_000_000
QUICK_ROWS = 3_000
XLSX_SHARE = 10  # the workbook holds a tenth of the CSV's rows (writing it is slow)
COLUMNS = (
    "customer_no",
    "name",
    "phone",
    "id_card_no",
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
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
_REGIONS = ("杭州市西湖区", "宁波市海曙区", "温州市鹿城区", "绍兴市越城区")
_TIERS = ("standard", "silver", "gold")


def rows_wanted(ctx: BenchContext) -> int:
    if ctx.quick:
        return QUICK_ROWS
    return int(os.environ.get("DESK_BENCH_IMPORT_ROWS", ROWS))


def _row(i: int) -> list[str]:
    given = len(_GIVEN)
    name = (
        _SURNAMES[i % 20] + _GIVEN[(i // 20) % given] + ("" if i % 3 else _GIVEN[(i // 7) % given])
    )
    return [
        f"IMP{i:09d}",
        name,
        f"+86170{i:08d}",
        f"3301061980{i % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}X",
        _REGIONS[i % 4],
        _TIERS[i % 3],
        "active",
        "yes" if i % 2 else "no",
        f"文三路{i % 500}号",
        f"198{i % 10}-0{1 + i % 9}-1{i % 9}",
        "2020-01-01",
        f"{(i * 37) % 50_000 / 100:.2f}",
        "0",
    ]


def write_file(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(_row(i) for i in range(count))


def write_workbook(path: Path, first: int, count: int) -> None:
    """An XLSX of the rows ``first`` to ``first + count`` (other customers than the CSV's
    ``0`` to ``count``), every cell text, as an export from another system gives them."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook(write_only=True)
    sheet = book.create_sheet("customers")
    sheet.append(list(COLUMNS))
    for i in range(first, first + count):
        sheet.append(_row(i))
    book.save(path)


def _cpu() -> float:
    """CPU seconds of this process and of its ended children (the validating process)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


@contextmanager
def _timed() -> Iterator[dict[str, float]]:
    result: dict[str, float] = {}
    wall, cpu = time.perf_counter(), _cpu()
    yield result
    result["wall"] = time.perf_counter() - wall
    result["cpu"] = _cpu() - cpu


def raw_load_seconds(ctx: BenchContext, path: Path) -> float:
    """The bare driver loading the file's rows into ``customer`` and ``customer_phone``,
    parsed and converted beforehand (not timed), no check of any kind."""
    from desk.rules.names import name_keys

    customers: list[tuple[object, ...]] = []
    phones: list[tuple[str, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for cells in reader:
            keys = name_keys(cells[1])
            customers.append(
                (
                    "R" + cells[0],
                    cells[1],
                    keys.spaced,
                    keys.pinyin,
                    keys.initials,
                    cells[3],
                    cells[3][::-1],
                    cells[4],
                    cells[5],
                    cells[6],
                    cells[7] == "yes",
                    cells[8],
                    cells[9],
                    cells[10],
                    round(float(cells[11]) * 100),
                    0,
                    "2026-12-01 00:00:00",
                )
            )
            phones.append(("+86171" + cells[2].removeprefix("+86170"), "R" + cells[0]))
    names = (
        "customer_no, name, name_spaced, name_pinyin, name_initials, id_card_no, id_card_rev, "
        "region, tier, status, is_member, address, birthday, member_since, balance_cents, "
        "arrears_cents, created_at"
    )
    with ctx.raw() as raw:
        connection = raw.connection
        started = time.perf_counter()
        if ctx.is_sqlite:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                f"INSERT INTO customer ({names}) VALUES ({', '.join('?' * 17)})", customers
            )
            connection.execute(
                "CREATE TEMP TABLE raw_phone (phone TEXT, customer_no TEXT PRIMARY KEY)"
            )
            connection.executemany("INSERT INTO raw_phone VALUES (?, ?)", phones)
            connection.execute(
                "INSERT INTO customer_phone (customer_id, phone, phone_rev, kind, is_primary) "
                "SELECT c.id, r.phone, r.phone, 'mobile', 1 FROM raw_phone r "
                "JOIN customer c ON c.customer_no = r.customer_no"
            )
            connection.execute("COMMIT")
        else:
            with connection.transaction(), connection.cursor() as cursor:
                with cursor.copy(f"COPY customer ({names}) FROM STDIN") as copy:
                    for values in customers:
                        copy.write_row(values)
                cursor.execute(
                    "CREATE TEMP TABLE raw_phone (phone text, customer_no text) ON COMMIT DROP"
                )
                with cursor.copy("COPY raw_phone FROM STDIN") as copy:
                    for pair in phones:
                        copy.write_row(pair)
                cursor.execute(
                    "INSERT INTO customer_phone (customer_id, phone, phone_rev, kind, "
                    "is_primary) SELECT c.id, r.phone, r.phone, 'mobile', true "
                    "FROM raw_phone r JOIN customer c ON c.customer_no = r.customer_no"
                )
        return time.perf_counter() - started


def _connections(lanes: int) -> str:
    return f"{lanes} writing connection{'s' if lanes > 1 else ''}"


def measure(ctx: BenchContext) -> list[Figure]:
    from desk.rules.permissions import shell_actor
    from desk.services.imports import ImportKind, customer_writers, run_import

    count = rows_wanted(ctx)
    target = TARGET_S_PER_MILLION * count / 1_000_000
    with tempfile.TemporaryDirectory(prefix="desk-bench-import-") as folder:
        path = Path(folder) / "customers.csv"
        write_file(path, count)
        workbook = Path(folder) / "customers.xlsx"
        sheet_rows = max(count // XLSX_SHARE, 1)
        write_workbook(workbook, count, sheet_rows)
        writers, sheet_writers = (
            _connections(customer_writers(file.stat().st_size, sqlite=ctx.is_sqlite))
            for file in (path, workbook)
        )
        with ctx.copy() as copy:
            actor = shell_actor("bench")
            with _timed() as first:
                report = run_import(copy.db, actor=actor, kind=ImportKind.CUSTOMERS, path=path)
            with _timed() as again:
                second = run_import(copy.db, actor=actor, kind=ImportKind.CUSTOMERS, path=path)
            with _timed() as sheet:
                third = run_import(copy.db, actor=actor, kind=ImportKind.CUSTOMERS, path=workbook)
            copy.db.dispose()
            baseline = raw_load_seconds(copy, path)
    assert (report.inserted, report.rejected) == (count, 0), report.as_dict()
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, count)
    assert (third.inserted, third.rejected) == (sheet_rows, 0), third.as_dict()
    scale = f"{count:,} rows into {ctx.customers:,} customers"
    label = f"{'sqlite3 executemany' if ctx.is_sqlite else 'psycopg COPY'}, rows pre-parsed"
    return [
        Figure(
            name="import.customers",
            value=first["wall"],
            unit="s",
            baseline=baseline,
            baseline_label=label,
            target=target,
            note=f"run_import, {scale}, {writers}; {first['cpu']:.1f} s CPU",
        ),
        Figure(
            name="import.customers_again",
            value=again["wall"],
            unit="s",
            baseline=baseline,
            baseline_label=label,
            target=target,
            note=f"the same file again: {count:,} unchanged; {again['cpu']:.1f} s CPU",
        ),
        Figure(
            name="import.customers_xlsx",
            value=sheet["wall"],
            unit="s",
            target=TARGET_S_PER_MILLION * sheet_rows / 1_000_000,
            note=f"run_import of an XLSX of {sheet_rows:,} other new customers (the same "
            f"columns, read by python-calamine), {sheet_writers}; {sheet['cpu']:.1f} s CPU",
        ),
    ]


def main(argv: list[str]) -> None:  # pragma: no cover - by hand
    from desk.infra.database import Database

    path = Path(argv[0])
    if len(argv) > 1:
        os.environ["DESK_BENCH_IMPORT_ROWS"] = argv[1]
    ctx = BenchContext(
        db=Database.from_url(f"sqlite:///{path}"), customers=0, days=0, seed=1, db_path=path
    )
    for figure in measure(ctx):
        print(figure.as_dict())


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
