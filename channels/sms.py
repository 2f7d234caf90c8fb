"""SMS through Twilio. Inbound parsing needs no provider library; sending uses twilio.

The adapter drives the real `twilio` client (synchronous, so each call runs in a worker
thread) with its API base URL taken from settings, so it can be pointed at a local
stand-in. Twilio's errors are mapped here, once: an address Twilio will never deliver to
is permanent; rate limits, server errors, timeouts and carrier hiccups are transient.
Error texts are our own words and codes, never Twilio's message (which quotes numbers).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, ClassVar, Protocol, TypeVar

from channels.base import (
    Channel,
    ChannelConfigurationError,
    ChannelError,
    DeliveryOutcome,
    DeliveryResult,
    InboundParsed,
    OutgoingMessage,
    PermanentAddressError,
    Secret,
    TransientError,
    UncertainError,
    reveal,
)
from channels.segments import segments

log = logging.getLogger(__name__)
T = TypeVar("T")
# twilio's HTTP client logs each request (URL, headers) at INFO: keep that out of INFO logs.
logging.getLogger(f"{__name__}.http").setLevel(logging.WARNING)

STATUS_PATH = "/webhooks/twilio/status"
# How far before an attempt a found message may be dated (our clock against Twilio's).
LOOKUP_SKEW_SECONDS = 60.0
INBOUND_PATH = "/webhooks/twilio/sms"

# Codes that mean "this number will never get messages from us": stop and use another channel.
PERMANENT_CODES: Mapping[int, str] = {
    21211: "the number is not a valid phone number",
    21610: "the recipient replied STOP to this sender (opted out at Twilio)",
    21612: "the number cannot receive SMS from this sender",
    21614: "the number is not a mobile number",
    30005: "unknown or inactive number",
    30006: "landline or unreachable carrier",
}
# Codes that mean "try again later".
TRANSIENT_CODES: Mapping[int, str] = {
    20429: "too many requests",
    30001: "Twilio's queue overflowed",
    30003: "the handset is unreachable (switched off or out of coverage)",
    30008: "unknown delivery error",
}

# Twilio MessageStatus -> our delivery status words (bot/status.py ranks them).
_STATUS_MAP: Mapping[str, str] = {
    "accepted": "sent", "queued": "sent", "scheduled": "sent", "sending": "sent",
    "sent": "sent", "delivered": "delivered", "read": "read",
    "failed": "failed", "undelivered": "failed", "canceled": "failed",
}


class TwilioConfig(Protocol):
    """The settings this adapter reads (bot.config.TwilioSettings has them)."""

    account_sid: str | None
    from_number: str | None
    messaging_service_sid: str | None
    api_base_url: str
    rate_per_second: float

    @property
    def auth_token(self) -> Secret | None:
        """The account's auth token (read-only here: a SecretStr in bot.config)."""
        ...

    def problems(self) -> list[str]:
        """What stops the provider from working, one line each."""
        ...


def parse_inbound(form: Mapping[str, str], request_token: str | None = None) -> InboundParsed:
    """An inbound Twilio webhook form (From, Body, MessageSid ...) as an InboundParsed.

    The provider id is what recognises Twilio retrying the same webhook: the MessageSid.
    A signed form without one still gets a stable id, `form:` + a hash of what Twilio
    signed (every field, sorted) and of Twilio's own per-request idempotency token when it
    sent one (`I-Twilio-Idempotency-Token`, the same on each retry): a retry is the same
    form, so it is stored once, while two different texts never share an id.
    """
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid")
    return InboundParsed(
        channel="sms",
        sender_address=form.get("From", "").strip(),
        text=form.get("Body", ""),
        raw=json.dumps(dict(form), ensure_ascii=False, sort_keys=True),
        provider_id=sid or form_key(form, request_token),
    )


def form_key(form: Mapping[str, str], request_token: str | None = None) -> str:
    """A stable id for a webhook form that carries no MessageSid (see parse_inbound)."""
    digest = hashlib.sha256()
    for name, value in sorted(form.items()):
        digest.update(json.dumps([name, value], ensure_ascii=False).encode("utf-8", "replace"))
    if request_token:
        digest.update(b"\0token\0" + request_token.encode("utf-8", "replace"))
    return "form:" + digest.hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A Twilio status callback in our words: which message, what happened, and whether
    the failure is permanent for the address. `status` is None for statuses we ignore."""

    provider_id: str
    status: str | None
    error: str | None = None
    permanent: bool = False


def describe_code(code: int | None) -> str:
    """'twilio error 21211: the number is not a valid phone number' (no personal data)."""
    if code is None:
        return "twilio reported a failure without an error code"
    reason = PERMANENT_CODES.get(code) or TRANSIENT_CODES.get(code)
    return f"twilio error {code}: {reason}" if reason else f"twilio error {code}"


def parse_status(form: Mapping[str, str]) -> StatusReport:
    """A Twilio status callback form (MessageSid, MessageStatus, ErrorCode) as a StatusReport."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    raw_status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    status = _STATUS_MAP.get(raw_status)
    if status != "failed":
        return StatusReport(sid, status)
    code = _int_or_none(form.get("ErrorCode"))
    return StatusReport(sid, status, error=f"{raw_status}: {describe_code(code)}",
                        permanent=code in PERMANENT_CODES)


def verify_signature(auth_token: str, url: str, params: Mapping[str, str],
                     signature: str) -> bool:
    """True when `signature` (X-Twilio-Signature) is Twilio's for this URL and form."""
    from twilio.request_validator import RequestValidator

    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def not_written(exc: BaseException) -> bool:
    """True when a request failed before anything reached Twilio (refused, no such host)."""
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    todo, seen = [exc], set()
    while todo:
        cur = todo.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, (NewConnectionError, NameResolutionError)):
            return True
        todo.extend(e for e in (*cur.args, getattr(cur, "reason", None), cur.__cause__,
                                cur.__context__) if isinstance(e, BaseException))
    return False


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a Retry-After header given in seconds (the form Twilio uses)."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def map_twilio_error(status: int, code: int | None,
                     headers: Mapping[str, str] | None = None) -> ChannelError:
    """The channel error for one Twilio API failure (HTTP status, Twilio code, headers)."""
    label = f"{describe_code(code)} (HTTP {status})" if code and code != status \
        else f"twilio answered HTTP {status}"
    if code in PERMANENT_CODES:
        return PermanentAddressError(label)
    if status == 429 or code in TRANSIENT_CODES or status >= 500:
        return TransientError(label, retry_after=_retry_after(headers))
    if status in (401, 403):
        # Our credentials, not the family's number: retry (and fall back) rather than
        # marking the address as failed; the warning names no person or number.
        log.warning("twilio refused the credentials (HTTP %s): check TWILIO_ACCOUNT_SID and "
                    "TWILIO_AUTH_TOKEN", status)
        return TransientError(f"{label}: twilio refused our credentials")
    # Anything else (a sender or account problem such as region permissions) is not proof
    # the number is bad; retry, and after the last attempt the guardian's next channel is used.
    return TransientError(label)


@cache
def _http_client_class() -> type[Any]:
    """Twilio's own HTTP client, keeping each thread's last response headers: Twilio's
    exceptions drop them, and a 429's Retry-After lives there."""
    from twilio.http.http_client import TwilioHttpClient

    class HeaderKeepingHttpClient(TwilioHttpClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._local = threading.local()
            self.before_request: Callable[[], None] | None = None

        def request(self, *args: Any, **kwargs: Any) -> Any:
            self._local.headers = None
            if self.before_request is not None:
                self.before_request()
            response = super().request(*args, **kwargs)
            self._local.headers = dict(response.headers or {})
            return response

        def last_headers(self) -> dict[str, str] | None:
            return getattr(self._local, "headers", None)

    return HeaderKeepingHttpClient


class StartSpacer:
    """Keeps real request starts at least one interval apart, across threads.

    The base limiter spaces *planned* starts on the event loop; the hand-over to the HTTP
    thread then adds a few milliseconds of jitter, enough for a late start and an on-time
    one to land closer than one interval (and one second to hold one start too many).
    Twilio counts what arrives, so the last word is said here, just before the request is
    written. `starts` keeps the most recent start times (monotonic) for measurement.
    """

    def __init__(self, rate: float | None, margin: float = 0.025, keep: int = 10_000) -> None:
        # A small margin so the network's jitter cannot push one arrival too many into
        # the provider's second.
        self.interval = (1.0 + margin) / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self.starts: deque[float] = deque(maxlen=keep)

    def wait(self) -> None:
        """Block this thread until the next request may start, then record the start."""
        with self._lock:
            if self.interval:
                delay = self._next - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            now = time.monotonic()
            self._next = now + self.interval
            self.starts.append(now)


class TwilioSmsChannel(Channel):
    """Sends SMS with Twilio's Messages API through the official `twilio` client."""

    name: ClassVar[str] = "sms"
    max_length: ClassVar[int | None] = 1600  # Twilio's limit for one message body
    rate_per_second: ClassVar[float | None] = 10.0
    max_in_flight: ClassVar[int] = 8
    can_check_sent: ClassVar[bool] = True  # Twilio's Messages list settles a lost answer

    def __init__(self, settings: TwilioConfig, public_url: str = "",
                 timeout: float = 10.0) -> None:
        super().__init__(rate_per_second=settings.rate_per_second)
        from twilio.rest import Client

        self.settings = settings
        self.base_url = settings.api_base_url.rstrip("/")
        self.status_callback = f"{public_url.rstrip('/')}{STATUS_PATH}" if public_url else None
        self.timeout = timeout
        self.spacer = StartSpacer(settings.rate_per_second)
        self._http = _http_client_class()(timeout=timeout,
                                          logger=logging.getLogger(f"{__name__}.http"))
        self._http.before_request = self.spacer.wait
        self.client = Client(settings.account_sid, reveal(settings.auth_token),
                             http_client=self._http)
        # TWILIO_EDGE / TWILIO_REGION would rewrite the host; the base URL is the whole truth.
        self.client.edge = None
        self.client.region = None
        self.client.api.base_url = self.base_url
        self._pool: ThreadPoolExecutor | None = None

    async def _in_thread(self, func: Callable[..., T], *args: Any) -> T:
        """Run a blocking twilio call in this channel's own threads (one per call in
        flight), so slow answers never take the threads the database work runs in."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.max_in_flight + 2,
                                            thread_name_prefix="twilio")
        return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)

    # -- sending ---------------------------------------------------------------------------
    async def _send(self, message: OutgoingMessage) -> DeliveryResult:
        params: dict[str, Any] = {"to": message.address, "body": message.text}
        if self.settings.messaging_service_sid:
            params["messaging_service_sid"] = self.settings.messaging_service_sid
        if self.settings.from_number:
            params["from_"] = self.settings.from_number
        if self.status_callback:
            params["status_callback"] = self.status_callback
        sid = await self._in_thread(self._create, params)
        return DeliveryResult(DeliveryOutcome.SENT, provider_id=sid,
                              segments=segments(message.text))

    def _create(self, params: dict[str, Any]) -> str:
        """Create one message (runs in a thread); raises our channel errors only."""
        from requests import exceptions as http_errors
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        try:
            created = self.client.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            code = _int_or_none(exc.code)
            raise map_twilio_error(int(exc.status), code, self._http.last_headers()) from exc
        except http_errors.ConnectTimeout as exc:  # nothing was written: not taken
            raise TransientError(f"cannot reach the twilio api within {self.timeout:g}s") \
                from exc
        except http_errors.Timeout as exc:
            # The request went out and no answer came: Twilio may have created the message
            # (an answer later than our timeout). Ask before sending again (find_sent).
            raise UncertainError(f"twilio did not answer within {self.timeout:g}s; "
                                 "asking twilio before sending again") from exc
        except http_errors.RequestException as exc:
            if not_written(exc):
                raise TransientError(
                    f"cannot reach the twilio api ({type(exc).__name__})") from exc
            raise UncertainError(f"the connection to twilio broke before its answer "
                                 f"({type(exc).__name__}); asking twilio before sending "
                                 "again") from exc
        if not created.sid:
            raise UncertainError("twilio answered without a message sid; asking twilio "
                                 "before sending again")
        return str(created.sid)

    # -- settling an unknown outcome --------------------------------------------------------
    async def find_sent(self, message: OutgoingMessage, since: datetime,
                        exclude: frozenset[str] = frozenset()) -> str | None:
        """The SID of a message Twilio created for this one at or after `since`, None when
        Twilio's list proves there is none; TransientError when Twilio cannot say now.

        Twilio's Messages list is filtered by To, From (or the messaging service) and
        DateSent on or after the attempt's day; a message matches when its body is ours and
        it was created no earlier than the attempt (less a minute for clock skew). SIDs in
        `exclude` are other deliveries' (the same text to the same number, sent for real).
        """
        return await self._in_thread(self._find, message, since, exclude)

    def _find(self, message: OutgoingMessage, since: datetime,
              exclude: frozenset[str]) -> str | None:
        from requests import exceptions as http_errors
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        earliest = since - timedelta(seconds=LOOKUP_SKEW_SECONDS)
        params: dict[str, Any] = {"to": message.address, "date_sent_after": earliest,
                                  "page_size": 100}
        if self.settings.from_number and not self.settings.messaging_service_sid:
            params["from_"] = self.settings.from_number
        try:
            found = self.client.messages.list(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise TransientError(f"twilio could not list messages (HTTP {exc.status})") \
                from exc
        except http_errors.RequestException as exc:
            raise TransientError(f"twilio could not list messages ({type(exc).__name__})") \
                from exc
        service = self.settings.messaging_service_sid
        for m in sorted(found, key=lambda m: (m.date_created or earliest, m.sid or "")):
            if not m.sid or m.sid in exclude or m.body != message.text:
                continue
            if service and m.messaging_service_sid not in (None, service):
                continue
            if m.date_created is not None and m.date_created < earliest:
                continue
            return str(m.sid)
        return None

    # -- start-up check ----------------------------------------------------------------------
    async def check(self) -> str:
        """One line saying the account answers, or ChannelConfigurationError saying why not."""
        problems = self.settings.problems()
        if problems:
            raise ChannelConfigurationError("sms: " + "; ".join(problems))
        status = await asyncio.to_thread(self._fetch_account_status)
        if status != "active":
            raise ChannelConfigurationError(
                f"sms: the Twilio account is {status or 'not active'}; messages cannot be sent")
        sid = self.settings.account_sid or ""
        sender = self.settings.messaging_service_sid or self.settings.from_number or ""
        what = "service" if self.settings.messaging_service_sid else "from"
        return f"sms: ok (account {sid[:4]}…, {what} {sender[:4]}…)"

    def _fetch_account_status(self) -> str | None:
        from requests import exceptions as http_errors
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        try:
            account = self.client.api.v2010.accounts(self.settings.account_sid).fetch()
        except (TwilioRestException, TwilioServiceException) as exc:
            if int(exc.status) in (401, 403, 404):
                raise ChannelConfigurationError(
                    f"sms: Twilio refused TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN "
                    f"(HTTP {exc.status}); copy both from the Twilio console") from exc
            raise ChannelConfigurationError(
                f"sms: the Twilio API at {self.base_url} answered HTTP {exc.status}") from exc
        except http_errors.RequestException as exc:
            raise ChannelConfigurationError(
                f"sms: cannot reach the Twilio API at {self.base_url} "
                f"({type(exc).__name__}); check TWILIO_API_BASE_URL and the network") from exc
        return str(account.status) if account.status else None

    async def close(self) -> None:
        """Close the pooled HTTP connections."""
        if self._http.session is not None:
            self._http.session.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
