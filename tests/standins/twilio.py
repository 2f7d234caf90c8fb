"""A local stand-in for Twilio's REST API (the Messages and Account endpoints we use).

A real HTTP server on 127.0.0.1, spoken to by the real `twilio` client. It checks basic
auth, answers with Twilio-shaped JSON, records every request, and injects faults on
demand (HTTP 5xx, slow answers, 429 with Retry-After, Twilio error codes, and a message
created whose answer comes later than the client waits). It lists messages the way
Twilio's API does (GET .../Messages.json filtered by To, From and DateSent, paged), so a
lost answer can be settled by asking. It also signs webhooks the way Twilio does, with
the twilio library's own RequestValidator.
"""

from __future__ import annotations

import base64
import json
import random
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.request_validator import RequestValidator

from channels.segments import segments

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "standin-auth-token-4f1e"
FROM_NUMBER = "+447700900001"

_MESSAGES = "/2010-04-01/Accounts/{sid}/Messages.json"
_ACCOUNT = "/2010-04-01/Accounts/{sid}.json"


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure for the next Messages request."""

    status: int = 500
    code: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    message: str = "Internal error"
    creates: bool = False  # the message is created before the (slow) answer

    @classmethod
    def http(cls, status: int = 500) -> Fault:
        """A bare HTTP error with Twilio's generic error body."""
        return cls(status=status, code=status, message=f"HTTP {status}")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Hold the request this long, then answer 504; the message is never created."""
        return cls(status=504, code=None, delay=seconds, message="Gateway timeout")

    @classmethod
    def late_answer(cls, seconds: float) -> Fault:
        """Create the message at once but answer only after this long (201 then): a client
        with a shorter timeout gives up although the message exists (issue 14, finding 6)."""
        return cls(status=201, code=None, delay=seconds, message="", creates=True)

    @classmethod
    def rate_limited(cls, retry_after: float) -> Fault:
        """429 Too Many Requests with a Retry-After header (Twilio code 20429)."""
        return cls(status=429, code=20429, retry_after=retry_after, message="Too Many Requests")

    @classmethod
    def twilio(cls, code: int, status: int = 400) -> Fault:
        """A Twilio error JSON body with this code (21211, 21610, 30003 ...)."""
        return cls(status=status, code=code, message=f"Twilio error {code} (stand-in)")


@dataclass(slots=True)
class Recorded:
    """One request the stand-in received."""

    method: str
    path: str
    form: dict[str, str]
    auth_ok: bool
    received_at: float
    outcome: str = ""


@dataclass
class TwilioStandin:
    """The server; use `with TwilioStandin.running() as twilio:` or start()/stop()."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    latency: float = 0.0
    account_status: str = "active"
    requests: list[Recorded] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._faults: deque[Fault] = deque()
        self._lookup_faults: deque[Fault] = deque()
        self._random: tuple[float, tuple[Fault, ...], float, random.Random] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------
    @classmethod
    @contextmanager
    def running(cls, **kw: Any) -> Iterator[TwilioStandin]:
        """A started stand-in, stopped on exit."""
        standin = cls(**kw)
        standin.start()
        try:
            yield standin
        finally:
            standin.stop()

    def start(self) -> None:
        """Listen on 127.0.0.1 on a free port, serving from a daemon thread."""
        handler = _handler_for(self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="twilio-standin", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Cut short any slow answer, stop serving and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """Base URL to give the twilio client (TWILIO_API_BASE_URL)."""
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- faults ----------------------------------------------------------------------------
    def fail_next(self, *faults: Fault) -> None:
        """Answer the next Messages requests with these faults, in order."""
        with self._lock:
            self._faults.extend(faults)

    def fail_at_random(self, rate: float, faults: tuple[Fault, ...], lookup_rate: float = 0.0,
                       seed: int = 0) -> None:
        """From now on, each create request fails with probability `rate` (a fault picked
        from `faults`), and each list request with `lookup_rate` (HTTP 500); queued faults
        (`fail_next`) come first."""
        self._random = (rate, faults, lookup_rate, random.Random(seed))

    def fail_lookups(self, *faults: Fault) -> None:
        """Answer the next Messages list requests (GET) with these faults, in order."""
        with self._lock:
            self._lookup_faults.extend(faults)

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._random is not None:
                rate, faults, _, rng = self._random
                if rng.random() < rate:
                    return rng.choice(faults)
            return None

    def _next_lookup_fault(self) -> Fault | None:
        with self._lock:
            if self._lookup_faults:
                return self._lookup_faults.popleft()
            if self._random is not None and self._random[3].random() < self._random[2]:
                return Fault.http(500)
            return None

    # -- what happened -----------------------------------------------------------------------
    def sent_to(self, number: str) -> list[dict[str, Any]]:
        """Messages created for this number, in order."""
        with self._lock:
            return [m for m in self.messages if m["to"] == number]

    def message_requests(self) -> list[Recorded]:
        """Every request that asked to create a message (POST Messages.json), in order."""
        with self._lock:
            return [r for r in self.requests
                    if r.method == "POST" and r.path.endswith("/Messages.json")]

    def list_requests(self) -> list[Recorded]:
        """Every Messages list request (GET Messages.json), in order, `form` = its query."""
        with self._lock:
            return [r for r in self.requests
                    if r.method == "GET" and r.path.endswith("/Messages.json")]

    # -- webhooks ----------------------------------------------------------------------------
    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """X-Twilio-Signature for a webhook POST of `params` to `url`, as Twilio computes it."""
        return RequestValidator(self.auth_token).compute_signature(url, dict(params))

    def webhook_headers(self, url: str, params: Mapping[str, str]) -> dict[str, str]:
        """Headers Twilio would send with this webhook."""
        return {"X-Twilio-Signature": self.sign(url, params)}

    def inbound_form(self, sender: str, body: str, sid: str | None = None,
                     to: str = FROM_NUMBER) -> dict[str, str]:
        """The form Twilio posts for an inbound SMS."""
        sid = sid or _sid("SM")
        return {"ToCountry": "GB", "SmsMessageSid": sid, "NumMedia": "0", "MessageSid": sid,
                "AccountSid": self.account_sid, "From": sender, "To": to, "Body": body,
                "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}

    def status_form(self, sid: str, status: str, error_code: int | None = None,
                    to: str = "+447700900123") -> dict[str, str]:
        """The form Twilio posts to a status callback URL."""
        form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
                "AccountSid": self.account_sid, "From": FROM_NUMBER, "To": to,
                "ApiVersion": "2010-04-01"}
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        return form

    # -- request handling (server threads) -------------------------------------------------
    def _handle(self, method: str, path: str, form: dict[str, str],
                auth_header: str | None, query: dict[str, str] | None = None,
                ) -> tuple[int, dict[str, str], dict[str, Any]]:
        record = Recorded(method, path, form, self._auth_ok(auth_header),
                          received_at=time.time())
        with self._lock:
            self.requests.append(record)
        if not record.auth_ok:
            record.outcome = "401"
            return 401, {}, _error(20003, 401, "Authenticate")
        if method == "GET" and path == _ACCOUNT.format(sid=self.account_sid):
            record.outcome = "account"
            return 200, {}, self._account_json()
        if method == "GET" and path == _MESSAGES.format(sid=self.account_sid):
            return self._list(record, query)
        if method != "POST" or path != _MESSAGES.format(sid=self.account_sid):
            record.outcome = "404"
            return 404, {}, _error(20404, 404, "The requested resource was not found")
        if self.latency:
            self._stopping.wait(self.latency)
        fault = self._next_fault()
        if fault is not None and fault.creates:
            created = self._message_json(form)
            with self._lock:
                self.messages.append(created)
            self._stopping.wait(fault.delay)
            record.outcome = f"late {created['sid']}"
            return 201, {}, created
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            record.outcome = f"fault {fault.code or fault.status}"
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after else {}
            return fault.status, headers, _error(fault.code or fault.status, fault.status,
                                                 fault.message)
        if not form.get("To") or not form.get("Body"):
            record.outcome = "400"
            return 400, {}, _error(21604, 400, "A 'To' phone number and a Body are required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            record.outcome = "400"
            return 400, {}, _error(21603, 400, "A 'From' or 'MessagingServiceSid' is required")
        created = self._message_json(form)
        with self._lock:
            self.messages.append(created)
        record.outcome = created["sid"]
        return 201, {}, created

    def _list(self, record: Recorded, query: dict[str, str] | None
              ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """GET Messages.json: newest first, filtered by To, From and DateSent (Twilio
        compares the GMT date only: `DateSent>=YYYY-MM-DD`, sent as the key `DateSent>`),
        paged with PageSize / Page / PageToken and `next_page_uri`."""
        q = dict(query or {})
        record.form = q
        if self.latency:
            self._stopping.wait(self.latency)
        fault = self._next_lookup_fault()
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            record.outcome = f"list fault {fault.code or fault.status}"
            return fault.status, {}, _error(fault.code or fault.status, fault.status,
                                            fault.message)
        with self._lock:
            found = list(reversed(self.messages))
        if q.get("To"):
            found = [m for m in found if m["to"] == q["To"]]
        if q.get("From"):
            found = [m for m in found if m["from"] == q["From"]]
        for key, keep in (("DateSent>", lambda d, v: d >= v), ("DateSent<", lambda d, v: d <= v),
                          ("DateSent", lambda d, v: d == v)):
            if q.get(key):
                day = q[key].lstrip("=")[:10]
                found = [m for m in found if m["date_sent"] and
                         keep(_gmt_day(m["date_sent"]), day)]
        size = max(1, min(int(q.get("PageSize") or 50), 1000))
        page = int(q.get("Page") or 0)
        chunk = found[page * size:(page + 1) * size]
        base = _MESSAGES.format(sid=self.account_sid)
        keep_q = {k: v for k, v in q.items() if k not in ("Page", "PageToken")}

        def uri(n: int) -> str:
            return base + "?" + urlencode({**keep_q, "PageSize": size, "Page": n,
                                            "PageToken": f"PA{n}"})
        more = (page + 1) * size < len(found)
        record.outcome = f"list {len(chunk)}"
        return 200, {}, {"messages": chunk, "end": page * size + len(chunk) - 1,
                         "first_page_uri": uri(0), "next_page_uri": uri(page + 1) if more
                         else None, "page": page, "page_size": size,
                         "previous_page_uri": uri(page - 1) if page else None,
                         "start": page * size, "uri": uri(page)}

    def _auth_ok(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == (self.account_sid, self.auth_token)

    def _account_json(self) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        return {"sid": self.account_sid, "friendly_name": "Stand-in account",
                "status": self.account_status, "type": "Full", "owner_account_sid":
                self.account_sid, "date_created": now, "date_updated": now,
                "uri": _ACCOUNT.format(sid=self.account_sid), "subresource_uris": {}}

    def _message_json(self, form: dict[str, str]) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        sid = _sid("SM")
        return {
            "account_sid": self.account_sid, "api_version": "2010-04-01",
            "body": form["Body"], "date_created": now, "date_updated": now, "date_sent": now,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0", "num_segments": str(segments(form["Body"])), "price": None,
            "price_unit": "USD", "sid": sid, "status": "queued", "to": form["To"],
            "status_callback": form.get("StatusCallback"),
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/"
                                          f"{sid}/Media.json"},
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }


def _gmt_day(rfc2822: str) -> str:
    return parsedate_to_datetime(rfc2822).astimezone(UTC).strftime("%Y-%m-%d")


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def _error(code: int, status: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}


class _QuietServer(ThreadingHTTPServer):
    """A client that went away mid-request (killed, timed out) is not an error here."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(standin: TwilioStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer("GET", {})

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size).decode("utf-8") if size else ""
            self._answer("POST", dict(parse_qsl(body, keep_blank_values=True)))

        def _answer(self, method: str, form: dict[str, str]) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            status, headers, payload = standin._handle(method, parts.path, form,
                                                       self.headers.get("Authorization"),
                                                       query)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read `requests` instead."""

    return Handler


def twilio_settings(standin: TwilioStandin, **overrides: Any) -> Any:
    """TwilioSettings pointing the real client at this stand-in (no .env read)."""
    from bot.config import TwilioSettings

    values: dict[str, Any] = {"account_sid": standin.account_sid,
                              "auth_token": standin.auth_token, "from_number": FROM_NUMBER,
                              "api_base_url": standin.url, "rate_per_second": 1000.0}
    values.update(overrides)
    return TwilioSettings(_env_file=None, **values)  # type: ignore[call-arg]
