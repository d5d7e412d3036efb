"""Branches and departments on both databases: codes, renames, disabling with its guards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from desk.infra.database import Database
from desk.infra.errors import InvalidInput, NotFound
from desk.models import WorkOrder
from desk.rules.permissions import shell_actor
from desk.rules.vocab import DepartmentKind, Role
from desk.services import org, users

SHELL = shell_actor("test")


def test_a_fresh_database_gets_branches_and_departments(db: Database) -> None:
    branch = org.add_branch(db, actor=SHELL, code=" hz ", name="杭州分公司", region="杭州")
    assert (branch.code, branch.name, branch.active) == ("HZ", "杭州分公司", True)
    department = org.add_department(
        db,
        actor=SHELL,
        code="bill-hz",
        name="计费中心",
        kind=DepartmentKind.BILLING,
        branch="HZ",
        calendar="office",
        calendars=frozenset({"office", "network"}),
    )
    assert (department.code, department.branch, department.calendar) == ("BILL-HZ", "HZ", "office")
    users.add_user(
        db,
        actor=SHELL,
        new=users.NewUser(
            login="h1",
            display_name="处理员",
            role=Role.HANDLER,
            password="secret1",
            department="bill-hz",
        ),
    )
    (listed,) = org.list_departments(db, actor=SHELL)
    assert listed.staff == 1
    assert [b.departments for b in org.list_branches(db, actor=SHELL)] == [1]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"code": "bad code!"}, "code"),
        ({"code": ""}, "code"),
        ({"name": ""}, "name"),
        ({"name": "evil\x1b[2J"}, "name"),
        ({"calendar": "moon"}, "calendar"),
        ({"branch": "NOPE"}, "NOPE"),
    ],
)
def test_bad_departments_name_the_field_and_write_nothing(
    db: Database, kwargs: dict[str, str], field: str
) -> None:
    values: dict[str, object] = {
        "code": "NET",
        "name": "网络维护",
        "kind": DepartmentKind.NETWORK,
        "calendars": frozenset({"office"}),
        **kwargs,
    }
    with pytest.raises((InvalidInput, NotFound), match=field):
        org.add_department(db, actor=SHELL, **values)  # type: ignore[arg-type]
    assert org.list_departments(db, actor=SHELL) == []


def test_codes_are_unique_and_renames_keep_them(db: Database) -> None:
    org.add_branch(db, actor=SHELL, code="HZ", name="杭州", region="杭州")
    with pytest.raises(InvalidInput, match="taken"):
        org.add_branch(db, actor=SHELL, code="hz", name="again", region="x")
    renamed = org.rename_branch(db, actor=SHELL, code="hz", name="杭州分公司")
    assert (renamed.code, renamed.name) == ("HZ", "杭州分公司")
    with pytest.raises(NotFound):
        org.rename_department(db, actor=SHELL, code="NONE", name="x")


def _open_order(db: Database, department_id: int) -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)

    def add(session: Session) -> None:
        session.add(
            WorkOrder(
                number="WO1",
                category="complaint",
                title="t",
                description="d",
                department_id=department_id,
                status="dispatched",
                created_at=now,
                updated_at=now,
            )
        )

    db.run(add, write=True)


def test_disabling_is_refused_while_work_depends_on_it(db: Database) -> None:
    org.add_branch(db, actor=SHELL, code="HZ", name="杭州", region="杭州")
    department = org.add_department(
        db, actor=SHELL, code="NET", name="网络", kind=DepartmentKind.NETWORK, branch="HZ"
    )
    with pytest.raises(InvalidInput, match="active department"):
        org.disable_branch(db, actor=SHELL, code="HZ")
    _open_order(db, department.id)
    with pytest.raises(InvalidInput, match="1 open work order"):
        org.disable_department(db, actor=SHELL, code="NET")
    db.run(lambda s: s.execute(WorkOrder.__table__.update().values(status="closed")), write=True)  # type: ignore[attr-defined]
    assert org.disable_department(db, actor=SHELL, code="NET").active is False
    assert org.disable_branch(db, actor=SHELL, code="HZ").active is False
    users.add_user(
        db,
        actor=SHELL,
        new=users.NewUser(login="a1", display_name="a", role=Role.HANDLER, password="secret1"),
    )
    with pytest.raises(InvalidInput, match="disabled"):
        users.set_department(db, actor=SHELL, login="a1", department="NET")
    with pytest.raises(InvalidInput, match="disabled"):
        org.add_department(db, actor=SHELL, code="N2", name="x", kind="network", branch="HZ")  # type: ignore[arg-type]
