"""The one type of a database id in a staff page's address.

A number no row can have (zero, negative, past the id column's range) or no number at
all names no record: the page answers 404 like any other missing record, never 500.
The id columns are INTEGER, 32-bit on PostgreSQL (which refuses 2^31 with "out of
range") and 64-bit on SQLite (which raises OverflowError from 2^63): ids stop at the
smaller.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: the largest id both databases hold (PostgreSQL's INTEGER)
MAX_ID = 2**31 - 1

DbId = Annotated[int, Path(ge=1, le=MAX_ID)]
