"""Google service-account sign-in (OAuth 2.0 JWT bearer grant, RFC 7523): a JWT signed
with the key file's private key is exchanged at the key file's token_uri for an access
token, kept until a minute before it expires. Tokens last an hour, so a worker that runs
for weeks signs in again by itself; no Google SDK needed (pyjwt signs, httpx asks).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from translations.machine.base import TranslationError

SCOPE = "https://www.googleapis.com/auth/cloud-translation"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class ServiceAccount:
    """Access tokens for one service account, from its JSON key file."""

    def __init__(self, key: dict[str, Any]) -> None:
        try:
            self.email = str(key["client_email"])
            self.private_key = str(key["private_key"])
            self.token_uri = str(key.get("token_uri") or "https://oauth2.googleapis.com/token")
        except KeyError as exc:
            raise ValueError(f"the service-account key file has no {exc.args[0]!r}: download "
                             "a JSON key for the service account from the Google Cloud "
                             "console") from None
        self.key_id = key.get("private_key_id")
        self.project = key.get("project_id")
        self.token: str | None = None
        self.expires = 0.0

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceAccount:
        """Read a service-account JSON key (ValueError saying what is wrong otherwise)."""
        try:
            key = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"cannot read the service-account key file {str(path)!r}: "
                             f"{exc.strerror}") from None
        except ValueError:
            raise ValueError(f"{str(path)!r} is not a JSON key file") from None
        if not isinstance(key, dict) or key.get("type") != "service_account":
            raise ValueError(f"{str(path)!r} is not a service-account key (type must be "
                             "'service_account')")
        return cls(key)

    def assertion(self, now: float) -> str:
        """The signed JWT asking for a Cloud Translation token."""
        claims = {"iss": self.email, "scope": SCOPE, "aud": self.token_uri,
                  "iat": int(now), "exp": int(now) + 3600}
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)

    async def access_token(self, client: httpx.AsyncClient) -> str:
        """A valid access token, asking the token endpoint only when the last one is old."""
        now = time.time()
        if self.token and now < self.expires - 60:
            return self.token
        try:
            assertion = self.assertion(now)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise TranslationError("Google sign-in failed: the service-account key file's "
                                   "private_key cannot sign; download a new JSON key") from exc
        try:
            response = await client.post(self.token_uri, data={"grant_type": GRANT,
                                                               "assertion": assertion})
        except httpx.TimeoutException as exc:
            raise TranslationError("Google sign-in did not answer in time; will retry") \
                from exc
        except httpx.HTTPError as exc:
            raise TranslationError(f"Google sign-in unreachable ({type(exc).__name__})") \
                from exc
        if response.status_code != 200:
            raise TranslationError(
                f"Google refused the service account's sign-in (HTTP {response.status_code}): "
                "check SCHOOLGATE_TRANSLATION_CREDENTIALS_FILE is a current key of an enabled "
                "service account", status=response.status_code)
        try:
            body = response.json()
            token, lifetime = str(body["access_token"]), float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            raise TranslationError("Google sign-in answered in a shape we do not know") \
                from exc
        self.token, self.expires = token, now + lifetime
        return token
