"""Small pieces of SQL composed with SQLAlchemy Core that differ by database.

Statements are built from these and from the tables of :mod:`desk.models`, never by
formatting strings (``ruff check --select S608 src`` keeps it so): a value is always a bound
parameter, a name always a construct.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Integer, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY


def id_in(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the ids bound to the parameter ``name`` as one value, however many
    they are: an integer array on PostgreSQL (``= ANY(:name)``), a JSON array on SQLite
    (``IN (SELECT value FROM json_each(:name))``). Bind the ids with :func:`id_list`."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    values = func.json_each(bindparam(name)).table_valued("value")
    return column.in_(select(values.c.value))


def id_list(ids: Iterable[int], dialect: str) -> Any:
    """The value to bind for :func:`id_in`."""
    values = [int(value) for value in ids]
    return values if dialect == "postgresql" else json.dumps(values)
