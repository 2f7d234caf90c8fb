"""What a roster import did: counts, the rows it refused and the warnings it gave."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bot.roster.values import RowError


@dataclass
class ImportReport:
    """What an import did: counts, bad rows (not written) and warnings (written)."""

    created_students: int = 0
    updated_students: int = 0
    created_guardians: int = 0
    updated_guardians: int = 0
    created_staff: int = 0
    unchanged_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    rows_total: int = 0

    @property
    def rows_failed(self) -> int:
        """How many rows were not imported."""
        return len({e.row for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {**asdict(self), "rows_failed": self.rows_failed}
