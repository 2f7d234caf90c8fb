"""Optional error reports to Sentry (`SCHOOLGATE_SENTRY_DSN`), with personal data removed.

A report says where the code failed, never about whom. It keeps the exception's type and
its stack (files, functions, lines, the source code around them), the logger's message
template, the release and the environment. It drops what can hold a family's data:
exception messages (a database error quotes the row), local variables, request bodies,
query strings, cookies, headers but a few harmless ones, the client's address, log
arguments and extras; tokens in a URL's path (`/pack/<token>`, Telegram's `/bot<token>/`)
become `*`. What is left of free text (a log template, a breadcrumb) loses anything
shaped like an email address or a phone number. The SDK is imported only when a DSN is
set.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

REMOVED = "(removed: may hold personal data)"
_EMAIL = re.compile(r"[^\s@<>()\[\]\"',;:]+@[^\s@<>()\[\]\"',;:]+\.[A-Za-z]{2,}")
# a run of at least 7 digits, maybe with spaces, dots, dashes, brackets or a leading +
_PHONE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")
# a path segment kept as it is: a word starting lowercase ("webhooks", "pack", Telegram's
# "sendMessage"); anything else (a token, an id, a capitalised name) becomes "*"
_WORD = re.compile(r"[a-z][A-Za-z_-]{0,29}")
_HEADERS = frozenset({"content-type", "content-length", "user-agent", "accept"})
_CONTEXTS = frozenset({"runtime", "os", "trace", "app", "device"})
_CRUMB_DATA = frozenset({"method", "status_code", "reason"})


def scrub_text(text: str) -> str:
    """Text with anything shaped like an email address or a phone number replaced."""
    return _PHONE.sub("[number]", _EMAIL.sub("[email]", text))


def scrub_url(url: str) -> str:
    """Scheme, host and the path's plain words: no user info, query, fragment or token."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
    except ValueError:
        return REMOVED
    path = "/".join(seg if not seg or _WORD.fullmatch(seg) else "*"
                    for seg in parts.path.split("/"))
    return urlunsplit((parts.scheme, host, path, "", ""))


def _frames(holder: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    stack = (holder or {}).get("stacktrace") or {}
    return list(stack.get("frames") or [])


def scrub_event(event: dict[str, Any], hint: Mapping[str, Any] | None = None
                ) -> dict[str, Any]:
    """The before_send hook: the event with every place personal data can sit emptied."""
    for value in (event.get("exception") or {}).get("values") or []:
        if value.get("value"):
            value["value"] = REMOVED
        for frame in _frames(value):
            frame.pop("vars", None)
    for thread in (event.get("threads") or {}).get("values") or []:
        for frame in _frames(thread):
            frame.pop("vars", None)
    entry = event.get("logentry")
    if isinstance(entry, dict):
        # the template is code; its arguments and the formatted line are data
        event["logentry"] = {"message": scrub_text(str(entry.get("message") or "")),
                             "params": []}
    if isinstance(event.get("message"), str):
        event["message"] = scrub_text(event["message"])
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers") or {}
        event["request"] = {
            "method": request.get("method"),
            "url": scrub_url(str(request.get("url") or "")),
            "headers": {k: v for k, v in headers.items() if k.lower() in _HEADERS}
            if isinstance(headers, dict) else {},
        }
    for key in ("user", "extra", "modules"):
        event.pop(key, None)
    contexts = event.get("contexts")
    if isinstance(contexts, dict):
        event["contexts"] = {k: v for k, v in contexts.items() if k in _CONTEXTS}
    crumbs = event.get("breadcrumbs")
    if isinstance(crumbs, dict):
        crumbs["values"] = [c for c in (scrub_breadcrumb(dict(b)) for b in
                                        crumbs.get("values") or []) if c is not None]
    elif isinstance(crumbs, list):
        event["breadcrumbs"] = [c for c in (scrub_breadcrumb(dict(b)) for b in crumbs)
                                if c is not None]
    return event


def scrub_breadcrumb(crumb: dict[str, Any], hint: Mapping[str, Any] | None = None
                     ) -> dict[str, Any] | None:
    """The before_breadcrumb hook (and once more before sending): a log line becomes its
    template, an HTTP call its method, status and scrubbed URL; other data is dropped."""
    record = (hint or {}).get("log_record")
    message = crumb.get("message")
    if isinstance(record, logging.LogRecord):
        message = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
    given = crumb.get("data")
    data: dict[str, Any] = given if isinstance(given, dict) else {}
    kept = {k: v for k, v in data.items() if k in _CRUMB_DATA}
    if "url" in data:
        kept["url"] = scrub_url(str(data["url"]))
    out: dict[str, Any] = {k: crumb[k] for k in ("type", "category", "level", "timestamp")
                           if k in crumb}
    if isinstance(message, str) and message:
        out["message"] = scrub_text(message)
    out["data"] = kept
    return out


def init_sentry(settings: Settings) -> bool:
    """Start error reporting if SCHOOLGATE_SENTRY_DSN is set; True when it was started."""
    if settings.sentry_dsn is None or not settings.sentry_dsn.get_secret_value().strip():
        return False
    import sentry_sdk

    if sentry_sdk.is_initialized():  # once a process: every command builds a Context
        return True

    from bot import __version__

    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value().strip(),
        release=f"schoolgate@{__version__}",
        environment=settings.environment,
        send_default_pii=False,  # no client address, no cookies, no user
        include_local_variables=False,  # scrub_event drops them too, should one come
        max_request_body_size="never",
        before_send=scrub_event,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,
    )
    log.info("error reports go to Sentry (personal data removed)")
    return True


def report(exc: BaseException) -> None:
    """Send an exception the command line caught (it prints one line instead of a
    traceback) when reporting was started; otherwise nothing."""
    sdk = sys.modules.get("sentry_sdk")
    if sdk is not None and sdk.is_initialized():
        sdk.capture_exception(exc)
        sdk.flush(timeout=5)
