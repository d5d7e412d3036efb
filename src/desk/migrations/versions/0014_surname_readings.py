"""Names read as people say them: customers whose name starts with a surname of
:data:`desk.rules.names.SURNAME_READINGS` (单 shan, 解 xie, 万俟 moqi, …) get their pinyin and
initials again, from the surname's reading.

Revision ID: 0014_surname_readings
Revises: 0013_workspace_indexes

The rows are found set-based (the first one or two characters of the name among the table's
surnames), read by keyset in chunks, and only those whose keys change are written, in
batches. ``name_spaced`` (the full-text column) does not change. The downgrade writes back
the character-by-character reading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import op

if TYPE_CHECKING:
    from desk.rules.names import NameKeys

# desk.rules.names (pypinyin's dictionaries, about a second to load) is imported where it is
# used: every command that checks the schema reads this file to learn the revisions.

revision: str = "0014_surname_readings"
down_revision: str | None = "0013_workspace_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000

_CUSTOMER = sa.table(
    "customer",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("name_pinyin", sa.String),
    sa.column("name_initials", sa.String),
)


def _reindex(keys_of: Callable[[str], NameKeys]) -> None:
    from desk.rules.names import SURNAME_READINGS

    connection = op.get_bind()
    c = _CUSTOMER.c
    singles = sorted(surname for surname in SURNAME_READINGS if len(surname) == 1)
    pairs = sorted(surname for surname in SURNAME_READINGS if len(surname) == 2)
    starts = sa.or_(
        sa.func.substr(c.name, 1, 1).in_(singles), sa.func.substr(c.name, 1, 2).in_(pairs)
    )
    update = (
        sa.update(_CUSTOMER)
        .where(c.id == sa.bindparam("row_id"))
        .values(name_pinyin=sa.bindparam("pinyin"), name_initials=sa.bindparam("initials"))
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(c.id, c.name, c.name_pinyin, c.name_initials)
            .where(starts, c.id > after)
            .order_by(c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        changed = []
        for row_id, name, pinyin, initials in rows:
            keys = keys_of(name)
            if (keys.pinyin, keys.initials) != (pinyin, initials):
                changed.append({"row_id": row_id, "pinyin": keys.pinyin, "initials": keys.initials})
        if changed:
            connection.execute(update, changed)
        after = rows[-1][0]


def upgrade() -> None:
    from desk.rules.names import name_keys

    _reindex(name_keys)


def downgrade() -> None:
    from desk.rules.names import part_keys

    _reindex(part_keys)
