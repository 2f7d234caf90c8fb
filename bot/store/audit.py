"""The audit log: identifiers and actions only, never personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.store.models import AuditEntry


def audit(session: Session, actor: str, action: str, object_type: str,
          object_id: object = None, **detail: Any) -> None:
    """Record that `actor` did `action` to one object, in the caller's transaction."""
    session.add(AuditEntry(actor=actor, action=action, object_type=object_type,
                           object_id=None if object_id is None else str(object_id),
                           detail=detail))
