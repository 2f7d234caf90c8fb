"""Read a parent's reply to a meeting invitation: which time, yes, no, or another time.

The parser only answers when the reply is clear. Anything it is unsure of (a number that
is not an option, two options, yes and no together, yes when there are several times, a
hedge such as "maybe", a question, a number that reads as a clock time, a long message)
comes back as "unsure" so the key worker reads it; it never guesses.

Replies are matched against the family's language plus English (parents often answer in
English), after NFKC normalisation, case folding and punctuation removal. Latin-script
languages are also matched without accents ("nie moge", "alta zi"); Vietnamese is not,
because its tone marks tell words apart ("có" is yes, "cô" is "Miss").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

RsvpKind = Literal["slot", "yes", "no", "other_time", "unsure"]

# A longer message deserves a person's reading even when it holds a clear signal.
MAX_CHARS = 160


@dataclass(frozen=True)
class Rsvp:
    """What a reply to an invitation says; `reason` is a short note for the key worker."""

    kind: RsvpKind
    slot: int | None
    reason: str


# Word lists, per language. "yes", "no" and "other" are answers; "hedge" words ("maybe",
# "I don't know") make any answer unsure; "neutral" phrases hide a signal word inside a
# greeting (Chinese 你好 holds 好, "good"). Longer phrases win over the words inside them,
# so "can't make it" is another time and not a bare "can't".
WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "yes": ("yes", "yeah", "yep", "yup", "ok", "okay", "sure", "fine", "good", "great",
                "perfect", "confirm", "confirmed", "agree", "agreed", "works", "will come",
                "ill come", "ill be there", "see you", "no problem", "thats fine"),
        "no": ("no", "nope", "not", "cant", "cannot", "wont", "dont", "doesnt", "isnt",
               "unable", "decline", "no thanks", "no thank you"),
        "other": ("another time", "another day", "another date", "other time", "other day",
                  "different time", "different day", "different date", "cant make it",
                  "cannot make it", "can not make it", "cant come", "cannot come", "none",
                  "none of these", "none of them", "reschedule", "rearrange"),
        "hedge": ("maybe", "perhaps", "possibly", "probably", "not sure", "unsure",
                  "dont know", "might", "no idea"),
    },
    "pl": {
        "yes": ("tak", "dobrze", "pasuje", "zgoda", "potwierdzam", "będę", "jasne", "ok"),
        "no": ("nie", "nie mogę", "nie będę", "nie pasuje", "nie dam rady"),
        "other": ("inny termin", "innym terminie", "innego terminu", "inny dzień",
                  "innego dnia", "inna godzina", "inną godzinę", "innej godzinie",
                  "zmiana terminu", "zmienić termin", "w innym terminie"),
        "hedge": ("może", "nie wiem", "chyba"),
    },
    "ur": {
        "yes": ("جی ہاں", "ہاں", "جی", "ٹھیک ہے", "ٹھیک", "منظور"),
        "no": ("نہیں", "جی نہیں", "نہ"),
        "other": ("دوسرا وقت", "کوئی اور وقت", "کسی اور وقت", "کسی اور دن", "دوسرا دن",
                  "اور وقت"),
        "hedge": ("شاید", "پتہ نہیں", "معلوم نہیں"),
    },
    "pa": {
        "yes": ("ਹਾਂ", "ਹਾਂ ਜੀ", "ਜੀ", "ਠੀਕ ਹੈ", "ਠੀਕ"),
        "no": ("ਨਹੀਂ", "ਜੀ ਨਹੀਂ", "ਨਾ"),
        "other": ("ਹੋਰ ਸਮਾਂ", "ਕੋਈ ਹੋਰ ਸਮਾਂ", "ਹੋਰ ਦਿਨ", "ਦੂਜਾ ਸਮਾਂ"),
        "hedge": ("ਸ਼ਾਇਦ", "ਪਤਾ ਨਹੀਂ"),
    },
    "ro": {
        "yes": ("da", "bine", "sigur", "de acord", "confirm", "ok"),
        "no": ("nu", "nu pot"),
        "other": ("alt moment", "altă zi", "altă oră", "altă dată", "alt termen",
                  "altă programare"),
        "hedge": ("poate", "nu știu", "nu ştiu"),
    },
    "ar": {
        "yes": ("نعم", "أجل", "حسنا", "حسناً", "موافق", "تمام", "لا بأس", "ok"),
        "no": ("لا", "لا أستطيع", "لن"),
        "other": ("وقت آخر", "وقت اخر", "يوم آخر", "يوم اخر", "موعد آخر", "موعد اخر",
                  "لا أستطيع الحضور", "لا استطيع الحضور"),
        "hedge": ("ربما", "لا أعرف", "لا اعرف", "لست متأكدا", "ممكن"),
    },
    "bn": {
        "yes": ("হ্যাঁ", "হ্যা", "হাঁ", "ঠিক আছে", "আচ্ছা", "রাজি"),
        "no": ("না", "নাহ", "পারব না"),
        "other": ("অন্য সময়", "অন্য সময়ে", "অন্য দিন", "অন্য দিনে", "আসতে পারব না"),
        "hedge": ("হয়তো", "জানি না"),
    },
    "so": {
        "yes": ("haa", "haye", "hagaag", "waa hagaag", "waan imaan doonaa", "ok"),
        "no": ("maya", "may", "ma imaan karo"),
        "other": ("waqti kale", "wakhti kale", "maalin kale", "mar kale"),
        "hedge": ("malaha", "ma garanayo"),
    },
    "pt": {
        "yes": ("sim", "ok", "claro", "combinado", "certo", "confirmo", "está bem",
                "tá bom", "beleza"),
        "no": ("não", "não posso", "nao"),
        "other": ("outro dia", "outra hora", "outro horário", "outra data",
                  "outro momento", "nenhum", "nenhuma", "remarcar"),
        "hedge": ("talvez", "não sei"),
    },
    "es": {
        "yes": ("sí", "si", "vale", "claro", "de acuerdo", "perfecto", "bien", "confirmo",
                "ok"),
        "no": ("no", "no puedo"),
        "other": ("otra hora", "otro día", "otro momento", "otra fecha", "otro horario",
                  "ninguna", "ninguno", "cambiar la cita"),
        "hedge": ("quizás", "quizá", "tal vez", "no sé", "a lo mejor", "puede ser"),
    },
    "lt": {
        "yes": ("taip", "gerai", "tinka", "sutinku", "ok"),
        "no": ("ne", "netinka", "negaliu"),
        "other": ("kitas laikas", "kitu laiku", "kitą dieną", "kita diena", "kitą kartą",
                  "kitas terminas", "kitą laiką"),
        "hedge": ("galbūt", "gal", "nežinau"),
    },
    "uk": {
        "yes": ("так", "добре", "гаразд", "згоден", "згодна", "підходить", "ок"),
        "no": ("ні", "не", "не можу", "не підходить"),
        "other": ("інший час", "інший день", "іншим разом", "в інший час",
                  "інший термін"),
        "hedge": ("можливо", "не знаю"),
    },
    "sk": {
        "yes": ("áno", "hej", "dobre", "súhlasím", "ok"),
        "no": ("nie", "nemôžem"),
        "other": ("iný termín", "inokedy", "iný deň", "iný čas"),
        "hedge": ("možno", "neviem"),
    },
    "cs": {
        "yes": ("ano", "jo", "dobře", "souhlasím", "platí", "ok"),
        "no": ("ne", "nemůžu", "nemohu"),
        "other": ("jiný termín", "jindy", "jiný den", "jiný čas"),
        "hedge": ("možná", "nevím"),
    },
    "zh_Hans": {
        "yes": ("是", "好", "好的", "可以", "行", "没问题", "同意", "确认", "对"),
        "no": ("不", "不行", "不可以", "不能", "不去", "没空", "不是", "不好"),
        "other": ("换个时间", "换时间", "改天", "别的时间", "其他时间", "改时间",
                  "另约时间", "来不了"),
        "hedge": ("可能", "也许", "不确定", "不知道", "不一定"),
        "neutral": ("你好", "您好"),
    },
    "vi": {
        "yes": ("có", "vâng", "dạ", "được", "đồng ý", "ừ", "ok"),
        "no": ("không", "không được", "không thể", "ko"),
        "other": ("thời gian khác", "ngày khác", "giờ khác", "lúc khác", "dịp khác",
                  "hẹn lại", "hôm khác"),
        "hedge": ("có thể", "có lẽ", "chưa biết", "không biết"),
    },
}

# Words next to a number that make it a clock time, date or amount, not an option:
# "at 2", "2pm", "o 2" (Polish), "a las 2", "2点", "2 بجے".
BEFORE_NUMBER: dict[str, tuple[str, ...]] = {
    "en": ("at", "by", "before", "after", "from", "until", "till", "around", "about"),
    "pl": ("o", "godz", "godzina", "godzinie", "od", "do", "po", "przed", "około"),
    "ro": ("la", "ora", "după", "înainte", "până"),
    "ar": ("الساعة", "بعد", "قبل"),
    "ur": ("بعد", "پہلے"),
    "pt": ("às", "dia", "depois", "antes", "até"),
    "es": ("las", "sobre", "desde", "hasta", "antes", "después", "día"),
    "lt": ("iki", "po", "nuo", "val"),
    "uk": ("о", "об", "до", "після", "з"),
    "sk": ("o", "v", "od", "do", "po", "pred"),
    "cs": ("v", "ve", "od", "do", "po", "před"),
    "zh_Hans": ("下午", "上午", "晚上", "早上", "中午"),
    "vi": ("lúc", "trước", "sau", "ngày"),
}
AFTER_NUMBER: dict[str, tuple[str, ...]] = {
    "en": ("pm", "am", "oclock", "h", "hr", "hrs", "hour", "hours", "min", "mins",
           "minutes", "day", "days", "week", "weeks", "st", "nd", "rd", "th"),
    "pl": ("godz", "godzina", "min", "dni", "tygodnie"),
    "ro": ("ora", "zile"),
    "ar": ("ساعة", "مساء", "صباحا"),
    "ur": ("بجے",),
    "pa": ("ਵਜੇ",),
    "bn": ("টায়", "টা", "টার"),
    "so": ("saac",),
    "pt": ("horas", "hora", "dias"),
    "es": ("horas", "hora", "días"),
    "lt": ("val", "valandą"),
    "uk": ("годині", "година", "год"),
    "sk": ("hod", "hodine", "hodín"),
    "cs": ("hod", "hodin"),
    "zh_Hans": ("点", "點", "时", "時", "号", "號", "日", "月", "分", "半", "天", "周"),
    "vi": ("giờ", "phút"),
}
# Words that only introduce an option number: "option 2", "nr 2", "第2个".
NUMBER_PREFIXES = (
    "nr", "number", "num", "numer", "option", "opcja", "opción", "opção",
    "opțiunea", "varianta", "variant", "možnost", "možnosť", "číslo", "варіант",
    "номер", "số", "lựa chọn", "رقم", "نمبر", "নম্বর", "ਨੰਬਰ", "lambar", "第", "选",
)

# English words that mean something else in the family's language: Polish, Czech and
# Slovak "no" is a casual "yes"/"well"; Portuguese "no" is "in the".
ENGLISH_EXCLUDED: dict[str, frozenset[str]] = {
    "pl": frozenset({"no"}), "cs": frozenset({"no"}), "sk": frozenset({"no"}),
    "pt": frozenset({"no"}),
}
UNFOLDED = frozenset({"vi", "ar", "ur", "pa", "bn", "uk", "zh_Hans"})

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"\d+|[{_CJK}]|[^\s\d{_CJK}]+")
_APOSTROPHES = dict.fromkeys(map(ord, "'’ʼ‘`´"), None)
_QUESTION = ("?", "？", "؟")
# "No. 2" and "№2" are a number; "No, 2" stays a no with a number (unsure).
_NUMERO = re.compile(r"(?:\bno\.|№)\s*(?=\d)")


def _language(language: str) -> str:
    code = language.replace("-", "_")
    if code in WORDS:
        return code
    base = code.split("_")[0].lower()
    if base == "zh":
        return "zh_Hans"
    return base if base in WORDS else "en"


def _normalise(text: str, fold: bool) -> str:
    text = _NUMERO.sub(" nr ", text.casefold())
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    chars = []
    for ch in text:
        category = unicodedata.category(ch)
        if category.startswith(("P", "S")):
            chars.append(" ")
        elif category == "Nd":
            chars.append(str(unicodedata.decimal(ch)))
        else:
            chars.append(ch)
    text = "".join(chars)
    if fold:
        # Drop accents on Latin letters only; other scripts need their marks.
        decomposed = unicodedata.normalize("NFD", text)
        kept: list[str] = []
        for ch in decomposed:
            if (unicodedata.category(ch) == "Mn" and kept
                    and unicodedata.name(kept[-1], "").startswith("LATIN")):
                continue
            kept.append(ch)
        text = unicodedata.normalize("NFKC", "".join(kept))
    return text


def _tokens(text: str, fold: bool) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(_normalise(text, fold)))


@dataclass(frozen=True)
class _Lexicon:
    phrases: dict[tuple[str, ...], str]
    longest: int
    before: frozenset[str]
    after: frozenset[str]
    prefixes: frozenset[str]
    fold: bool


@lru_cache(maxsize=32)
def _lexicon(language: str) -> _Lexicon:
    fold = language not in UNFOLDED
    excluded = ENGLISH_EXCLUDED.get(language, frozenset())
    phrases: dict[tuple[str, ...], str] = {}
    sources = [(WORDS["en"], excluded), (WORDS[language], frozenset())]
    for words, skip in sources:
        for kind, entries in words.items():
            for entry in entries:
                if entry not in skip:
                    phrases[_tokens(entry, fold)] = kind

    def token_set(table: dict[str, tuple[str, ...]]) -> frozenset[str]:
        entries = table.get("en", ()) + table.get(language, ())
        return frozenset(t for e in entries for t in _tokens(e, fold))

    return _Lexicon(
        phrases=phrases,
        longest=max(len(p) for p in phrases),
        before=token_set(BEFORE_NUMBER),
        after=token_set(AFTER_NUMBER),
        prefixes=frozenset(t for e in NUMBER_PREFIXES for t in _tokens(e, fold)),
        fold=fold,
    )


def parse_rsvp(text: str, language: str, n_options: int) -> Rsvp:
    """Read a reply to an invitation with `n_options` times; unsure rather than guess."""
    if n_options < 1:
        raise ValueError("an invitation has at least one time option")
    lexicon = _lexicon(_language(language))
    tokens = _tokens(text, lexicon.fold)
    if not tokens:
        return Rsvp("unsure", None, "empty reply")
    if len(" ".join(tokens)) > MAX_CHARS:
        return Rsvp("unsure", None, "long message: please read it")

    numbers: set[int] = set()
    kinds: set[str] = set()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.isdigit():
            before = tokens[i - 1] if i else ""
            after = tokens[i + 1] if i + 1 < len(tokens) else ""
            if before in lexicon.before or after in lexicon.after:
                return Rsvp("unsure", None, f"{token} reads as a time or date")
            numbers.add(int(token))
            i += 1
            continue
        if (token in lexicon.prefixes and i + 1 < len(tokens)
                and tokens[i + 1].isdigit()):
            i += 1
            continue
        for size in range(min(lexicon.longest, len(tokens) - i), 0, -1):
            kind = lexicon.phrases.get(tokens[i:i + size])
            if kind is not None:
                kinds.add(kind)
                i += size
                break
        else:
            i += 1
    return _decide(numbers, kinds, n_options, question=any(q in text for q in _QUESTION))


def _decide(numbers: set[int], kinds: set[str], n_options: int, *, question: bool) -> Rsvp:
    if "hedge" in kinds:
        return Rsvp("unsure", None, "not sure (maybe)")
    wrong = sorted(n for n in numbers if not 1 <= n <= n_options)
    if wrong:
        return Rsvp("unsure", None, f"{wrong[0]} is not one of the {n_options} options")
    if len(numbers) > 1:
        listed = ", ".join(str(n) for n in sorted(numbers))
        return Rsvp("unsure", None, f"several options ({listed})")
    if "other" in kinds:
        if numbers or "yes" in kinds:
            return Rsvp("unsure", None, "picks a time and asks for another")
        return Rsvp("other_time", None, "asks for another time")
    if question:
        return Rsvp("unsure", None, "asks a question")
    if "yes" in kinds and "no" in kinds:
        return Rsvp("unsure", None, "says yes and no")
    if numbers:
        (slot,) = numbers
        if "no" in kinds:
            return Rsvp("unsure", None, f"option {slot} with a no")
        return Rsvp("slot", slot, f"chose option {slot}")
    if "yes" in kinds:
        if n_options == 1:
            return Rsvp("slot", 1, "said yes to the only time")
        return Rsvp("unsure", None, f"said yes but not which of the {n_options} times")
    if "no" in kinds:
        return Rsvp("no", None, "said no")
    return Rsvp("unsure", None, "no clear answer")
