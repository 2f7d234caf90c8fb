"""SMS segments per message kind and language, as a family without a translation service
receives them (a new school's first day): typical content, staff writing in English.

Prints one row per language and one column per kind, counting the worst-case encoding
(GSM-7 when every character allows it, else UCS-2; channels/segments.py), and the total
a family would receive for one of each. Nothing is saved; the private link is a stand-in
of a real link's length (https://messages.greenfield.sch.uk/pack/<22 characters>).

Run: python -m bench.segments  [--show LANG]  (prints that language's texts too)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.journeys import check_ins, concerns, good_news  # noqa: F401  (registers the kinds)
from bot.journeys.meetings import frames  # noqa: F401
from bot.outbound.render import render
from bot.store.models import Guardian, Message, MessageKind, School, Staff, Student
from channels.segments import encoding, segments
from translations import available

BASE = "https://messages.greenfield.sch.uk"
LANGUAGES = ["en", *sorted(available())]

GOOD_NEWS = ("Oliver read a whole chapter aloud to the class today and helped a friend with "
             "the hard words. He was patient and kind, and we are very proud of him.")
CONCERN = ("Oliver was upset at lunch today and did not want to eat. He is fine now, but we "
           "would like to talk with you about it. Could you call us this week?")
WHY = "to talk about how Oliver is settling in and what is going well"
WHERE = "Room 4, next to the main office (come in by the front gate)"
WHO = [{"name": "Ms Shah", "role": "Oliver's class teacher and key worker"}]
OPTIONS = [datetime(2026, 12, 10, 15, 30, tzinfo=UTC), datetime(2026, 12, 11, 15, 30, tzinfo=UTC)]
ACTION = "Oliver will read with an adult for ten minutes every morning."


def messages(school: School, author: Staff, student: Student) -> dict[str, Message]:
    """One message of each kind, with typical content."""
    def make(kind: str, text: str, **details: object) -> Message:
        return Message(kind=kind, source_text=text, source_language="en",
                       author=author, student=student,
                       details={"pack_base_url": BASE, **details})

    return {
        "good news": make(MessageKind.GOOD_NEWS, GOOD_NEWS),
        "concern": make(MessageKind.CONCERN, CONCERN),
        "invitation": make(MessageKind.INVITATION, WHY, options=[o.isoformat() for o in OPTIONS],
                           where=WHERE, minutes=30, who=WHO, type="progress"),
        "reminder": make(MessageKind.REMINDER, "", when=OPTIONS[0].isoformat(), where=WHERE),
        "check-in": make(MessageKind.CHECK_IN, ACTION),
    }


def sms(message: Message, guardian: Guardian, school: School) -> str:
    """The SMS text this guardian receives, untranslated (no service set up)."""
    note = None if guardian.language == "en" else guardian.language
    return render(message, guardian, school, language="en", note_language=note,
                  channel="sms").text


def main(argv: list[str]) -> None:
    show = argv[argv.index("--show") + 1] if "--show" in argv else None
    school = School(name="Greenfield Primary School", timezone="Europe/London")
    author = Staff(name="Ms Shah", language="en")
    student = Student(first_name="Oliver", last_name="Brown")
    kinds = messages(school, author, student)
    print(f"{'language':10}" + "".join(f"{k:>12}" for k in kinds) + f"{'total':>8}  worst")
    worst = 0
    for language in LANGUAGES:
        guardian = Guardian(first_name="Anna", last_name="Nowak", language=language)
        texts = {k: sms(m, guardian, school) for k, m in kinds.items()}
        counts = {k: segments(t) for k, t in texts.items()}
        worst = max(worst, *counts.values())
        cells = "".join(f"{counts[k]:>6} {encoding(t)[:3]:>5}" for k, t in texts.items())
        print(f"{language:10}{cells}{sum(counts.values()):>8}  {max(counts.values())}")
        if show == language:
            for k, t in texts.items():
                print(f"--- {k} ({counts[k]} segments)\n{t}")
    print(f"most segments for one message: {worst}")


if __name__ == "__main__":
    main(sys.argv[1:])
