"""What earlier rows of this file said about each student, guardian and link.

A later row may not contradict an earlier one (the same guardian id with another phone,
say). A big roster names hundreds of thousands of them, so they are kept in a private
temporary SQLite file that lives as long as the import, not in memory: the import asks
for the ones a chunk of rows names, and hands back what the chunk added.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

# what a row said: (spreadsheet row number, the values it gave, in column order)
Said = tuple[int, tuple[Any, ...]]
KINDS = ("student", "guardian", "link")
_IN_LIMIT = 900  # keys per query, well under every SQLite's limit on parameters


def _tuple(values: list[Any]) -> tuple[Any, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v for v in values)


class SeenRows:
    """An index of what this file has said so far, by kind and key, on disk."""

    def __init__(self) -> None:
        # "" opens a private temporary database that SQLite deletes when it is closed
        self.db = sqlite3.connect("")
        self.db.execute("CREATE TABLE said (kind INTEGER, key TEXT, row INTEGER, "
                        "said TEXT, PRIMARY KEY (kind, key)) WITHOUT ROWID")

    def lookup(self, keys: dict[str, set[Any]]) -> dict[str, dict[Any, Said]]:
        """What earlier rows said about these keys ({kind: keys}); unseen keys are absent."""
        found: dict[str, dict[Any, Said]] = {kind: {} for kind in KINDS}
        for number, kind in enumerate(KINDS):
            wanted = {json.dumps(key): key for key in keys.get(kind, ())}
            names = list(wanted)
            for start in range(0, len(names), _IN_LIMIT):
                part = names[start:start + _IN_LIMIT]
                marks = ",".join("?" * len(part))
                for key, row, said in self.db.execute(
                        f"SELECT key, row, said FROM said WHERE kind = ? AND key IN ({marks})",  # noqa: S608 (only ? marks)
                        (number, *part)):
                    found[kind][wanted[key]] = (row, _tuple(json.loads(said)))
        return found

    def remember(self, seen: dict[str, dict[Any, Said]]) -> None:
        """Keep what a committed chunk said; keys already known keep their first row."""
        self.db.executemany(
            "INSERT OR IGNORE INTO said VALUES (?, ?, ?, ?)",
            ((number, json.dumps(key), row, json.dumps(said))
             for number, kind in enumerate(KINDS)
             for key, (row, said) in seen.get(kind, {}).items()))

    def close(self) -> None:
        """Delete the index."""
        self.db.close()


def keys_of(rows: Iterable[dict[str, str]]) -> dict[str, set[Any]]:
    """The student, guardian and link keys some rows' cells name."""
    keys: dict[str, set[Any]] = {kind: set() for kind in KINDS}
    for cells in rows:
        student, guardian = cells["student_id"], cells["guardian_id"]
        keys["student"].add(student)
        keys["guardian"].add(guardian)
        keys["link"].add((student, guardian))
    return keys
