"""A local Telegram Bot API server on 127.0.0.1, for python-telegram-bot to talk to.

It implements the methods schoolgate uses (getMe, sendMessage, getUpdates, setWebhook,
deleteWebhook) at the real URL shape `/bot<token>/<method>` with Telegram-shaped JSON,
records every request, and injects faults on demand: 500, a hung response (timeout),
429 with retry_after, 403 "bot was blocked by the user" and 400 "chat not found".
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from bot.config import TelegramSettings

TOKEN = "123456:TEST-standin-token"
USERNAME = "schoolgate_test_bot"


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request the stand-in received."""

    method: str
    params: dict[str, Any]
    at: float
    token: str


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure: an HTTP status and Telegram error body, or a hang."""

    status: int
    description: str = ""
    retry_after: int | None = None
    hang: bool = False


def server_error() -> Fault:
    """500 Internal Server Error."""
    return Fault(500, "Internal Server Error")


def timeout() -> Fault:
    """No answer until the client gives up (or the server stops)."""
    return Fault(0, hang=True)


def flood(retry_after: int) -> Fault:
    """429 Too Many Requests with parameters.retry_after."""
    return Fault(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def blocked() -> Fault:
    """403: the user blocked the bot."""
    return Fault(403, "Forbidden: bot was blocked by the user")


def chat_not_found() -> Fault:
    """400: no such chat."""
    return Fault(400, "Bad Request: chat not found")


@dataclass
class _State:
    token: str
    username: str
    requests: list[Recorded] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    faults: dict[str, deque[Fault]] = field(default_factory=dict)
    blocked_chats: set[str] = field(default_factory=set)
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(default_factory=threading.Condition)
    stopping: threading.Event = field(default_factory=threading.Event)


def _coerce(value: str) -> Any:
    """PTB posts form fields whose values are JSON (numbers, lists) or plain strings."""
    try:
        return json.loads(value)
    except ValueError:
        return value


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self._handle({})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.headers.get("Content-Type", "").startswith("application/json"):
            params = json.loads(body or "{}")
        else:
            params = {k: _coerce(v) for k, v in parse_qsl(body, keep_blank_values=True)}
        self._handle(params)

    def _handle(self, params: dict[str, Any]) -> None:
        state = self.server.state
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        token, method = parts[0][3:], parts[1]
        with state.lock:
            state.requests.append(Recorded(method, params, time.monotonic(), token))
            queue = state.faults.get(method)
            fault = queue.popleft() if queue else None
        if token != state.token:
            self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        if fault is not None:
            self._fault(fault)
            return
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        handler(params)

    def _fault(self, fault: Fault) -> None:
        if fault.hang:
            self.server.state.stopping.wait(30)
            self.close_connection = True
            return
        body: dict[str, Any] = {"ok": False, "error_code": fault.status,
                                "description": fault.description}
        if fault.retry_after is not None:
            body["parameters"] = {"retry_after": fault.retry_after}
        self._reply(fault.status, body)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up first
            pass

    def _ok(self, result: Any) -> None:
        self._reply(200, {"ok": True, "result": result})

    # -- Bot API methods ----------------------------------------------------------------
    def _m_getMe(self, params: dict[str, Any]) -> None:
        self._ok({"id": int(self.server.state.token.split(":")[0]), "is_bot": True,
                  "first_name": "Schoolgate Test", "username": self.server.state.username,
                  "can_join_groups": False, "can_read_all_group_messages": False,
                  "supports_inline_queries": False})

    def _m_sendMessage(self, params: dict[str, Any]) -> None:
        state = self.server.state
        chat = str(params.get("chat_id", ""))
        if chat in state.blocked_chats:
            self._fault(blocked())
            return
        if not str(params.get("text", "")).strip():
            self._reply(400, {"ok": False, "error_code": 400,
                              "description": "Bad Request: message text is empty"})
            return
        with state.lock:
            message_id = next(state.message_ids)
            state.sent.append(dict(params, message_id=message_id))
        self._ok({"message_id": message_id, "date": int(time.time()),
                  "chat": {"id": int(chat), "type": "private"}, "text": params["text"]})

    def _m_getUpdates(self, params: dict[str, Any]) -> None:
        state = self.server.state
        if state.webhook.get("url"):
            self._reply(409, {"ok": False, "error_code": 409, "description":
                              "Conflict: can't use getUpdates method while webhook is active"})
            return
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), 2.0)
        deadline = time.monotonic() + wait
        with state.changed:
            while True:
                if offset:  # confirming an offset forgets everything before it, as Telegram does
                    state.updates = [u for u in state.updates if u["update_id"] >= offset]
                pending = list(state.updates)
                left = deadline - time.monotonic()
                if pending or left <= 0 or state.stopping.is_set():
                    break
                state.changed.wait(left)
        limit = int(params.get("limit") or 100)
        self._ok(pending[:limit])

    def _m_setWebhook(self, params: dict[str, Any]) -> None:
        self.server.state.webhook = dict(params)
        self._ok(True)

    def _m_deleteWebhook(self, params: dict[str, Any]) -> None:
        self.server.state.webhook = {}
        self._ok(True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class TelegramStandIn:
    """The stand-in server; use as a context manager. `base_url` goes in api_base_url."""

    def __init__(self, token: str = TOKEN, username: str = USERNAME) -> None:
        self.state = _State(token=token, username=username)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def token(self) -> str:
        """The only token this server accepts."""
        return self.state.token

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>, the value for TELEGRAM_API_BASE_URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> TelegramStandIn:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hung requests and stop serving."""
        self.state.stopping.set()
        with self.state.changed:
            self.state.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TelegramStandIn:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- test controls ----------------------------------------------------------------------
    def fail(self, method: str, *faults: Fault) -> None:
        """The next calls of `method` fail with these faults, in order."""
        with self.state.lock:
            self.state.faults.setdefault(method, deque()).extend(faults)

    def block(self, chat_id: str | int) -> None:
        """This chat has blocked the bot: every sendMessage to it gets 403."""
        self.state.blocked_chats.add(str(chat_id))

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        with self.state.changed:
            self.state.updates.append(update)
            self.state.changed.notify_all()

    def calls(self, method: str) -> list[Recorded]:
        """Every request of one method, in arrival order."""
        with self.state.lock:
            return [r for r in self.state.requests if r.method == method]

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Messages really accepted by sendMessage (faulted ones are not here)."""
        with self.state.lock:
            return list(self.state.sent)

    def texts_to(self, chat_id: str | int) -> list[str]:
        """Texts accepted for one chat, in order."""
        return [m["text"] for m in self.sent if str(m["chat_id"]) == str(chat_id)]

    @property
    def webhook(self) -> dict[str, Any]:
        """The last setWebhook parameters ({} when none is set)."""
        return dict(self.state.webhook)


_update_ids = itertools.count(1000)


def text_update(chat_id: int, text: str, *, update_id: int | None = None,
                language_code: str | None = "en", first_name: str = "Sam") -> dict[str, Any]:
    """A Telegram update for a private text message, as the Bot API sends it."""
    sender: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first_name}
    if language_code:
        sender["language_code"] = language_code
    return {
        "update_id": update_id if update_id is not None else next(_update_ids),
        "message": {"message_id": next(_update_ids), "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private", "first_name": first_name},
                    "from": sender, "text": text},
    }


def settings_for(standin: TelegramStandIn, **overrides: Any) -> TelegramSettings:
    """TelegramSettings pointed at this stand-in, quick to time out, with no .env read."""
    values: dict[str, Any] = {"bot_token": standin.token, "api_base_url": standin.base_url,
                              "timeout": 0.5, "poll_timeout": 0, "rate_per_second": 0}
    values.update(overrides)
    return TelegramSettings(_env_file=None, **values)  # type: ignore[call-arg]
