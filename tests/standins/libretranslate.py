"""A local LibreTranslate-compatible server: POST /translate, GET /languages.

It "translates" by tagging text with the target language (`<pl> text`), which keeps
placeholders intact like a real engine does, records every request body so tests can
prove what left the school, and injects faults on demand: 500, 429, a slow answer, or a
translation that drops placeholders.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LibreTranslateStandIn:
    """Run with `with LibreTranslateStandIn() as lt: lt.url`."""

    def __init__(self, latency: float = 0.0, api_key: str | None = None) -> None:
        self.latency = latency
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[str] = deque()
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/languages"):
                    self._json(200, [{"code": c, "name": c, "targets": []}
                                     for c in ("en", "pl", "ar", "es")])
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = standin._answer(body)
                wait = payload.pop("retry_after", None) if isinstance(payload, dict) else None
                self._json(status, payload, {"Retry-After": wait} if wait else {})

            def _json(self, status: int, payload: object,
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, *faults: str) -> None:
        """Queue faults: '500', '429' or '429:<seconds>' (with Retry-After), 'slow' (sleeps
        5 s), 'drop-placeholders'."""
        self.faults.extend(faults)

    def sent_text(self) -> str:
        """Everything that was sent for translation, joined: for privacy assertions."""
        out = []
        for body in self.requests:
            q = body.get("q")
            out += q if isinstance(q, list) else [str(q)]
        return "\n".join(out)

    def _answer(self, body: dict[str, Any]) -> tuple[int, object]:
        with self._lock:
            self.requests.append(body)
            fault = self.faults.popleft() if self.faults else None
        if self.latency:
            time.sleep(self.latency)
        if self.api_key and body.get("api_key") != self.api_key:
            return 403, {"error": "Invalid API key"}
        if fault == "500":
            return 500, {"error": "internal error"}
        if fault is not None and fault.startswith("429"):
            wait = fault.partition(":")[2]
            return 429, {"error": "Too many requests", **({"retry_after": wait} if wait else {})}
        if fault == "slow":
            time.sleep(5)
        q = body.get("q", "")
        texts = q if isinstance(q, list) else [q]
        target = body.get("target", "?")
        if fault == "drop-placeholders":
            out = [f"<{target}> " + "".join(c for c in t if c not in "[]0123456789")
                   for t in texts]
        else:
            out = [f"<{target}> {t}" for t in texts]
        return 200, {"translatedText": out if isinstance(q, list) else out[0]}

    def __enter__(self) -> LibreTranslateStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
