"""Local stand-ins for DeepL, Microsoft Translator and Google Cloud Translation v3,
speaking each vendor's documented request and response format.

Each is a real HTTP server on 127.0.0.1 that checks what a client sends the way the
service does, and answers in the service's shape:

- DeepL: POST /v2/translate, JSON `{"text": [...], "source_lang", "target_lang",
  "glossary_id"?}`, header `Authorization: DeepL-Auth-Key <key>`; answered
  `{"translations": [{"detected_source_language", "text"}]}`; 403 on a wrong key, 400 on a
  target DeepL does not take (bare EN/PT), 413 over 50 texts or 128 KiB.
- Microsoft: POST /translate?api-version=3.0&from=..&to=.., body `[{"Text": ...}]`,
  headers Ocp-Apim-Subscription-Key (and -Region); answered
  `[{"translations": [{"text", "to"}]}]`; errors `{"error": {"code", "message"}}`
  (401000, 401015, 400036, 400077 over 1,000 texts or 50,000 characters).
- Google: POST /v3/projects/{p}/locations/{l}:translateText, JSON `contents`,
  `sourceLanguageCode`, `targetLanguageCode`, `mimeType`, `glossaryConfig`?; signed in by
  X-Goog-Api-Key (or `?key=`) or a Bearer token from its own OAuth token endpoint (POST
  /token, JWT bearer grant checked against the service account's public key); answered
  `{"translations": [{"translatedText"}], "glossaryTranslations"?}`; errors
  `{"error": {"code", "message", "status"}}`; 400 over 1,024 texts or 30,000 code points.

They "translate" by tagging each text with the target code as received (`<PL> text`;
`<pl+glossary> text` with a glossary), record every request, and inject faults on demand:
a status ('500', '456', '429' or '429:<seconds>' with Retry-After), 'slow' (answers after
`slow_seconds`), 'malformed' (an answer in the wrong shape), 'short' (one translation missing).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import jwt

Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


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


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, \
        json.dumps(payload, ensure_ascii=False).encode()


def _tag(target: str, text: str) -> str:
    return f"<{target}> {text}"


class TranslatorStandIn:
    """A local HTTP server; subclasses answer one service's protocol in `answer`.

    Use as `with DeepLStandIn(api_key="k") as deepl: deepl.url`.
    """

    def __init__(self, slow_seconds: float = 2.0) -> None:
        self.requests: list[Request] = []
        self.faults: deque[str] = deque()
        self.slow_seconds = slow_seconds
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
                status, headers, data = standin._dispatch(request)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped waiting (a timeout test)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Root URL of the server (what the client's base URL setting takes)."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, *faults: str) -> None:
        """Queue faults for the next translation requests (see the module docstring)."""
        self.faults.extend(faults)

    def translation_requests(self) -> list[Request]:
        """Requests that asked for a translation (not sign-ins)."""
        return [r for r in self.requests if self.is_translation(r)]

    def is_translation(self, request: Request) -> bool:
        """Whether `request` asks for a translation."""
        return True

    def sent_texts(self) -> list[str]:
        """Every text received for translation, in order."""
        return [t for r in self.translation_requests() for t in self.texts_of(r)]

    def texts_of(self, request: Request) -> list[str]:
        """The texts one translation request carried."""
        raise NotImplementedError

    def _dispatch(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            fault = None
            if self.faults and self.is_translation(request):
                fault = self.faults.popleft()
        if fault == "slow":
            time.sleep(self.slow_seconds)
        elif fault is not None and fault.split(":")[0].isdigit():
            status, _, wait = fault.partition(":")
            answer = self.fault(int(status))
            if wait:
                answer[1]["Retry-After"] = wait
            return answer
        answer = self.answer(request)
        if fault in ("malformed", "short") and answer[0] == 200:
            return self.broken(answer, fault)
        return answer

    def broken(self, answer: Answer, how: str) -> Answer:
        """A well-formed answer spoilt: the wrong shape, or one translation missing."""
        raise NotImplementedError

    def answer(self, request: Request) -> Answer:
        """The service's answer to a request."""
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


class DeepLStandIn(TranslatorStandIn):
    """api.deepl.com / api-free.deepl.com: POST /v2/translate (JSON)."""

    TARGETS: ClassVar[frozenset[str]] = frozenset({
        "AR", "BG", "CS", "DA", "DE", "EL", "EN-GB", "EN-US", "ES", "ET", "FI", "FR", "HU",
        "ID", "IT", "JA", "KO", "LT", "LV", "NB", "NL", "PL", "PT-BR", "PT-PT", "RO", "RU",
        "SK", "SL", "SV", "TR", "UK", "VI", "ZH-HANS", "ZH-HANT"})
    MAX_TEXTS = 50
    MAX_BODY = 128 * 1024

    def __init__(self, api_key: str = "deepl-standin-key",
                 glossaries: dict[str, tuple[str, str]] | None = None,
                 slow_seconds: float = 2.0) -> None:
        super().__init__(slow_seconds)
        self.api_key = api_key
        self.glossaries = glossaries or {}  # id -> (source, target) language pair

    def texts_of(self, request: Request) -> list[str]:
        """The `text` list of the JSON body."""
        return list(request.json().get("text", []))

    def answer(self, request: Request) -> Answer:
        """`{"translations": [{"detected_source_language", "text"}]}`."""
        if request.method != "POST" or request.path != "/v2/translate":
            return _json(404, {"message": "Not found"})
        if request.headers.get("authorization") != f"DeepL-Auth-Key {self.api_key}":
            return _json(403, {"message": "Wrong endpoint or authentication key"})
        if len(request.body) > self.MAX_BODY:
            return _json(413, {"message": "Request Entity Too Large"})
        if not request.headers.get("content-type", "").startswith("application/json"):
            return _json(400, {"message": "Bad request"})
        body = request.json()
        texts, target = body.get("text"), body.get("target_lang", "")
        if not isinstance(texts, list) or not target:
            return _json(400, {"message": "Parameter 'text' or 'target_lang' not specified."})
        if len(texts) > self.MAX_TEXTS:
            return _json(413, {"message": "Too many texts in one request"})
        if target not in self.TARGETS:
            return _json(400, {"message": f"Value for 'target_lang' not supported: {target}"})
        source = body.get("source_lang")
        tag = target
        if "glossary_id" in body:
            pair = self.glossaries.get(body["glossary_id"])
            if source is None:
                return _json(400, {"message": "Use of a glossary requires the source_lang "
                                              "parameter to be specified"})
            if pair != (source, target.split("-")[0]):
                return _json(400, {"message": "Glossary not found or language mismatch"})
            tag = f"{target}+glossary"
        return _json(200, {"translations": [
            {"detected_source_language": source or "EN", "text": _tag(tag, t)} for t in texts]})

    def broken(self, answer: Answer, how: str) -> Answer:
        """`{"result": ...}` instead of `translations`, or one translation short."""
        payload = json.loads(answer[2])
        if how == "short":
            return _json(200, {"translations": payload["translations"][:-1]})
        return _json(200, {"result": [t["text"] for t in payload["translations"]]})

    def fault(self, status: int) -> Answer:
        """DeepL's error body."""
        message = {429: "Too many requests", 456: "Quota exceeded"}.get(
            status, "Internal server error")
        return _json(status, {"message": message})


class MicrosoftTranslatorStandIn(TranslatorStandIn):
    """api.cognitive.microsofttranslator.com: POST /translate, API 3.0."""

    LANGUAGES: ClassVar[frozenset[str]] = frozenset({
        "ar", "bn", "cs", "en", "es", "lt", "pa", "pl", "pt", "pt-pt", "ro", "sk", "so", "uk",
        "ur", "vi", "zh-Hans", "zh-Hant"})

    def __init__(self, api_key: str = "ms-standin-key", region: str | None = None,
                 slow_seconds: float = 2.0) -> None:
        super().__init__(slow_seconds)
        self.api_key = api_key
        self.region = region

    def texts_of(self, request: Request) -> list[str]:
        """The `Text` of each element of the JSON array."""
        return [item["Text"] for item in request.json()]

    def answer(self, request: Request) -> Answer:
        """`[{"translations": [{"text", "to"}]}]`, one element per input text."""
        if request.method != "POST" or request.path != "/translate":
            return _error(404, 404001, "The requested resource was not found.")
        if request.query.get("api-version") != "3.0":
            return _error(400, 400021, "The API version parameter is missing or invalid.")
        if request.headers.get("ocp-apim-subscription-key") != self.api_key:
            return _error(401, 401000, "The request is not authorized because credentials "
                                       "are missing or invalid.")
        if self.region and request.headers.get("ocp-apim-subscription-region") != self.region:
            return _error(401, 401015, "The region is missing or invalid.")
        target, source = request.query.get("to", ""), request.query.get("from", "")
        if target not in self.LANGUAGES:
            return _error(400, 400036, "The target language is not valid.")
        if source and source not in self.LANGUAGES:
            return _error(400, 400035, "The source language is not valid.")
        items = request.json()
        if not isinstance(items, list) or not all(isinstance(i, dict) and "Text" in i
                                                  for i in items):
            return _error(400, 400074, "The body of the request is not valid JSON.")
        if len(items) > 1000 or sum(len(i["Text"]) for i in items) > 50_000:
            return _error(400, 400077, "The maximum request size has been exceeded.")
        return _json(200, [{"translations": [{"text": _tag(target, i["Text"]), "to": target}]}
                           for i in items])

    def broken(self, answer: Answer, how: str) -> Answer:
        """An object instead of the array, or one element short."""
        payload = json.loads(answer[2])
        if how == "short":
            return _json(200, payload[:-1])
        return _json(200, {"translations": payload})

    def fault(self, status: int) -> Answer:
        """Microsoft's error body: `{"error": {"code", "message"}}` (a 403 is the free
        tier's quota, 403001)."""
        if status == 403:
            return _error(403, 403001, "The operation is not allowed because the "
                                       "subscription has exceeded its free quota.")
        return _error(status, status * 1000, "stand-in fault")


def _error(status: int, code: int, message: str) -> Answer:
    return _json(status, {"error": {"code": code, "message": message}})


class GoogleTranslationStandIn(TranslatorStandIn):
    """translation.googleapis.com v3 translateText, plus oauth2.googleapis.com/token."""

    MAX_TEXTS = 1024
    MAX_CODEPOINTS = 30_000
    LANGUAGES: ClassVar[frozenset[str]] = frozenset({
        "ar", "bn", "cs", "en", "es", "lt", "pa", "pl", "pt-PT", "pt-BR", "ro", "sk", "so",
        "uk", "ur", "vi", "zh-CN", "zh-TW"})

    def __init__(self, project: str = "riverside-school", api_key: str | None = None,
                 account_email: str | None = None, public_key: Any = None,
                 glossaries: frozenset[str] = frozenset(), slow_seconds: float = 2.0) -> None:
        super().__init__(slow_seconds)
        self.project, self.api_key = project, api_key
        self.account_email, self.public_key = account_email, public_key
        self.glossaries = glossaries
        self.tokens: list[str] = []

    @property
    def token_uri(self) -> str:
        """The OAuth token endpoint a service-account key file names."""
        return f"{self.url}/token"

    def is_translation(self, request: Request) -> bool:
        """Sign-ins are not translations."""
        return request.path != "/token"

    def texts_of(self, request: Request) -> list[str]:
        """The `contents` of the JSON body."""
        return list(request.json().get("contents", []))

    def answer(self, request: Request) -> Answer:
        """A token for a valid signed JWT, or the translateText answer."""
        if request.path == "/token":
            return self.sign_in(request)
        prefix = f"/v3/projects/{self.project}/locations/"
        if request.method != "POST" or not request.path.startswith(prefix) \
                or not request.path.endswith(":translateText"):
            return _gerror(404, "NOT_FOUND", "Requested entity was not found.")
        location = request.path[len(prefix):-len(":translateText")]
        if not self.authorised(request):
            return _gerror(403 if self.api_key else 401,
                           "PERMISSION_DENIED" if self.api_key else "UNAUTHENTICATED",
                           "The caller does not have permission")
        body = request.json()
        contents = body.get("contents")
        target, source = body.get("targetLanguageCode"), body.get("sourceLanguageCode")
        if not isinstance(contents, list) or not target:
            return _gerror(400, "INVALID_ARGUMENT", "Invalid request.")
        if len(contents) > self.MAX_TEXTS or sum(len(c) for c in contents) \
                > self.MAX_CODEPOINTS:
            return _gerror(400, "INVALID_ARGUMENT", "Text too long or too many contents.")
        if target not in self.LANGUAGES or (source and source not in self.LANGUAGES):
            return _gerror(400, "INVALID_ARGUMENT", "Target language is invalid.")
        out: dict[str, Any] = {"translations": [{"translatedText": _tag(target, c)}
                                                for c in contents]}
        glossary = (body.get("glossaryConfig") or {}).get("glossary")
        if glossary is not None:
            if glossary not in self.glossaries or f"/locations/{location}/" not in glossary:
                return _gerror(400, "INVALID_ARGUMENT", "Glossary not found.")
            out["glossaryTranslations"] = [{"translatedText": _tag(f"{target}+glossary", c),
                                            "glossaryConfig": {"glossary": glossary}}
                                           for c in contents]
        return _json(200, out)

    def authorised(self, request: Request) -> bool:
        """An API key (header or ?key=) or a token this stand-in issued."""
        if self.api_key and self.api_key in (request.headers.get("x-goog-api-key"),
                                             request.query.get("key")):
            return True
        bearer = request.headers.get("authorization", "")
        return bearer.startswith("Bearer ") and bearer[7:] in self.tokens

    def sign_in(self, request: Request) -> Answer:
        """RFC 7523: a JWT signed by the service account's key, for our audience and scope."""
        if request.form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _json(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(request.form.get("assertion", ""), self.public_key,
                                algorithms=["RS256"], audience=self.token_uri,
                                issuer=self.account_email)
        except (jwt.PyJWTError, ValueError, TypeError):
            return _json(400, {"error": "invalid_grant",
                               "error_description": "Invalid JWT Signature."})
        if "cloud-translation" not in claims.get("scope", "") \
                and "cloud-platform" not in claims.get("scope", ""):
            return _json(400, {"error": "invalid_scope"})
        token = f"ya29.standin-{len(self.tokens) + 1}"
        self.tokens.append(token)
        return _json(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def broken(self, answer: Answer, how: str) -> Answer:
        """`translations` holding plain strings, or one translation short."""
        payload = json.loads(answer[2])
        if how == "short":
            return _json(200, {k: v[:-1] for k, v in payload.items()})
        return _json(200, {"translations": [t["translatedText"]
                                            for t in payload["translations"]]})

    def fault(self, status: int) -> Answer:
        """Google's error body."""
        name = "RESOURCE_EXHAUSTED" if status == 429 else "INTERNAL"
        return _gerror(status, name, "stand-in fault")


def _gerror(status: int, name: str, message: str) -> Answer:
    return _json(status, {"error": {"code": status, "message": message, "status": name}})
