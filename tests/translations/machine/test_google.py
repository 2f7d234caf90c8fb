"""Google Cloud Translation v3: the project and location in the path, Google's language
codes, glossaries (their translations used), batches of 1,024 texts or 30,000 code
points, and the service-account sign-in (one token reused, a new one when refused)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.standins.translators import GoogleTranslationStandIn
from tests.translations.machine.conftest import ACCOUNT, GOOGLE_KEY, PROJECT, key_file, rsa_key
from translations.machine import GoogleCloudTranslation, ServiceAccount, TranslationError
from translations.machine.google import API_URL, google_code


def _run(client: GoogleCloudTranslation, *batches: list[str], target: str = "pl"
         ) -> list[list[str]]:
    async def go() -> list[list[str]]:
        try:
            return [await client.translate_batch(b, "en", target) for b in batches]
        finally:
            await client.close()

    return asyncio.run(go())


def test_public_api_host_by_default_and_a_key_or_account_required() -> None:
    assert GoogleCloudTranslation(PROJECT, api_key="k").url == API_URL
    with pytest.raises(ValueError, match="API key or a service account"):
        GoogleCloudTranslation(PROJECT)


def test_location_is_in_the_path() -> None:
    with GoogleTranslationStandIn(PROJECT, api_key=GOOGLE_KEY) as g:
        _run(GoogleCloudTranslation(PROJECT, "europe-west1", api_key=GOOGLE_KEY, url=g.url),
             ["Hello"])
    [request] = g.translation_requests()
    assert request.path == f"/v3/projects/{PROJECT}/locations/europe-west1:translateText"
    assert request.headers["x-goog-api-key"] == GOOGLE_KEY


@pytest.mark.parametrize(("locale", "code"), [
    ("zh_Hans", "zh-CN"), ("zh_Hant", "zh-TW"), ("pt", "pt-PT"), ("pt_BR", "pt-BR"),
    ("ur_PK", "ur"), ("pa", "pa")])
def test_languages_take_googles_codes(locale: str, code: str) -> None:
    assert google_code(locale) == code
    with GoogleTranslationStandIn(PROJECT, api_key=GOOGLE_KEY) as g:
        client = GoogleCloudTranslation(PROJECT, api_key=GOOGLE_KEY, url=g.url)
        assert _run(client, ["Hello"], target=locale) == [[f"<{code}> Hello"]]


def test_glossary_translations_are_the_ones_used() -> None:
    name = f"projects/{PROJECT}/locations/us-central1/glossaries/school-terms"
    with GoogleTranslationStandIn(PROJECT, api_key=GOOGLE_KEY,
                                  glossaries=frozenset({name})) as g:
        client = GoogleCloudTranslation(PROJECT, "us-central1", api_key=GOOGLE_KEY,
                                        url=g.url, glossaries={"*": "school-terms"})
        assert _run(client, ["Parents' evening"]) == [["<pl+glossary> Parents' evening"]]
    assert g.translation_requests()[0].json()["glossaryConfig"] == {"glossary": name}


def test_batch_is_split_by_count_and_code_points() -> None:
    many = [f"n{i}" for i in range(1025)]
    long = ["é" * 16_000] * 2
    with GoogleTranslationStandIn(PROJECT, api_key=GOOGLE_KEY) as g:
        client = GoogleCloudTranslation(PROJECT, api_key=GOOGLE_KEY, url=g.url)
        [a, b] = _run(client, many, long)
    assert (len(a), len(b)) == (1025, 2)
    assert [len(r.json()["contents"]) for r in g.translation_requests()] == [1024, 1, 1, 1]


def test_service_account_signs_in_once_and_again_when_refused(tmp_path: Path) -> None:
    pem, public = rsa_key()
    with GoogleTranslationStandIn(PROJECT, account_email=ACCOUNT, public_key=public) as g:
        account = ServiceAccount.from_file(key_file(tmp_path, pem, g.token_uri))
        client = GoogleCloudTranslation(PROJECT, account=account, url=g.url)
        _run(client, ["One"], ["Two"])
        assert len(g.tokens) == 1  # the second request reused the token
        assert {r.headers["authorization"] for r in g.translation_requests()} \
            == {f"Bearer {g.tokens[0]}"}
        g.tokens.clear()  # Google revoked it
        client = GoogleCloudTranslation(PROJECT, account=account, url=g.url)
        with pytest.raises(TranslationError, match="answered 401"):
            _run(client, ["Three"])
        client = GoogleCloudTranslation(PROJECT, account=account, url=g.url)
        assert _run(client, ["Three"]) == [["<pl> Three"]]
    sign_ins = [r for r in g.requests if r.path == "/token"]
    assert len(sign_ins) == 2
    assert pem not in json.dumps([r.form for r in sign_ins])  # a signature, never the key


@pytest.mark.parametrize(("content", "why"), [
    ("not json", "not a JSON key file"),
    ('{"type": "authorized_user"}', "not a service-account key"),
    ('{"type": "service_account", "client_email": "x@y"}', "no 'private_key'")])
def test_bad_key_file_is_refused_with_what_is_wrong(tmp_path: Path, content: str,
                                                    why: str) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=why):
        ServiceAccount.from_file(path)
    with pytest.raises(ValueError, match="cannot read"):
        ServiceAccount.from_file(tmp_path / "missing.json")
