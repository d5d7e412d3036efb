"""Creating a database: the schema, the first admin, and the facts about the database."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from pydantic import ValidationError
from sqlmodel import Session, col, select

from desk.infra import migrations
from desk.infra.database import Database, now_of, reads, writes
from desk.infra.errors import InvalidInput
from desk.models import Meta, StaffUser
from desk.rules.permissions import Actor, shell_actor
from desk.rules.vocab import Role
from desk.services import audit
from desk.services.secrets import hash_secret
from desk.services.users import NewUser, UserView, add_user_in, validation_message


@dataclass(frozen=True, slots=True)
class InitResult:
    revision: str | None
    admin: UserView | None


@writes
def _bootstrap_admin(
    session: Session, *, actor: Actor, login: str, password: str, password_hash: str
) -> UserView | None:
    people = select(StaffUser.id).where(
        StaffUser.role == Role.ADMIN.value, col(StaffUser.is_system).is_(False)
    )
    if session.exec(people).first():
        return None
    if session.get(Meta, "created_at") is None:
        session.add(Meta(key="created_at", value=now_of(session).isoformat()))
    new = NewUser(login=login, display_name=login, role=Role.ADMIN, password=password)
    return add_user_in(session, actor=actor, new=new, password_hash=password_hash)


def initialise(
    db: Database, *, admin_login: str, admin_password: str, os_user: str = "setup"
) -> InitResult:
    """Upgrade the schema to head and create the first admin unless one exists. The admin at
    the command line (``os_user``) acts as desk's ``shell`` actor, whose row the migrations
    create; its check runs like anyone's."""
    try:
        NewUser(
            login=admin_login, display_name=admin_login, role=Role.ADMIN, password=admin_password
        )
    except ValidationError as error:
        problem = validation_message(error)  # names the field: login or password
        raise InvalidInput(
            problem.message.split(": ", 1)[-1], field=f"admin {problem.field}"
        ) from error
    migrations.upgrade(db)
    audit.ensure_key(db)
    # an upgraded log from before the key is anchored now; a broken old chain is not
    # resealed (`desk check` and `desk audit verify` say so)
    with contextlib.suppress(audit.AuditChainBroken):
        audit.reseal(db, actor=shell_actor(os_user))
    admin = _bootstrap_admin(
        db,
        actor=shell_actor(os_user),
        login=admin_login,
        password=admin_password,
        password_hash=hash_secret(admin_password),
    )
    return InitResult(migrations.current_revision(db), admin)


def ensure_current(db: Database) -> None:
    """Refuse to run on a schema older (or newer) than this code's."""
    migrations.ensure_current(db)


@reads
def meta_value(session: Session, *, key: str) -> str | None:
    row = session.get(Meta, key)
    return row.value if row else None


@reads
def is_demo(session: Session) -> bool:
    row = session.get(Meta, "demo")
    return row is not None and row.value == "1"
