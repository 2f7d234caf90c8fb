"""A local stand-in for a Sentry server's envelope endpoint.

The SDK's transport POSTs each report to `/api/<project>/envelope/` (newline-separated
JSON: the envelope header, then each item's header and payload), gzip-compressed, with an
`X-Sentry-Auth` header carrying the DSN's public key. This server accepts it as Sentry
does (200 with an id), records the decompressed bytes, and refuses a wrong key (401).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = "0123456789abcdef0123456789abcdef"
PROJECT = "42"


@dataclass
class SentryStandin:
    """The envelopes received, decompressed, in arrival order."""

    port: int = 0
    envelopes: list[bytes] = field(default_factory=list)
    refused: int = 0

    @property
    def dsn(self) -> str:
        return f"http://{KEY}@127.0.0.1:{self.port}/{PROJECT}"

    def items(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every (item header, JSON payload) pair of every envelope."""
        found = []
        for raw in self.envelopes:
            lines = raw.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if not header.strip():
                    continue
                try:
                    found.append((json.loads(header), json.loads(payload)))
                except ValueError:
                    continue  # an attachment's bytes
        return found

    def events(self) -> list[dict[str, Any]]:
        """The error events received."""
        return [body for head, body in self.items() if head.get("type") == "event"]

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[SentryStandin]:
        standin = cls()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                auth = self.headers.get("X-Sentry-Auth", "")
                if (self.path != f"/api/{PROJECT}/envelope/"
                        or f"sentry_key={KEY}" not in auth):
                    standin.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                standin.envelopes.append(body)
                reply = b'{"id":"00000000000000000000000000000000"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        standin.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield standin
        finally:
            server.shutdown()
            server.server_close()
