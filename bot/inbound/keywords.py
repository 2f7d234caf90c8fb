"""STOP, START and HELP sent as a whole message, on any channel, in every supported language.

A one-word message such as "Stop." (or "BAJA", "СТОП", "توقف", "退订") opts the guardian
out of the channel it came on, with exactly one confirmation sent on that same channel;
START (and YES, UNSTOP) opts back in; HELP (and INFO) answers with the school's name and
the key worker's. The inbound message stays in the contact log, marked 'handled', and is
not routed to staff as a reply.

YES and START (in any language: "TAK", "SÍ") only count as keywords while the guardian is
opted out of that channel: otherwise "Yes" is an answer (to an invitation, say) and goes to
the key worker. Confirmations are in the family's own language, from the catalog.
"""

from __future__ import annotations

import enum
import logging
import unicodedata
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy.orm import Session

from bot.outbound.consent import opt_in, opt_out
from bot.outbound.dispatch import dispatch
from bot.outbound.render import render
from bot.store.audit import audit
from bot.store.models import (
    Delivery,
    DeliveryStatus,
    Guardian,
    GuardianChannel,
    InboundMessage,
    InboundStatus,
    Message,
    MessageKind,
    School,
    Staff,
    Student,
    utcnow,
)
from translations import catalog_language, translations_for

log = logging.getLogger(__name__)


class Keyword(enum.StrEnum):
    """What a one-word message asks for."""

    STOP = "stop"
    START = "start"
    HELP = "help"


# The words families actually send, per language, as whole messages. Matching ignores case
# and accents ("rezygnuje" is REZYGNUJĘ, "odhlasit" is ODHLÁSIT), except for the words in
# EXACT: there the accents carry the meaning (Vietnamese "đúng", yes/right, loses its marks
# to "dung", which is also DỪNG without them), so only the accented form counts.
# Words that are also answers ("no", "nie", "não", "нет", "ні", "ne", "لا") are never here:
# saying no to an invitation must not opt anyone out.
STOP_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "en": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"),
    "ar": ("توقف", "إيقاف", "أوقف", "الغاء", "إلغاء", "إلغاء الاشتراك", "ستوب"),
    "bn": ("বন্ধ", "বন্ধ করুন", "বাতিল"),
    "cs": ("ODHLÁSIT", "ODHLÁSIT SE", "ZRUŠIT", "KONEC"),
    "es": ("BAJA", "PARAR", "ALTO", "CANCELAR", "DETENER", "DAR DE BAJA"),
    "lt": ("STABDYTI", "SUSTABDYTI", "ATSISAKYTI", "ATŠAUKTI"),
    "pa": ("ਬੰਦ", "ਬੰਦ ਕਰੋ", "ਰੋਕੋ"),
    "pl": ("REZYGNUJĘ", "REZYGNACJA", "WYPISZ", "WYPISZ MNIE", "ZATRZYMAJ"),
    "pt": ("PARAR", "SAIR", "CANCELAR", "DESCADASTRAR"),
    "ro": ("DEZABONARE", "DEZABONEAZĂ", "OPRIRE", "OPREȘTE", "ANULARE"),
    "sk": ("ODHLÁSIŤ", "ODHLÁSIŤ SA", "ZRUŠIŤ", "KONIEC"),
    "so": ("JOOJI", "JOOJI FARIIMAHA", "KA BAX"),
    "uk": ("СТОП", "ВІДПИСАТИСЯ", "ВІДПИСАТИСЬ", "ЗУПИНИТИ", "ПРИПИНИТИ", "ОТПИСАТЬСЯ"),
    "ur": ("بند", "بند کریں", "بند کرو", "روکیں", "منسوخ"),
    "vi": ("DỪNG", "NGỪNG", "HỦY", "HUỶ", "HỦY ĐĂNG KÝ", "HUỶ ĐĂNG KÝ"),
    "zh_Hans": ("退订", "停止", "取消订阅", "TD"),
}
START_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "en": ("START", "YES", "UNSTOP"),
    "ar": ("ابدأ", "نعم", "اشتراك"),
    "bn": ("শুরু", "হ্যাঁ"),
    "cs": ("ZAČÍT", "ANO"),
    "es": ("ALTA", "SÍ", "INICIAR", "COMENZAR"),
    "lt": ("PRADĖTI", "TAIP"),
    "pa": ("ਸ਼ੁਰੂ", "ਹਾਂ"),
    "pl": ("TAK", "WZNÓW"),
    "pt": ("SIM", "INICIAR", "VOLTAR"),
    "ro": ("DA", "ABONARE", "PORNIRE"),
    "sk": ("ZAČAŤ", "ÁNO"),
    "so": ("BILOW", "HAA"),
    "uk": ("СТАРТ", "ТАК", "ПОЧАТИ", "ДА"),
    "ur": ("شروع", "ہاں", "جی ہاں"),
    "vi": ("BẮT ĐẦU", "CÓ"),
    "zh_Hans": ("开始", "是", "订阅"),
}
HELP_BY_LANGUAGE: dict[str, tuple[str, ...]] = {
    "en": ("HELP", "INFO"),
    "ar": ("مساعدة",),
    "bn": ("সাহায্য",),
    "cs": ("POMOC", "NÁPOVĚDA"),
    "es": ("AYUDA",),
    "lt": ("PAGALBA",),
    "pa": ("ਮਦਦ",),
    "pl": ("POMOC",),
    "pt": ("AJUDA",),
    "ro": ("AJUTOR",),
    "sk": ("POMOC",),
    "so": ("CAAWIMAAD", "CAAWI"),
    "uk": ("ДОПОМОГА", "ПОМОЩЬ"),
    "ur": ("مدد",),
    "vi": ("TRỢ GIÚP", "GIÚP"),
    "zh_Hans": ("帮助",),
}
#: accents carry the meaning here: only the accented form is the keyword
EXACT = frozenset({"DỪNG", "NGỪNG", "HỦY", "HUỶ", "CÓ", "GIÚP", "TRỢ GIÚP", "BẮT ĐẦU"})
#: one-word answers in every supported language: never an opt-out, whatever the accents
ANSWERS = frozenset({
    "NO", "NIE", "NÃO", "NAO", "НЕТ", "НІ", "NE", "NU", "KHÔNG", "KHONG", "不", "不要", "لا",
    "نہیں", "না", "ਨਹੀਂ", "MAYA", "OK", "OKAY", "ĐÚNG", "DUNG", "HUY", "VÂNG",
})
# Arabic-script letters written two ways (Arabic and Urdu keyboards), read as one
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ـ": None,
                          "ł": "l", "Ł": "l", "đ": "d", "Đ": "d"})


def _exact(text: str) -> str:
    """Case folded, Unicode composed, spaces collapsed: the form EXACT words are matched in."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _folded(text: str) -> str:
    """Case and accents ignored: Latin and Cyrillic diacritics, Arabic vowel marks."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    bare = "".join(c for c in decomposed
                   if not ("\u0300" <= c <= "\u036f" or "\u064b" <= c <= "\u0670"
                           or c in "\u0654\u0655"))
    return " ".join(unicodedata.normalize("NFC", bare).casefold().split())


def _vocabulary(words: dict[str, tuple[str, ...]]) -> tuple[frozenset[str], frozenset[str]]:
    """(exact forms, folded forms) of one keyword's words in every language."""
    exact = {_exact(w) for ws in words.values() for w in ws if w in EXACT}
    folded = {_folded(w) for ws in words.values() for w in ws if w not in EXACT}
    folded.update(_folded(w.replace(" ", "")) for ws in words.values() for w in ws
                  if w not in EXACT and " " in w and w.isascii())  # "opt out", "KABAX"
    return frozenset(exact), frozenset(folded)


_ANSWER_FORMS = frozenset({_exact(a) for a in ANSWERS} | {_folded(a) for a in ANSWERS})
_KEYWORDS: tuple[tuple[Keyword, tuple[frozenset[str], frozenset[str]]], ...] = (
    (Keyword.STOP, _vocabulary(STOP_BY_LANGUAGE)),
    (Keyword.START, _vocabulary(START_BY_LANGUAGE)),
    (Keyword.HELP, _vocabulary(HELP_BY_LANGUAGE)),
)
STOP_WORDS = frozenset(w for ws in STOP_BY_LANGUAGE.values() for w in ws)
START_WORDS = frozenset(w for ws in START_BY_LANGUAGE.values() for w in ws)
HELP_WORDS = frozenset(w for ws in HELP_BY_LANGUAGE.values() for w in ws)
_LONGEST = max(len(w.split()) for w in STOP_WORDS | START_WORDS | HELP_WORDS)


def _wordy(char: str) -> bool:
    """Letters, digits and the marks that are part of a letter (Bengali, Punjabi vowels)."""
    return char.isalnum() or unicodedata.category(char).startswith("M")


def keyword_of(text: str) -> Keyword | None:
    """The keyword a whole message is, in any supported language ("Stop.", " baja!", "توقف",
    "بند کریں"); a sentence that merely contains one is a message for a person."""
    start, end = 0, len(text)
    while start < end and not _wordy(text[start]):
        start += 1
    while end > start and not _wordy(text[end - 1]):
        end -= 1
    core = text[start:end]
    if not core or len(core.split()) > _LONGEST:
        return None  # "stop it please" is a message for a person
    if " " not in " ".join(core.split()):
        core = "".join(c for c in core if _wordy(c))  # "opt-out" reads as OPTOUT
    exact, folded = _exact(core), _folded(core)
    for keyword, (exact_forms, _folded_forms) in _KEYWORDS:
        if exact in exact_forms:
            return keyword  # "DỪNG" with its accents
    if exact in _ANSWER_FORMS or folded in _ANSWER_FORMS:
        return None  # "No" / "Nie" / "Đúng" answer a question; they never opt out
    for keyword, (_exact_forms, folded_forms) in _KEYWORDS:
        if folded in folded_forms:
            return keyword
    return None


def handle_keyword(session: Session, inbound: InboundMessage, guardian: Guardian,
                   student: Student | None, staff: Staff | None, available: Collection[str],
                   now: datetime | None = None) -> bool:
    """Act on a keyword message from an identified guardian; False when it is not one."""
    word = keyword_of(inbound.body or "")
    if word is None:
        return False
    channel = inbound.channel
    state = session.get(GuardianChannel, (guardian.id, channel))
    blocked = state is not None and (state.opted_out_at is not None
                                     or state.failed_address == inbound.sender_address)
    if word is Keyword.START and not blocked:
        return False  # "Yes" to a question: a reply for the key worker, not a keyword
    now = now or utcnow()
    inbound.guardian_id = guardian.id
    inbound.student_id = student.id if student else None
    inbound.language = guardian.language
    inbound.status = InboundStatus.HANDLED
    audit(session, "system", f"keyword_{word.value}", "inbound", inbound.id, channel=channel)
    school = session.get(School, guardian.school_id)
    assert school is not None  # guardians.school_id is a non-null foreign key
    school_name = school.name
    _ = translations_for(catalog_language(guardian.language)).gettext
    if word is Keyword.STOP:
        if opt_out(session, guardian, channel, now=now):
            text = _stopped_text(_, channel).format(school=school_name)
            _confirm_on(session, guardian, school, channel, text, inbound, student, word,
                        now)
        log.info("inbound %s: guardian %s opted out of %s", inbound.id, guardian.id, channel)
    elif word is Keyword.START:
        opt_in(session, guardian, channel)
        _clear_failure(state, inbound.sender_address)
        text = _started_text(_, channel).format(school=school_name)
        _confirm_on(session, guardian, school, channel, text, inbound, student, word, now)
        log.info("inbound %s: guardian %s opted back in to %s", inbound.id, guardian.id,
                 channel)
    else:
        if staff is not None:
            text = _("This is {school}. To reach {name}, reply to this message and it will go "
                     "to them. To stop messages here, reply STOP.").format(
                         school=school_name, name=staff.name)
        else:
            text = _("This is {school}. Reply to this message and someone from the school "
                     "will answer. To stop messages here, reply STOP.").format(school=school_name)
        message = _system_message(guardian, student, text, inbound, word)
        session.add(message)
        dispatch(session, message, available, guardians=[guardian], prefer=channel,
                 not_before=now)
    return True


def _stopped_text(_: Callable[[str], str], channel: str) -> str:
    """Names the channel, so the text still reads right if it arrives another way."""
    if channel == "sms":
        return _("{school} will not send you any more text messages. "
                 "To get them again, text START.")
    if channel == "email":
        return _("{school} will not send you any more emails. To get them again, reply START.")
    if channel == "telegram":
        return _("{school} will not send you any more messages on Telegram. "
                 "To get them again, send START.")
    return _("{school} will not send you any more messages here. "
             "To get them again, reply START.")


def _started_text(_: Callable[[str], str], channel: str) -> str:
    """The START confirmation, naming the channel."""
    if channel == "sms":
        return _("You will get text messages from {school} again. To stop them, text STOP.")
    if channel == "email":
        return _("You will get emails from {school} again. To stop them, reply STOP.")
    if channel == "telegram":
        return _("You will get messages from {school} on Telegram again. "
                 "To stop them, send STOP.")
    return _("You will get messages from {school} here again. To stop them, reply STOP.")


def _clear_failure(state: GuardianChannel | None, address: str) -> None:
    """A message from the address proves it works: forget an earlier refusal of it."""
    if state is not None and state.failed_address == address:
        state.failed_address = None
        state.failed_at = None
        state.failed_reason = None


def _system_message(guardian: Guardian, student: Student | None, text: str,
                    inbound: InboundMessage, word: Keyword) -> Message:
    return Message(school_id=guardian.school_id, kind=MessageKind.SYSTEM,
                   student_id=student.id if student else None, source_text=text,
                   source_language=catalog_language(guardian.language),
                   details={"acknowledges": inbound.id, "keyword": word.value})


def _confirm_on(session: Session, guardian: Guardian, school: School, channel: str,
                text: str, inbound: InboundMessage, student: Student | None, word: Keyword,
                now: datetime) -> None:
    """Queue one confirmation on exactly this channel, even though it may be opted out.

    choose_channel skips an opted-out channel, so the row is written here directly: the
    guardian gets this one message where they asked, and nothing else there afterwards.
    """
    message = _system_message(guardian, student, text, inbound, word)
    session.add(message)
    session.flush()
    rendered = render(message, guardian, school)
    session.add(Delivery(
        message=message, guardian=guardian, channel=channel,
        address=guardian.address_for(channel) or inbound.sender_address,
        subject=rendered.subject, rendered_text=rendered.text, language=rendered.language,
        status=DeliveryStatus.QUEUED, next_attempt_at=now,
        idempotency_key=f"m{message.id}-g{guardian.id}-{channel}-1",
    ))
