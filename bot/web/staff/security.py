"""Staff sign-in: argon2 password hashes, server-side sessions, CSRF tokens, login throttle.

The cookie holds only a random token; the database keeps its SHA-256, the staff id,
the session's CSRF token and when it expires. A session ends after a spell unused
(idle expiry, slid forward on use) and after a fixed time in any case (absolute
expiry, counted from `created_at`).

Wrong passwords are slowed twice over, so that nobody can keep another person's account
locked. Per client (its address): after CLIENT_FREE_FAILURES failures, on any accounts,
that client waits, doubling up to MAX_DELAY. Per account (counted on the staff row, so it
holds across restarts and processes): after FREE_FAILURES failures the account waits,
doubling up to ACCOUNT_MAX_DELAY, but that wait binds only clients that have failed
recently: the owner, from a device with no recent wrong password, still signs in with
the right one, whatever a stranger did.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.store.audit import audit
from bot.store.models import Staff, WebSession, utcnow

log = logging.getLogger(__name__)

ROLES = ("admin", "office", "teacher", "translator")
MIN_PASSWORD = 10
FREE_FAILURES = 5  # consecutive failures allowed before attempts are slowed
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
ACCOUNT_MAX_DELAY = timedelta(minutes=15)  # an account's wait never grows past this
CLIENT_FREE_FAILURES = 10  # a client's failures, on any accounts, before it is slowed
CLIENT_MEMORY = timedelta(hours=24)  # a client's failures are forgotten after this

_hasher = PasswordHasher()
# Verified when the email is unknown, so both answers take as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD:
        return f"the password needs at least {MIN_PASSWORD} characters"
    if password.strip() != password:
        return "the password starts or ends with a space"
    return None


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    """What the database stores for a session cookie's value."""
    return hashlib.sha256(token.encode()).hexdigest()


def lock_delay(failures: int, free: int = FREE_FAILURES,
               cap: timedelta = MAX_DELAY) -> timedelta:
    """How long to wait after `failures` consecutive failures (doubling past `free`)."""
    if failures < free:
        return timedelta(0)
    return min(BASE_DELAY * 2 ** min(failures - free, 20), cap)


def account_delay(failures: int) -> timedelta:
    """An account's wait after `failures` failures: capped at ACCOUNT_MAX_DELAY."""
    return lock_delay(failures, cap=ACCOUNT_MAX_DELAY)


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of one sign-in attempt: a staff id, or a message for the form."""

    staff_id: int | None
    error: str | None = None
    retry_after: int = 0  # seconds, when attempts are being slowed


WRONG = "That email and password do not match an account."


class UnknownEmails:
    """Failure counts by a key (an unknown email, a client), kept in this process only.

    Without it an unknown email would never be slowed, which tells an attacker it does
    not exist; the database never holds emails nobody registered. Keys are hashes.
    """

    def __init__(self, free: int = FREE_FAILURES) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, datetime]] = {}
        self.free = free

    def recent(self, key: str, now: datetime) -> int:
        """Failures under `key` in the last CLIENT_MEMORY."""
        with self._lock:
            failures, at = self._seen.get(key, (0, now))
        return failures if now - at < CLIENT_MEMORY else 0

    def locked_for(self, key: str, now: datetime) -> int:
        """Seconds until `key` may try again (0: now)."""
        failures = self.recent(key, now)
        with self._lock:
            _, at = self._seen.get(key, (0, now))
        return max(0, int((at + lock_delay(failures, self.free) - now).total_seconds()))

    def fail(self, key: str, now: datetime) -> None:
        """Count one failure under `key`."""
        failures = self.recent(key, now)
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (failures + 1, now)

    def clear(self, key: str) -> None:
        """Forget `key`'s failures (after a successful sign-in)."""
        with self._lock:
            self._seen.pop(key, None)


def client_failures() -> UnknownEmails:
    """The per-client counter: CLIENT_FREE_FAILURES free failures, on any accounts."""
    return UnknownEmails(free=CLIENT_FREE_FAILURES)


_unknown = UnknownEmails()
_clients = client_failures()


def _slowed(seconds: int, whose: str = "this account") -> LoginResult:
    minutes = max(1, -(-seconds // 60))
    return LoginResult(None, f"Too many wrong passwords for {whose}. Wait "
                             f"{minutes} minute{'s' if minutes != 1 else ''} and try again.",
                       retry_after=seconds)


def authenticate(session: Session, email: str, password: str,
                 now: datetime | None = None, unknown: UnknownEmails | None = None,
                 client: str = "", clients: UnknownEmails | None = None) -> LoginResult:
    """Check an email and password from `client` (its address), counting failures per
    client and per account; the caller commits."""
    now = now or utcnow()
    unknown = unknown or _unknown
    clients = clients or _clients
    client_key = hashlib.sha256(f"client:{client}".encode()).hexdigest()
    wait = clients.locked_for(client_key, now)
    if wait:
        return _slowed(wait, "sign-ins from this device")
    email = email.strip().lower()
    staff = session.scalar(select(Staff).where(func.lower(Staff.email) == email,
                                               Staff.active.is_(True)))
    if staff is None or staff.password_hash is None:
        key = hashlib.sha256(email.encode()).hexdigest()
        wait = unknown.locked_for(key, now)
        if wait:
            return _slowed(wait)
        _verify(None, password)
        unknown.fail(key, now)
        clients.fail(client_key, now)
        return LoginResult(None, WRONG)
    # the account's wait binds only a client that failed recently: never the owner's own
    # device because of what someone else typed
    if staff.last_failed_login_at is not None and clients.recent(client_key, now):
        until = staff.last_failed_login_at + account_delay(staff.failed_logins)
        if until > now:
            audit(session, "web", "login_refused_throttled", "staff", staff.id,
                  failures=staff.failed_logins)
            return _slowed(int((until - now).total_seconds()) + 1)
    if not _verify(staff.password_hash, password):
        # one UPDATE, so two processes failing at once both count
        session.execute(update(Staff).where(Staff.id == staff.id).values(
            failed_logins=Staff.failed_logins + 1, last_failed_login_at=now))
        audit(session, "web", "login_failed", "staff", staff.id)
        log.info("failed sign-in for staff %s", staff.id)
        clients.fail(client_key, now)
        return LoginResult(None, WRONG)
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    staff.failed_logins = 0
    staff.last_failed_login_at = None
    clients.clear(client_key)
    audit(session, f"staff:{staff.id}", "login", "staff", staff.id)
    return LoginResult(staff.id)


def start_session(session: Session, staff_id: int, idle: timedelta,
                  now: datetime | None = None) -> str:
    """Create a session row and return the cookie value (shown once, stored hashed)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=token_hash(token), staff_id=staff_id,
                           csrf_token=secrets.token_urlsafe(32), created_at=now,
                           expires_at=now + idle))
    # a sign-in is a good moment to clear this account's dead sessions
    session.execute(delete(WebSession).where(WebSession.staff_id == staff_id,
                                             WebSession.expires_at < now))
    return token


@dataclass(frozen=True, slots=True)
class Me:
    """The signed-in member of staff, as the pages need them (no ORM object kept)."""

    id: int
    school_id: int
    name: str
    email: str
    role: str
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return f"staff:{self.id}"


def load_session(session: Session, token: str, idle: timedelta, absolute: timedelta,
                 now: datetime | None = None) -> Me | None:
    """The staff member behind a cookie, sliding its idle expiry; None when expired."""
    me, _write = check_session(session, token, idle, absolute, now, apply=True)
    return me


def check_session(session: Session, token: str, idle: timedelta, absolute: timedelta,
                  now: datetime | None = None, apply: bool = False) -> tuple[Me | None, bool]:
    """(the staff member behind a cookie or None, whether the session row needs a write).

    With `apply` the write is made in `session` (an expired row deleted, the idle expiry
    slid); without it nothing is changed, so it can run in a read-only transaction and
    the caller calls `load_session` in a writing one only when told to.
    """
    now = now or utcnow()
    row = session.get(WebSession, token_hash(token))
    if row is None:
        return None, False
    staff = session.get(Staff, row.staff_id)
    if row.expires_at <= now or row.created_at + absolute <= now or staff is None \
            or not staff.active:
        if apply:
            session.delete(row)
        return None, True
    # write at most once a minute: every page view need not take the write lock
    slide = row.expires_at - now < idle - timedelta(minutes=1)
    if slide and apply:
        row.expires_at = min(now + idle, row.created_at + absolute)
    return Me(staff.id, staff.school_id, staff.name, staff.email, staff.role,
              row.csrf_token), slide


def end_session(session: Session, token: str) -> None:
    """Sign out: the row goes, so the cookie is worthless even if kept."""
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())
