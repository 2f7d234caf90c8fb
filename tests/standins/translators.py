"""Local stand-ins for Google Translate, DeepL and Microsoft Translator, as
deep-translator 1.11 speaks to them.

Each is a real HTTP server on 127.0.0.1 answering the request deep-translator sends,
with the shape it parses:

- Google: GET <base>/m?sl=..&tl=..&q=.. answered with the mobile page's HTML; the
  translation sits in `<div class="result-container">`.
- DeepL: GET (or POST, form-encoded) <base>/v2/translate with auth_key, source_lang,
  target_lang and text; answered `{"translations": [{"text": ...}]}`, 403 on a wrong key.
- Microsoft: GET /languages?api-version=3.0&scope=translation (the constructor asks it),
  and POST /translate?api-version=3.0&from=..&to=.. with `[{"text": ...}]` and the
  Ocp-Apim-Subscription-Key (and -Region) headers; answered
  `[{"translations": [{"text": ..., "to": ...}]}]`, errors as `{"error": {...}}`.

They "translate" by tagging text with the target language (`<pl> text`), like the
LibreTranslate stand-in, record every request, and answer 500 or 429 on demand.
"""

from __future__ import annotations

import html
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, str, bytes]  # status, content type, body


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    form: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


def _json(status: int, payload: object) -> Answer:
    return status, "application/json; charset=utf-8", json.dumps(payload).encode()


def _tag(target: str, text: str) -> str:
    return f"<{target}> {text}"


class TranslatorStandIn:
    """A local HTTP server; subclasses answer one service's protocol in `answer`.

    Use as `with DeepLStandIn(api_key="k") as deepl: deepl.base_url`.
    """

    #: what DeepTranslator's base_url must be for this service (appended to `url`)
    base_path = ""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: deque[str] = deque()
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                split = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                form: dict[str, str] = {}
                if self.headers.get("Content-Type", "").startswith(
                        "application/x-www-form-urlencoded"):
                    form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
                request = Request(self.command, split.path,
                                  {k: v[-1] for k, v in parse_qs(split.query).items()},
                                  {k.lower(): v for k, v in self.headers.items()}, body, form)
                status, ctype, data = standin._dispatch(request)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Root URL of the server."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The URL to give DeepTranslator (it replaces the client's `_base_url`)."""
        return self.url + self.base_path

    def fail_next(self, *faults: str) -> None:
        """Queue faults for the next translation requests: '500' or '429'."""
        self.faults.extend(faults)

    def translation_requests(self) -> list[Request]:
        """Requests that asked for a translation (not language lists)."""
        return [r for r in self.requests if self.is_translation(r)]

    def is_translation(self, request: Request) -> bool:
        """Whether `request` asks for a translation."""
        return True

    def _dispatch(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            fault = None
            if self.faults and self.is_translation(request):
                fault = self.faults.popleft()
        if fault is not None:
            return self.fault(int(fault))
        return self.answer(request)

    def answer(self, request: Request) -> Answer:
        """The service's answer to a well-formed request."""
        raise NotImplementedError

    def fault(self, status: int) -> Answer:
        """The service's answer when it fails with `status`."""
        return _json(status, {"message": "stand-in fault"})

    def __enter__(self) -> TranslatorStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class GoogleTranslateStandIn(TranslatorStandIn):
    """translate.google.com/m: GET with sl, tl, q; the answer is an HTML page."""

    base_path = "/m"

    def answer(self, request: Request) -> Answer:
        """The mobile page with the translation in its result container."""
        q = request.query
        if request.method != "GET" or request.path != "/m" or "q" not in q:
            return 404, "text/html", b"<html><body>Not Found</body></html>"
        text = html.escape(_tag(q.get("tl", "?"), q["q"]))
        page = ('<!DOCTYPE html><html><head><title>Google Translate</title></head><body>'
                '<div class="root-container"><div class="header">Translate</div>'
                f'<div class="result-container">{text}</div></div></body></html>')
        return 200, "text/html; charset=UTF-8", page.encode()

    def fault(self, status: int) -> Answer:
        """Google answers failures with an HTML error page."""
        return status, "text/html", f"<html><body>Error {status}</body></html>".encode()


class DeepLStandIn(TranslatorStandIn):
    """api.deepl.com/v2/translate, authenticated with the auth_key parameter."""

    base_path = "/v2/"

    def __init__(self, api_key: str = "deepl-standin-key") -> None:
        super().__init__()
        self.api_key = api_key

    def answer(self, request: Request) -> Answer:
        """`{"translations": [{"detected_source_language", "text"}]}`."""
        if request.path != "/v2/translate":
            return _json(404, {"message": "Not found"})
        params = {**request.query, **request.form}
        if params.get("auth_key") != self.api_key:
            return _json(403, {"message": "Wrong endpoint or authentication key"})
        if "text" not in params or "target_lang" not in params:
            return _json(400, {"message": "Parameter 'text' or 'target_lang' not specified."})
        source = params.get("source_lang", "EN").upper()
        text = _tag(params["target_lang"].lower(), params["text"])
        return _json(200, {"translations": [{"detected_source_language": source,
                                             "text": text}]})

    def fault(self, status: int) -> Answer:
        """DeepL's error body."""
        message = "Too many requests" if status == 429 else "Internal server error"
        return _json(status, {"message": message})


class MicrosoftTranslatorStandIn(TranslatorStandIn):
    """api.cognitive.microsofttranslator.com: /languages and /translate, API 3.0."""

    base_path = "/translate?api-version=3.0"
    LANGUAGES: ClassVar[dict[str, str]] = {
        "en": "English", "pl": "Polish", "ar": "Arabic", "es": "Spanish"}

    def __init__(self, api_key: str = "ms-standin-key", region: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.region = region

    def is_translation(self, request: Request) -> bool:
        """Language-list requests are not translations."""
        return request.path == "/translate"

    def answer(self, request: Request) -> Answer:
        """The language list, or `[{"translations": [{"text", "to"}]}]` per input text."""
        if request.query.get("api-version") != "3.0":
            return _error(400, 400021, "The API version parameter is missing or invalid.")
        if request.method == "GET" and request.path == "/languages":
            return _json(200, {"translation": {
                code: {"name": name, "nativeName": name, "dir": "ltr"}
                for code, name in self.LANGUAGES.items()}})
        if request.method != "POST" or request.path != "/translate":
            return _error(404, 404001, "The requested resource was not found.")
        if request.headers.get("ocp-apim-subscription-key") != self.api_key:
            return _error(401, 401000, "The request is not authorized because credentials "
                                       "are missing or invalid.")
        if self.region and request.headers.get("ocp-apim-subscription-region") != self.region:
            return _error(401, 401015, "The region is missing or invalid.")
        target = request.query.get("to", "")
        if target not in self.LANGUAGES:
            return _error(400, 400036, "The target language is not valid.")
        return _json(200, [{"translations": [{"text": _tag(target, item["text"]), "to": target}]}
                           for item in request.json()])

    def fault(self, status: int) -> Answer:
        """Microsoft's error body: `{"error": {"code", "message"}}`."""
        return _error(status, status * 1000, "stand-in fault")


def _error(status: int, code: int, message: str) -> Answer:
    return _json(status, {"error": {"code": code, "message": message}})
