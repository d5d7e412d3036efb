"""Schema migrations with Alembic, configured in code (no alembic.ini needed).

Checking a schema needs no Alembic: the revision a database is at is one plain read of
``alembic_version``, and the revisions this code knows are read from the ``revision`` and
``down_revision`` lines of ``desk/migrations/versions/*.py`` (a test holds them equal to
Alembic's own reading). A command that only checks, such as ``desk ring``, starts without
loading Alembic (~0.2 s); upgrading and downgrading load it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from desk.infra.database import Database
from desk.infra.errors import SchemaOutOfDate

if TYPE_CHECKING:
    from alembic.config import Config

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(
    r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(?:None|['\"]([^'\"]+)['\"])", re.MULTILINE
)


def alembic_config(db: Database) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "desk:migrations")
    url = db.engine.url.render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser syntax
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest)."""
    from alembic import command

    config = alembic_config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(db: Database, revision: str) -> None:
    from alembic import command

    config = alembic_config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@cache
def revisions() -> dict[str, str | None]:
    """Every revision this code knows, mapped to the one it follows (None: the first)."""
    known: dict[str, str | None] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN.search(source)
        if revision is None or down is None:
            continue  # not a migration (__init__.py)
        known[revision.group(1)] = down.group(1)
    return known


def current_revision(db: Database) -> str | None:
    """The revision the database is at (None: never migrated). The driver's own error when
    the database cannot be opened (the command line says which problem it is)."""
    with db.engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()  # noqa: S608
    if len(rows) > 1:
        raise SchemaOutOfDate(
            f"the database is at {len(rows)} revisions at once "
            f"({', '.join(sorted(str(row[0]) for row in rows))}): desk keeps one"
        )
    return str(rows[0][0]) if rows else None


def head_revision() -> str:
    """The newest revision this code knows: the one no other revision follows."""
    known = revisions()
    followed = {down for down in known.values() if down is not None}
    heads = [revision for revision in known if revision not in followed]
    if len(heads) != 1:
        raise RuntimeError(f"desk's migrations have {len(heads)} heads: {sorted(heads)}")
    return heads[0]


def is_current(db: Database) -> bool:
    return current_revision(db) == head_revision()


def is_known(revision: str) -> bool:
    """Whether ``revision`` is one of this code's migrations."""
    return revision in revisions()


def ensure_current(db: Database) -> None:
    """Refuse to run on a schema older (or newer) than this code's."""
    current, head = current_revision(db), head_revision()
    if current is not None and not is_known(current):
        raise SchemaOutOfDate(
            f"the database is at revision {current}, which this version of `desk` does not know "
            f"(it knows up to {head}): was it made by a newer desk?"
        )
    if current != head:
        raise SchemaOutOfDate(
            f"the database is at revision {current or 'none'}, this desk needs {head}: "
            "run `desk db upgrade` (or `desk init` for a new database)"
        )
