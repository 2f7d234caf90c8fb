"""Reply language: detected among the school's languages, short replies keep the known one."""

from __future__ import annotations

import pytest
from lingua import Language

from bot.inbound import inbox, reply_language
from bot.inbound.reply_language import detect_reply_language, same_language
from bot.runtime.context import Context
from channels.sms import parse_inbound
from tests import factories as f

FAMILIES = {"en", "pl", "ar", "pt_BR", "ur", "so", "zh_Hans", "ps"}


@pytest.mark.parametrize("text", ["ok", "1", "tak", "2", "yes", "Tak, dziękuję", "👍",
                                  "ok +44 7700 900123"])
def test_short_replies_keep_the_guardians_language(text: str) -> None:
    assert detect_reply_language(text, "pl", FAMILIES) == "pl"


@pytest.mark.parametrize(("text", "guardian", "expected"), [
    ("شكرا جزيلا، سأحضر الاجتماع يوم الثلاثاء", "ar", "ar"),
    ("Thank you, I will come to the meeting on Tuesday", "pl", "en"),
    ("Dziękuję bardzo, przyjdę na spotkanie we wtorek", "en", "pl"),
    ("谢谢你，我星期二会来参加会议", "en", "zh_Hans"),
])
def test_language_is_detected_among_the_candidates(text: str, guardian: str,
                                                   expected: str) -> None:
    assert detect_reply_language(text, guardian, FAMILIES) == expected


def test_detected_language_comes_back_in_the_stored_spelling() -> None:
    text = "Obrigado pela mensagem, eu vou à reunião na terça-feira"
    assert detect_reply_language(text, "pt_BR", FAMILIES) == "pt_BR"
    assert detect_reply_language(text, "en", FAMILIES) == "pt_BR"


def test_detector_is_restricted_to_the_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[frozenset[Language]] = []
    real = reply_language._detector

    def spy(languages: frozenset[Language]) -> object:
        built.append(languages)
        return real(languages)

    monkeypatch.setattr(reply_language, "_detector", spy)
    spanish = "Hola, muchas gracias por la información, vendré el martes a la reunión"
    assert detect_reply_language(spanish, "pl", {"en", "pl", "ps"}) != "es"
    assert built == [frozenset({Language.ENGLISH, Language.POLISH})]  # 'ps': no model


def test_unsure_detection_keeps_the_guardians_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reply_language, "MIN_CONFIDENCE", 1.01)
    text = "Thank you, I will come to the meeting on Tuesday"
    assert detect_reply_language(text, "pl", FAMILIES) == "pl"


def test_one_candidate_needs_no_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reply_language, "_detector", None)  # would fail if called
    assert detect_reply_language("Dziękuję bardzo, przyjdę we wtorek", "pl", {"pl"}) == "pl"


def test_same_language_ignores_region() -> None:
    assert same_language("en", "en_GB") and same_language("pt-BR", "pt")
    assert not same_language("en", "pl")


def test_inbox_stores_the_detected_language(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        child = f.student(s, school, teacher)
        f.guardian(s, school, child, language="pl", phone="+447700900201")
        f.guardian(s, school, None, language="ar", phone="+447700900202")
    replies = {"SM1": ("+447700900201", "tak", "pl"),
               "SM2": ("+447700900201", "Thank you, I will come to the meeting on Tuesday",
                       "en"),
               "SM3": ("+447700900201", "شكرا جزيلا، سأحضر الاجتماع يوم الثلاثاء", "ar")}
    for sid, (sender, body, expected) in replies.items():
        parsed = parse_inbound({"From": sender, "Body": body, "MessageSid": sid})
        row = inbox.receive(ctx.factory, parsed, {"sms", "email"})
        assert row.language == expected, body


def test_warm_up_builds_the_detector_the_first_reply_uses(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        f.guardian(s, school, f.student(s, school, teacher), language="pl",
                   phone="+447700900321")
        f.guardian(s, school, f.student(s, school, teacher), language="so")
    reply_language._detector.cache_clear()
    assert reply_language.warm_up(ctx.factory) == 1
    built = reply_language._detector.cache_info().misses
    parsed = parse_inbound({"From": "+447700900321", "MessageSid": "SM" + "a" * 32,
                            "Body": "Dzień dobry, czy możemy przełożyć spotkanie na wtorek?"})
    row = inbox.receive(ctx.factory, parsed, {"sms", "email"})
    assert row.language == "pl"
    assert reply_language._detector.cache_info().misses == built  # nothing built on the reply


def test_warm_up_has_nothing_to_load_when_everyone_uses_one_language(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        f.guardian(s, school, f.student(s, school, f.staff(s, school)), language="en")
    assert reply_language.warm_up(ctx.factory) == 0
