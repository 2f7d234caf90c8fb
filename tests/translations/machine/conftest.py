"""Each cloud backend beside its running stand-in, built the way a school configures it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.standins.translators import (
    DeepLStandIn,
    GoogleTranslationStandIn,
    MicrosoftTranslatorStandIn,
    TranslatorStandIn,
)
from translations.machine import (
    DeepL,
    GoogleCloudTranslation,
    HttpTranslator,
    MicrosoftTranslator,
    ServiceAccount,
)

DEEPL_KEY = "0f3c9a2e-7b1d-4c55-9e0a-6d2f1b8c4a77:fx"
MS_KEY = "ms-key-93ab5c0d"
MS_REGION = "westeurope"
GOOGLE_KEY = "AIzaSyStandInKey-4b9e1f"
PROJECT = "riverside-school"
ACCOUNT = "schoolgate@riverside-school.iam.gserviceaccount.com"


@dataclass
class Backend:
    """A stand-in and a client pointed at it; `make` builds another client (other key,
    other timeout)."""

    name: str
    server: TranslatorStandIn
    make: Callable[..., HttpTranslator]

    @property
    def client(self) -> HttpTranslator:
        """A client with the right credentials."""
        return self.make()


def rsa_key() -> tuple[str, Any]:
    """A fresh RSA private key (PEM) and its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


def key_file(tmp_path: Path, pem: str, token_uri: str) -> Path:
    """A service-account JSON key file as the Google Cloud console writes it."""
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "a1b2c3",
        "private_key": pem, "client_email": ACCOUNT, "client_id": "1234567890",
        "token_uri": token_uri}))
    return path


@pytest.fixture(params=["deepl", "microsoft", "google-key", "google-account"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each cloud backend in turn (Google both with an API key and a service account)."""
    name = str(request.param)
    if name == "deepl":
        with DeepLStandIn(api_key=DEEPL_KEY, slow_seconds=1.5) as deepl:
            yield Backend(name, deepl, lambda key=DEEPL_KEY, timeout=5.0: DeepL(
                key, url=deepl.url, timeout=timeout))
    elif name == "microsoft":
        with MicrosoftTranslatorStandIn(api_key=MS_KEY, region=MS_REGION,
                                        slow_seconds=1.5) as ms:
            yield Backend(name, ms, lambda key=MS_KEY, timeout=5.0: MicrosoftTranslator(
                key, MS_REGION, url=ms.url, timeout=timeout))
    elif name == "google-key":
        with GoogleTranslationStandIn(PROJECT, api_key=GOOGLE_KEY, slow_seconds=1.5) as g:
            yield Backend(name, g, lambda key=GOOGLE_KEY, timeout=5.0: GoogleCloudTranslation(
                PROJECT, api_key=key, url=g.url, timeout=timeout))
    else:
        pem, public = rsa_key()
        with GoogleTranslationStandIn(PROJECT, account_email=ACCOUNT, public_key=public,
                                      slow_seconds=1.5) as g:
            path = key_file(tmp_path, pem, g.token_uri)

            def make(key: str | None = None, timeout: float = 5.0) -> HttpTranslator:
                account = ServiceAccount.from_file(path)
                if key is not None:  # "a wrong key": a key file signed by another key
                    account.private_key = rsa_key()[0]
                return GoogleCloudTranslation(PROJECT, account=account, url=g.url,
                                              timeout=timeout)

            yield Backend(name, g, make)
