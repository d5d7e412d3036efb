"""``desk policy check FILE`` and ``desk policy show``."""

from __future__ import annotations

from pathlib import Path

import typer

from desk.cli.common import FORMAT_OPTION, OutputFormat, emit_json, policy_failure

# The rules load inside the commands: `desk` alone must reach the login screen quickly.

policy_app = typer.Typer(help="The policy file: every number the rules use.", no_args_is_help=True)

FILE_ARGUMENT = typer.Argument(..., help="The policy file (TOML) to check.")


@policy_app.command("check")
def check(
    file: Path = FILE_ARGUMENT,
    output: OutputFormat = FORMAT_OPTION,
) -> None:
    """Check a policy file: print every problem (key.path: message), or "ok"."""
    from desk.rules.policy import check_policy_file

    problems = check_policy_file(file)
    if output is OutputFormat.JSON:
        emit_json(
            {
                "file": str(file),
                "ok": not problems,
                "problems": [problem.model_dump() for problem in problems],
            }
        )
    elif problems:
        for problem in problems:
            typer.echo(str(problem))
    else:
        typer.echo("ok")
    if problems:
        raise typer.Exit(1)


@policy_app.command("show")
def show(output: OutputFormat = FORMAT_OPTION) -> None:
    """Print the policy in force: DESK_POLICY's file, else the one shipped with desk, with
    its comments and units, and every key it leaves to its default marked ``# default``."""
    from desk.rules.policy import PolicyError, load_policy_source, policy_text
    from desk.settings import load_settings

    path = load_settings().policy
    try:
        policy, source = load_policy_source(path)
    except PolicyError as error:
        policy_failure(error)
    if output is OutputFormat.JSON:
        emit_json(
            {
                "source": str(path) if path is not None else "shipped",
                "policy": policy.model_dump(mode="json", exclude_none=True),
            }
        )
        return
    origin = str(path) if path is not None else "the policy shipped with desk"
    typer.echo(f"# policy in force: {origin}")
    typer.echo(policy_text(policy, source), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
