"""What every machine-translation backend shares: the error callers act on, batching by
each service's limits, and one place that turns an HTTP answer into that error.

Errors say what a school's administrator does next, in plain words, and never carry the
text sent or the key: a vendor's own message is kept only when it holds neither.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

log = logging.getLogger(__name__)


class TranslationError(Exception):
    """The backend could not translate now; the caller retries later (not before
    `retry_after` seconds when the service said how long to wait)."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class Translator(ABC):
    """Translates a batch of texts from one language to another."""

    name: ClassVar[str]

    @abstractmethod
    async def translate_batch(self, texts: Sequence[str], source: str,
                              target: str) -> list[str]:
        """Translations of `texts`, in the same order."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def backend_code(locale: str) -> str:
    """The bare language: 'pt_BR' -> 'pt', 'zh_Hans' -> 'zh', 'en-GB' -> 'en'."""
    return locale.replace("-", "_").split("_")[0].lower()


def locale_parts(locale: str) -> tuple[str, str]:
    """('pt', 'BR') for 'pt_BR' or 'pt-br'; ('zh', 'Hans') for 'zh_Hans'; ('pl', '') for 'pl'."""
    parts = locale.replace("-", "_").split("_")
    rest = parts[1] if len(parts) > 1 else ""
    return parts[0].lower(), (rest.title() if len(rest) == 4 else rest.upper())


def batches(texts: Sequence[str], max_texts: int, max_size: int,
            size: Any = len) -> Iterator[list[str]]:
    """`texts` in order, cut so no request holds more than `max_texts` texts or `max_size`
    in total (a single text larger than that goes alone; the service decides)."""
    chunk: list[str] = []
    used = 0
    for text in texts:
        n = size(text)
        if chunk and (len(chunk) >= max_texts or used + n > max_size):
            yield chunk
            chunk, used = [], 0
        chunk.append(text)
        used += n
    if chunk:
        yield chunk


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the service asked us to wait (Retry-After: seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def glossary_for(glossaries: Mapping[str, str], target: str) -> str | None:
    """The glossary configured for `target` ('pl', 'pt_BR' ...), or the one for every
    language ('*'), or None."""
    for key in (target, target.replace("-", "_"), backend_code(target), "*"):
        if key in glossaries:
            return glossaries[key]
    return None


def parse_glossaries(value: str | None) -> dict[str, str]:
    """'pl=abc, es=def' -> {'pl': 'abc', 'es': 'def'}; a bare 'abc' -> {'*': 'abc'}."""
    out: dict[str, str] = {}
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        language, sep, glossary = item.partition("=")
        if sep:
            out[language.strip()] = glossary.strip()
        else:
            out["*"] = item
    return out


class HttpTranslator(Translator):
    """A service reached over HTTPS with httpx: subclasses build one request per batch and
    read its answer; timeouts, batching and error mapping live here, once."""

    #: the service's name in messages
    label: ClassVar[str]
    #: the service's documented limits per request
    max_texts: ClassVar[int]
    max_size: ClassVar[int]
    #: what an administrator checks when the service refuses our credentials
    auth_hint: ClassVar[str]

    def __init__(self, url: str, timeout: float = 20.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport)
        self.requests = 0  # HTTP requests made for translations, for figures and tests

    def size(self, text: str) -> int:
        """How the service counts a text against `max_size` (characters by default)."""
        return len(text)

    async def translate_batch(self, texts: Sequence[str], source: str,
                              target: str) -> list[str]:
        """Translate in as few requests as the service's limits allow, in order."""
        out: list[str] = []
        for chunk in batches(list(texts), self.max_texts, self.max_size, self.size):
            answer = await self.translate_chunk(chunk, source, target)
            if len(answer) != len(chunk):
                raise TranslationError(f"{self.label} returned {len(answer)} translations "
                                       f"for {len(chunk)} texts")
            out += answer
        return out

    @abstractmethod
    async def translate_chunk(self, texts: list[str], source: str,
                              target: str) -> list[str]:
        """One request: translations of `texts` (within the service's limits)."""

    async def send(self, method: str, url: str, sent: Sequence[str] = (),
                   secrets: Sequence[str | None] = (), **kwargs: Any) -> Any:
        """Make one request and return its JSON answer, or raise the one TranslationError
        that says what happened. `sent` and `secrets` never appear in the error."""
        self.requests += 1
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise TranslationError(f"{self.label} did not answer within {self.timeout:g} s; "
                                   "will retry") from exc
        except httpx.HTTPError as exc:
            raise TranslationError(f"{self.label} unreachable ({type(exc).__name__}); "
                                   "check the service's address and the network") from exc
        if response.status_code >= 400:
            raise self.refusal(response, [*sent, *(s for s in secrets if s)])
        try:
            return response.json()
        except ValueError as exc:
            raise TranslationError(f"{self.label} answered with something that is not JSON "
                                   f"(status {response.status_code})") from exc

    def refusal(self, response: httpx.Response, private: Sequence[str]) -> TranslationError:
        """The error for a failed answer, named for what to do next."""
        status = response.status_code
        detail = self.vendor_detail(response)
        if detail and any(p and p in detail for p in private):
            detail = ""  # the service echoed what we sent: keep it out of errors and logs
        said = f": {detail[:200]}" if detail else ""
        if status == 429:
            wait = retry_after(response.headers)
            when = f"; will retry in {wait:g} s" if wait is not None else "; will retry"
            return TranslationError(f"{self.label} answered 429: it is limiting requests{when}",
                                    retry_after=wait, status=status)
        special = self.special(response)
        if special:
            return TranslationError(f"{self.label} answered {status}: {special}", status=status,
                                    retry_after=retry_after(response.headers))
        if status in (401, 403):
            return TranslationError(f"{self.label} answered {status}: it refused our "
                                    f"credentials; {self.auth_hint}{said}", status=status)
        if status >= 500:
            return TranslationError(f"{self.label} answered {status}: it is having "
                                    f"trouble; will retry{said}", status=status,
                                    retry_after=retry_after(response.headers))
        return TranslationError(f"{self.label} answered {status}: it refused the "
                                    f"request{said}",
                                status=status)

    def vendor_detail(self, response: httpx.Response) -> str:
        """The service's own words about a failure, from its error body."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if isinstance(body, dict):
            error = body.get("error", body.get("message", ""))
            if isinstance(error, dict):
                return str(error.get("message", ""))
            return str(error)
        return ""

    def special(self, response: httpx.Response) -> str:
        """A plain-words explanation for a failure the service documents, or ''."""
        return ""

    def malformed(self) -> TranslationError:
        """The error for an answer in a shape the service does not document."""
        return TranslationError(f"{self.label} answered in a shape we do not know; "
                                "check the service's address")

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self.client.aclose()

