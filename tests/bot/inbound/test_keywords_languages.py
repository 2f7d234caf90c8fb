"""STOP in every supported language: the word a family of that language sends opts them out
on SMS with a confirmation in their language; a sentence that contains the word, or a word
that is also an answer ("no", "nie", "нет"), goes to a person and opts nobody out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.inbound import inbox
from bot.inbound.keywords import (
    ANSWERS,
    HELP_BY_LANGUAGE,
    START_BY_LANGUAGE,
    STOP_BY_LANGUAGE,
    Keyword,
    keyword_of,
)
from bot.runtime.context import Context
from bot.store.models import Delivery, GuardianChannel, InboundStatus
from channels.sms import parse_inbound
from tests import factories as f
from translations import available, translations_for

ALL = {"sms", "email", "telegram"}
PHONE = "+447700900123"
STOPPED = ("{school} will not send you any more text messages. "
           "To get them again, text START.")
_sids = iter(range(10_000))

# language: (what a family sends to stop, a sentence with that word for a person, "no")
CASES: dict[str, tuple[str, str, str]] = {
    "en": ("Stop", "Please do not stop the reading club", "No"),
    "ar": ("توقف", "لماذا توقف نادي القراءة؟", "لا"),
    "bn": ("বন্ধ করুন", "কাল কি স্কুল বন্ধ থাকবে?", "না"),
    "cs": ("Odhlásit", "Jak mám odhlásit obědy na pátek?", "Ne"),
    "es": ("BAJA", "Mi hija está de baja hoy, está enferma", "No"),
    "lt": ("Stabdyti", "Ar reikia stabdyti būrelį per atostogas?", "Ne"),
    "pa": ("ਬੰਦ ਕਰੋ", "ਕੀ ਕੱਲ੍ਹ ਸਕੂਲ ਬੰਦ ਹੈ?", "ਨਹੀਂ"),
    "pl": ("Rezygnuję", "Nie rezygnuję z kółka, syn przyjdzie w piątek", "Nie"),
    "pt": ("Parar", "Ela quer parar o futebol depois das aulas?", "Não"),
    "ro": ("Dezabonare", "Cum fac dezabonare de la cantină?", "Nu"),
    "sk": ("ODHLÁSIŤ", "Chcem odhlásiť syna z obeda v piatok", "Nie"),
    "so": ("Jooji", "Fadlan ha jooji casharka gabadhayda", "Maya"),
    "uk": ("СТОП", "Стоп, я переплутала день, ми прийдемо в середу", "Ні"),
    "ur": ("بند کریں", "کیا کل اسکول بند ہے؟", "نہیں"),
    "vi": ("DỪNG", "Con tôi muốn dừng học bơi", "Không"),
    "zh_Hans": ("退订", "我不想退订，只是换个号码", "不"),
}


def _sms(body: str) -> object:
    return parse_inbound({"From": PHONE, "Body": body, "MessageSid": f"SM{next(_sids):032d}"})


def _family(ctx: Context, language: str) -> int:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher)
        return f.guardian(s, school, child, phone=PHONE,
                          language=ROSTER.get(language, language)).id


def _opted_out(ctx: Context, guardian_id: int) -> bool:
    with ctx.factory() as s:
        state = s.get(GuardianChannel, (guardian_id, "sms"))
        return state is not None and state.opted_out_at is not None


#: the locale a roster gives these families (Portuguese-speaking families here are Brazilian)
ROSTER = {"pt": "pt_BR"}


def test_every_supported_language_has_its_words() -> None:
    for folder in available():  # pt_BR and pt_PT are both served by the Portuguese words
        assert any(folder == k or folder.startswith(k + "_") for k in CASES), folder
    for table in (STOP_BY_LANGUAGE, START_BY_LANGUAGE, HELP_BY_LANGUAGE):
        assert set(table) == set(CASES)


@pytest.mark.parametrize("language", sorted(CASES))
def test_the_familys_own_stop_word_opts_out_on_sms(ctx: Context, language: str) -> None:
    word = CASES[language][0]
    guardian_id = _family(ctx, language)
    row = inbox.receive(ctx.factory, _sms(word), ALL)  # type: ignore[arg-type]
    assert row.status == InboundStatus.HANDLED and row.routed_to_id is None
    assert _opted_out(ctx, guardian_id)
    with ctx.factory() as s:
        [confirmation] = s.scalars(select(Delivery)).all()
        school = ctx.school(s).name
    assert confirmation.channel == "sms"
    expected = translations_for(ROSTER.get(language, language)).gettext(STOPPED).format(
        school=school)
    assert confirmation.rendered_text == expected  # in the family's language
    if language != "en":
        assert confirmation.rendered_text != STOPPED.format(school=school)


@pytest.mark.parametrize("language", sorted(CASES))
def test_a_sentence_with_the_stop_word_goes_to_a_person(ctx: Context, language: str) -> None:
    sentence = CASES[language][1]
    guardian_id = _family(ctx, language)
    row = inbox.receive(ctx.factory, _sms(sentence), ALL)  # type: ignore[arg-type]
    assert row.status == InboundStatus.ROUTED and row.routed_to_id is not None
    assert not _opted_out(ctx, guardian_id)


@pytest.mark.parametrize("language", sorted(CASES))
def test_no_in_the_familys_language_never_opts_out(ctx: Context, language: str) -> None:
    no = CASES[language][2]
    guardian_id = _family(ctx, language)
    row = inbox.receive(ctx.factory, _sms(no), ALL)  # type: ignore[arg-type]
    assert row.status == InboundStatus.ROUTED
    assert not _opted_out(ctx, guardian_id)


@pytest.mark.parametrize(("text", "expected"), [
    ("baja", Keyword.STOP), ("¡Baja!", Keyword.STOP), ("parar.", Keyword.STOP),
    ("ALTO", Keyword.STOP), ("stop", Keyword.STOP), ("стоп", Keyword.STOP),
    ("Відписатися", Keyword.STOP), ("rezygnuje", Keyword.STOP),  # typed without Ę
    ("WYPISZ", Keyword.STOP), ("wypisz mnie", Keyword.STOP), ("SAIR", Keyword.STOP),
    ("dezaboneaza", Keyword.STOP), ("odhlasit", Keyword.STOP), ("Atsisakyti", Keyword.STOP),
    ("إيقاف", Keyword.STOP), ("ايقاف", Keyword.STOP), ("تَوَقَّفْ", Keyword.STOP),
    ("停止", Keyword.STOP), ("TD", Keyword.STOP), ("jooji!", Keyword.STOP),
    ("huỷ", Keyword.STOP), ("Hủy đăng ký", Keyword.STOP), ("بند", Keyword.STOP),
    ("ayuda", Keyword.HELP), ("Pomoc", Keyword.HELP), ("帮助", Keyword.HELP),
    ("Tak", Keyword.START), ("Sí", Keyword.START),
    # answers, names and sentences: never keywords
    ("Dung", None), ("Đúng", None), ("Huy", None), ("nie", None), ("нет", None),
    ("não", None), ("OK", None), ("Baja la fiebre, gracias", None),
    ("Proszę, wypisz mnie z listy", None), ("stop it please", None),
])
def test_keyword_of_in_many_languages(text: str, expected: Keyword | None) -> None:
    assert keyword_of(text) is expected


def test_no_answer_is_also_a_keyword() -> None:
    for answer in ANSWERS:
        assert keyword_of(answer) is None, answer
