"""The backend a school's settings choose, built with what that service needs, and the
settings that cannot work refused at start-up with the variable to fix."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.errors import ConfigurationError
from tests.standins.translators import DeepLStandIn, GoogleTranslationStandIn
from tests.translations.machine.conftest import ACCOUNT, DEEPL_KEY, PROJECT, key_file, rsa_key
from translations.machine import (
    DeepL,
    GoogleCloudTranslation,
    LibreTranslate,
    MicrosoftTranslator,
    build_translator,
)


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_none_means_no_machine_translation() -> None:
    assert build_translator(_settings()) is None


def test_each_backend_is_built_from_its_settings(tmp_path: Path) -> None:
    lt = build_translator(_settings(translation_backend="libretranslate",
                                    translation_url="http://127.0.0.1:5000"))
    assert isinstance(lt, LibreTranslate) and lt.url == "http://127.0.0.1:5000"
    deepl = build_translator(_settings(translation_backend="deepl",
                                       translation_api_key=DEEPL_KEY,
                                       translation_glossary="pl=g1"))
    assert isinstance(deepl, DeepL)
    assert (deepl.url, deepl.glossaries) == ("https://api-free.deepl.com", {"pl": "g1"})
    ms = build_translator(_settings(translation_backend="microsoft", translation_api_key="k",
                                    translation_region="uksouth", translation_timeout=7))
    assert isinstance(ms, MicrosoftTranslator)
    assert (ms.region, ms.timeout) == ("uksouth", 7)
    google = build_translator(_settings(translation_backend="google", translation_api_key="k",
                                        translation_project="p",
                                        translation_location="europe-west1"))
    assert isinstance(google, GoogleCloudTranslation)
    assert (google.project, google.location, google.api_key) == ("p", "europe-west1", "k")


def test_google_service_account_gives_the_project_and_translates(tmp_path: Path) -> None:
    pem, public = rsa_key()
    with GoogleTranslationStandIn(PROJECT, account_email=ACCOUNT, public_key=public) as g:
        settings = _settings(translation_backend="google", translation_url=g.url,
                             translation_credentials_file=str(
                                 key_file(tmp_path, pem, g.token_uri))).check()
        client = build_translator(settings)
        assert isinstance(client, GoogleCloudTranslation) and client.project == PROJECT
        assert asyncio.run(client.translate_batch(["Hello"], "en", "pl")) == ["<pl> Hello"]


def test_deepl_through_settings_pointed_at_the_stand_in() -> None:
    with DeepLStandIn(api_key=DEEPL_KEY) as deepl:
        client = build_translator(_settings(translation_backend="deepl",
                                            translation_api_key=DEEPL_KEY,
                                            translation_url=deepl.url).check())
        assert client is not None
        assert asyncio.run(client.translate_batch(["Hello"], "en", "pt_BR")) \
            == ["<PT-BR> Hello"]


@pytest.mark.parametrize(("values", "problem"), [
    ({"translation_backend": "deepl"}, "SCHOOLGATE_TRANSLATION_API_KEY"),
    ({"translation_backend": "microsoft", "translation_api_key": "changeme"},
     "SCHOOLGATE_TRANSLATION_API_KEY"),
    ({"translation_backend": "google", "translation_project": "p"},
     "SCHOOLGATE_TRANSLATION_API_KEY or SCHOOLGATE_TRANSLATION_CREDENTIALS_FILE"),
    ({"translation_backend": "google", "translation_api_key": "k"},
     "SCHOOLGATE_TRANSLATION_PROJECT"),
    ({"translation_backend": "google", "translation_credentials_file": "/nowhere.json"},
     "SCHOOLGATE_TRANSLATION_CREDENTIALS_FILE is not a file"),
])
def test_settings_that_cannot_work_are_refused(values: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        _settings(**values).check()
