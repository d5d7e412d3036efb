"""``desk org branch|department add|list|rename|disable``: the organisation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from desk.cli.common import (
    FORMAT_OPTION,
    OutputFormat,
    emit_json,
    open_database,
    policy_failure,
    shell_actor,
    state_of,
)
from desk.cli.failures import printable
from desk.rules.vocab import DepartmentKind

if TYPE_CHECKING:
    from desk.services.org import BranchView, DepartmentView

org_app = typer.Typer(help="Branch offices and departments.", no_args_is_help=True)
branch_app = typer.Typer(help="Branch offices (分公司).", no_args_is_help=True)
department_app = typer.Typer(
    help="Departments work orders are dispatched to.", no_args_is_help=True
)


def _branch_row(view: BranchView) -> dict[str, object]:
    return {
        "code": view.code,
        "name": view.name,
        "region": view.region,
        "active": view.active,
        "departments": view.departments,
    }


def _department_row(view: DepartmentView) -> dict[str, object]:
    return {
        "code": view.code,
        "name": view.name,
        "kind": view.kind.value,
        "branch": view.branch,
        "calendar": view.calendar,
        "active": view.active,
        "staff": view.staff,
        "open_work_orders": view.open_work_orders,
    }


@branch_app.command("add")
def branch_add(
    ctx: typer.Context,
    code: str = typer.Argument(..., help="Short code, e.g. HZ (letters, digits, _ -)."),
    name: str = typer.Option(..., "--name", help="The branch's name, e.g. 杭州分公司."),
    region: str = typer.Option(..., "--region", help="The region it serves, e.g. 杭州."),
) -> None:
    """Add a branch office."""
    from desk.services import org

    view = org.add_branch(
        open_database(state_of(ctx)), actor=shell_actor(), code=code, name=name, region=region
    )
    typer.echo(printable(f"added branch {view.code} {view.name} ({view.region})"))


@branch_app.command("list")
def branch_list(ctx: typer.Context, output: OutputFormat = FORMAT_OPTION) -> None:
    """List branch offices."""
    from desk.services import org

    rows = [
        _branch_row(v) for v in org.list_branches(open_database(state_of(ctx)), actor=shell_actor())
    ]
    if output is OutputFormat.JSON:
        emit_json(rows)
        return
    for row in rows:
        state = "" if row["active"] else "  disabled"
        typer.echo(
            printable(
                f"{row['code']:<10} {row['name']}  {row['region']}  "
                f"{row['departments']} department(s){state}"
            )
        )


@branch_app.command("rename")
def branch_rename(ctx: typer.Context, code: str, name: str) -> None:
    """Give a branch a new name (its code stays)."""
    from desk.services import org

    view = org.rename_branch(
        open_database(state_of(ctx)), actor=shell_actor(), code=code, name=name
    )
    typer.echo(printable(f"branch {view.code} is now {view.name}"))


@branch_app.command("disable")
def branch_disable(ctx: typer.Context, code: str) -> None:
    """Disable a branch (refused while it has active departments)."""
    from desk.services import org

    view = org.disable_branch(open_database(state_of(ctx)), actor=shell_actor(), code=code)
    typer.echo(printable(f"branch {view.code} disabled"))


@department_app.command("add")
def department_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short code, e.g. BILL-HZ (letters, digits, _ -).")],
    name: Annotated[str, typer.Option("--name", help="The department's name, e.g. 计费中心.")],
    kind: Annotated[DepartmentKind, typer.Option("--kind", help="What it is.")],
    branch: str = typer.Option(None, "--branch", help="The branch it belongs to (a code)."),
    calendar: str = typer.Option(
        "office", "--calendar", help="Its business calendar, one named in the policy."
    ),
) -> None:
    """Add a department work orders can be dispatched to."""
    from desk.rules.policy import PolicyError, load_policy
    from desk.services import org

    state = state_of(ctx)
    try:
        policy = load_policy(state.settings().policy)
    except PolicyError as error:
        policy_failure(error)
    view = org.add_department(
        open_database(state),
        actor=shell_actor(),
        code=code,
        name=name,
        kind=kind,
        branch=branch,
        calendar=calendar,
        calendars=frozenset(policy.calendars),
    )
    where = f" in branch {view.branch}" if view.branch else ""
    typer.echo(printable(f"added department {view.code} {view.name} ({view.kind.value}{where})"))


@department_app.command("list")
def department_list(ctx: typer.Context, output: OutputFormat = FORMAT_OPTION) -> None:
    """List departments with their staff and open work orders."""
    from desk.services import org

    views = org.list_departments(open_database(state_of(ctx)), actor=shell_actor())
    rows = [_department_row(view) for view in views]
    if output is OutputFormat.JSON:
        emit_json(rows)
        return
    for row in rows:
        state = "" if row["active"] else "  disabled"
        typer.echo(
            printable(
                f"{row['code']:<12} {row['kind']:<13} {row['branch'] or '-':<8} "
                f"{row['name']}  staff {row['staff']}, open {row['open_work_orders']}{state}"
            )
        )


@department_app.command("rename")
def department_rename(ctx: typer.Context, code: str, name: str) -> None:
    """Give a department a new name (its code stays)."""
    from desk.services import org

    view = org.rename_department(
        open_database(state_of(ctx)), actor=shell_actor(), code=code, name=name
    )
    typer.echo(printable(f"department {view.code} is now {view.name}"))


@department_app.command("disable")
def department_disable(ctx: typer.Context, code: str) -> None:
    """Disable a department (refused while it has open work orders)."""
    from desk.services import org

    view = org.disable_department(open_database(state_of(ctx)), actor=shell_actor(), code=code)
    typer.echo(printable(f"department {view.code} disabled"))


def register(app: typer.Typer) -> None:
    org_app.add_typer(branch_app, name="branch")
    org_app.add_typer(department_app, name="department")
    app.add_typer(org_app, name="org")
