"""Hypothesis against what people and files type into desk: every import column of the three
kinds, the search field and the forms (a new user, a department, a work order, an unknown
caller). The import columns on SQLite; the search field and the forms on SQLite and PostgreSQL
(tests/services/test_fuzz_forms.py has the other forms). Each input ends in success or a clear
error (a :class:`DeskError`, or the form's own validation error naming a field), never another
exception, and a refused input writes nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import text

from desk.infra.database import Database
from desk.infra.errors import DeskError
from desk.rules.permissions import Actor, shell_actor
from desk.rules.policy import load_policy
from desk.rules.vocab import Channel, DepartmentKind, Priority, RequestType, Role, WorkOrderSource
from desk.services import imports, org, search, users, work_orders
from desk.services.imports import ImportKind
from tests.services.test_roles import role_actors

SHELL = shell_actor("fuzz")
POLICY = load_policy(None)
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# any text a file or a keyboard can carry: control characters, NUL, surrogates left out only
# where the encoding itself cannot hold them
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
CELL = st.one_of(
    TEXT,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "0", "-1", "1e400", "NaN", "2026-02-30", "yes", "是", "０"]),
)
TABLES = ("customer", "customer_phone", "bill", "work_order", "work_order_event", "audit_log")


def _counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as connection:
        return {
            table: int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
            for table in TABLES
        }


def _clear_or_success(call: Callable[[], Any], db: Database) -> Any:
    """Run ``call``: its result, or None after a clear refusal that wrote nothing."""
    before = _counts(db)
    try:
        return call()
    except (DeskError, ValidationError) as error:
        refusal = error
    assert str(refusal).strip()
    assert _counts(db) == before, f"refused ({refusal}) but something was written"
    return None


def _csv(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    path = tmp_path / "fuzz.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", errors="surrogatepass")
    return path


def _import_columns(kind: ImportKind) -> list[str]:
    return list(imports.ROW_MODELS[kind].model_fields)


@pytest.mark.parametrize("kind", list(ImportKind))
@FUZZ
@given(data=st.data())
def test_every_import_column_fuzzed(
    sqlite_db: Database, tmp_path: Path, kind: ImportKind, data: st.DataObject
) -> None:
    """Every column of the kind, each cell fuzzed or (half the time) a good value: the
    summary adds up, and the rows it says it inserted are the rows that are there."""
    db = sqlite_db
    columns = _import_columns(kind)
    good = {
        ImportKind.CUSTOMERS: {"customer_no": "C1", "name": "张三", "region": "杭州"},
        ImportKind.BILLS: {
            "account_no": "A1",
            "period": "2026-10",
            "amount_cents": "10",
            "due_date": "2026-11-01",
        },
        ImportKind.TICKETS: {
            "number": "T1",
            "title": "slow line",
            "created_at": "2026-10-01 10:00",
        },
    }[kind]
    count = data.draw(st.integers(min_value=1, max_value=4))
    rows = [
        [data.draw(st.one_of(CELL, st.just(good.get(column, "")))) for column in columns]
        for _ in range(count)
    ]
    before = _counts(db)
    try:
        path = _csv(tmp_path, columns, rows)
    except UnicodeEncodeError:
        return  # a lone surrogate no file can hold
    report = _clear_or_success(
        lambda: imports.run_import(db, actor=SHELL, kind=kind, path=path), db
    )
    if report is None:
        return
    assert report.read <= count
    assert report.inserted + report.updated + report.unchanged + report.rejected <= report.read
    table = {"customers": "customer", "bills": "bill", "tickets": "work_order"}[kind.value]
    assert _counts(db)[table] - before[table] == report.inserted
    for problem in report.problems:
        assert problem.row >= 2
        assert problem.field
        assert problem.reason


@FUZZ
@given(query=TEXT, cursor=st.one_of(st.none(), TEXT))
def test_the_search_field_fuzzed(
    db: Database, actors: dict[Role, Actor], query: str, cursor: str | None
) -> None:
    agent = actors[Role.AGENT]
    _clear_or_success(
        lambda: search.search_customers(db, actor=agent, query=query, after=cursor),
        db,
    )


@FUZZ
@given(
    title=TEXT,
    description=TEXT,
    topic=st.one_of(st.none(), TEXT),
    callback=st.one_of(st.none(), TEXT),
    customer=st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70)),
)
def test_the_work_order_form_fuzzed(
    db: Database,
    actors: dict[Role, Actor],
    title: str,
    description: str,
    topic: str | None,
    callback: str | None,
    customer: int | None,
) -> None:
    agent = actors[Role.AGENT]

    def create() -> Any:
        draft = work_orders.WorkOrderDraft(
            customer_id=customer,
            contact_id=None,
            category=RequestType.COMPLAINT,
            topic=topic,
            title=title,
            description=description,
            priority=Priority.NORMAL,
            department_id=None,
            callback_number=callback,
            channel=Channel.PHONE,
            source=WorkOrderSource.AGENT,
            consent=True,
        )
        return work_orders.create_work_order(db, actor=agent, draft=draft, policy=POLICY)

    _clear_or_success(create, db)


@FUZZ
@given(code=TEXT, name=TEXT, kind=st.sampled_from(list(DepartmentKind)), branch=TEXT)
def test_the_department_form_fuzzed(
    db: Database, code: str, name: str, kind: DepartmentKind, branch: str
) -> None:
    _clear_or_success(
        lambda: org.add_department(
            db, actor=SHELL, code=code, name=name, kind=kind, branch=branch or None
        ),
        db,
    )


@settings(FUZZ, max_examples=10)
@given(login=TEXT, name=TEXT, password=TEXT, department=st.one_of(st.none(), TEXT))
def test_the_new_user_form_fuzzed(
    db: Database, login: str, name: str, password: str, department: str | None
) -> None:
    def add() -> Any:
        new = users.NewUser(
            login=login,
            display_name=name,
            role=Role.AGENT,
            password=password,
            department=department,
        )
        return users.add_user(db, actor=SHELL, new=new)

    before = _staff(db)
    if _clear_or_success(add, db) is None:
        assert _staff(db) == before


def _staff(db: Database) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text("SELECT COUNT(*) FROM staff_user")).scalar_one())


@pytest.fixture
def actors(db: Database) -> dict[Role, Actor]:
    """One user per role, made once per test (hypothesis's examples share them)."""
    return role_actors(db)
