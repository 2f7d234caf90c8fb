"""One-time password links: an admin makes one, the member of staff sets a new password.

The link carries a random token (256 bits); the database keeps only its SHA-256, who
made it, when, and until when it works (LINK_HOURS). It works once: using it is one
UPDATE that succeeds only while `used_at` is empty, so two tabs cannot both use it.
Making a new link for someone cancels their older unused ones. Setting the password
ends every session that account had and clears its failed sign-ins.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from bot.store.audit import audit
from bot.store.models import PasswordLink, Staff, WebSession, utcnow
from bot.web.staff.security import hash_password, password_problem, token_hash

LINK_HOURS = 24


def make_link(session: Session, staff: Staff, made_by: int,
              now: datetime | None = None) -> str:
    """A new one-time link token for `staff` (shown once; stored hashed), audited."""
    now = now or utcnow()
    session.execute(delete(PasswordLink).where(PasswordLink.staff_id == staff.id,
                                               PasswordLink.used_at.is_(None)))
    token = secrets.token_urlsafe(32)
    session.add(PasswordLink(token_hash=token_hash(token), staff_id=staff.id,
                             created_by_id=made_by, created_at=now,
                             expires_at=now + timedelta(hours=LINK_HOURS)))
    audit(session, f"staff:{made_by}", "password_link_made", "staff", staff.id,
          hours=LINK_HOURS)
    return token


def usable_link(session: Session, token: str, now: datetime | None = None
                ) -> tuple[PasswordLink, Staff] | None:
    """The link and its account while the link works: unused, unexpired, account active."""
    now = now or utcnow()
    link = session.get(PasswordLink, token_hash(token)) if token else None
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    staff = session.get(Staff, link.staff_id)
    if staff is None or not staff.active:
        return None
    return link, staff


class LinkRefused(Exception):
    """The link cannot set a password (used, expired, or the password is not acceptable)."""


def use_link(session: Session, token: str, password: str, again: str,
             now: datetime | None = None) -> Staff:
    """Set the new password through the link, once; raises LinkRefused with the reason."""
    now = now or utcnow()
    found = usable_link(session, token, now)
    if found is None:
        raise LinkRefused("gone")
    link, staff = found
    if password != again:
        raise LinkRefused("the two passwords are not the same")
    problem = password_problem(password)
    if problem:
        raise LinkRefused(problem)
    used = session.execute(update(PasswordLink).where(
        PasswordLink.token_hash == link.token_hash, PasswordLink.used_at.is_(None))
        .values(used_at=now))
    if getattr(used, "rowcount", 0) != 1:  # another tab used it a moment ago
        raise LinkRefused("gone")
    staff.password_hash = hash_password(password)
    staff.failed_logins, staff.last_failed_login_at = 0, None
    session.execute(delete(WebSession).where(WebSession.staff_id == staff.id))
    audit(session, f"staff:{staff.id}", "password_set_by_link", "staff", staff.id,
          made_by=link.created_by_id)
    return staff
