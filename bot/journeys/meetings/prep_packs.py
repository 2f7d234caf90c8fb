"""Prep packs: what a meeting will look like, questions to think about, what to bring.

Written by us in plain words, one pack per meeting type, kept in the gettext catalogs
(every string below is marked with N_ and translated in translations/). A pack goes
with every invitation: in full in email, as one line and a private link in SMS and
Telegram (bot/web/pack.py shows the page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import InvalidInputError


def N_(text: str) -> str:
    """Mark a string for the catalogs without translating it (translated where shown)."""
    return text


MEETING_TYPES = ("attendance", "support_plan_review", "school_move", "behaviour", "progress")
DEFAULT_TYPE = "progress"

TITLES = {
    "attendance": N_("A meeting about coming to school each day"),
    "support_plan_review": N_("A meeting to look again at the extra help your child gets"),
    "school_move": N_("A meeting about moving to a new school"),
    "behaviour": N_("A meeting about how things are going in class and at break time"),
    "progress": N_("A meeting about your child's school work"),
}

STEPS_HEADING = N_("What will happen")
QUESTIONS_HEADING = N_("Questions you may want to think about or ask")
BRING_HEADING = N_("What to bring")

FIRST_STEP = N_("We start with what is going well for your child.")
MIDDLE_STEPS = {
    "attendance": N_("We look at the days your child missed and what made those days hard."),
    "support_plan_review": N_("We look at the extra help your child gets and if it is "
                              "working."),
    "school_move": N_("We talk about the new school and how to make the move easy."),
    "behaviour": N_("We talk about what happened and what helps your child stay calm."),
    "progress": N_("We look at some of your child's work and what comes next."),
}
LISTEN_STEP = N_("We listen to what you think, and to what your child thinks.")
AGREE_STEP = N_("We agree a few small next steps together and write them down.")
LAST_STEP = N_("We end with what is going well, and who will do what next.")

# The six topics families may think about, in the order they are shown.
TOPICS = (
    ("story", N_("Your child's story and strengths")),
    ("friends", N_("Friends and trusted adults")),
    ("learning", N_("Learning")),
    ("feelings", N_("Feelings and health")),
    ("family", N_("What it means for your family")),
    ("helped", N_("What has helped before")),
)

COMMON_QUESTIONS = {
    "story": [N_("What is your child good at, or proud of?")],
    "friends": [N_("Who does your child trust and talk to at school?")],
    "learning": [N_("What is easy for your child, and what is hard?")],
    "feelings": [N_("How does your child feel about coming to school?")],
    "family": [N_("Is anything at home making things hard right now?")],
    "helped": [N_("What has helped your child before, at home or at school?")],
}
TYPE_QUESTIONS: dict[str, dict[str, list[str]]] = {
    "attendance": {
        "feelings": [N_("What makes mornings hard for your child?")],
        "family": [N_("What would make it easier to get to school on time?")],
    },
    "support_plan_review": {
        "learning": [N_("Is the extra help making a difference? What would you change?")],
    },
    "school_move": {
        "story": [N_("What should the new school know about your child?")],
        "feelings": [N_("What worries your child about the move? What are they looking "
                        "forward to?")],
    },
    "behaviour": {
        "feelings": [N_("What helps your child calm down when they are upset?")],
    },
    "progress": {
        "learning": [N_("What would you like your child to get better at this year?")],
    },
}

BRING = (
    N_("Any letters or reports you want to talk about."),
    N_("Your questions, on paper or on your phone."),
    N_("A friend, family or anyone who helps you, if you like."),
)

# One line for SMS and Telegram, before the private link to the whole pack.
SUMMARY = N_("Before the meeting: what will happen, what to ask and what to bring: {link}")


@dataclass(frozen=True, slots=True)
class Pack:
    """One prep pack in one language: title, steps, questions by topic, what to bring."""

    title: str
    steps_heading: str
    steps: tuple[str, ...]
    questions_heading: str
    topics: tuple[tuple[str, tuple[str, ...]], ...]
    bring_heading: str
    bring: tuple[str, ...]


def check_type(meeting_type: str) -> str:
    """The meeting type, normalised; an unknown one is one clear error naming the valid ones."""
    value = meeting_type.strip().lower().replace("-", "_")
    if value not in MEETING_TYPES:
        raise InvalidInputError(f"unknown meeting type {meeting_type!r}: use one of "
                                f"{', '.join(MEETING_TYPES)}")
    return value


def build_pack(meeting_type: str, gettext: Callable[[str], str] = str) -> Pack:
    """The pack for a meeting type, each string passed through `gettext` (the language)."""
    kind = check_type(meeting_type)
    steps = (FIRST_STEP, MIDDLE_STEPS[kind], LISTEN_STEP, AGREE_STEP, LAST_STEP)
    extra = TYPE_QUESTIONS.get(kind, {})
    topics = tuple(
        (gettext(heading), tuple(gettext(q) for q in extra.get(key, []) + COMMON_QUESTIONS[key]))
        for key, heading in TOPICS)
    return Pack(title=gettext(TITLES[kind]), steps_heading=gettext(STEPS_HEADING),
                steps=tuple(gettext(s) for s in steps),
                questions_heading=gettext(QUESTIONS_HEADING), topics=topics,
                bring_heading=gettext(BRING_HEADING), bring=tuple(gettext(b) for b in BRING))


def pack_text(pack: Pack) -> str:
    """The whole pack as plain text with blank lines between parts (email turns each into
    a paragraph of its HTML part)."""
    parts = [pack.title,
             pack.steps_heading + "\n" + "\n".join(f"{i}. {s}"
                                                   for i, s in enumerate(pack.steps, 1)),
             pack.questions_heading]
    parts += [heading + "\n" + "\n".join(f"- {q}" for q in questions)
              for heading, questions in pack.topics]
    parts.append(pack.bring_heading + "\n" + "\n".join(f"- {b}" for b in pack.bring))
    return "\n\n".join(parts)


def all_strings() -> list[str]:
    """Every English string a pack can show (for the plain-words test and the catalogs)."""
    strings = [*TITLES.values(), STEPS_HEADING, QUESTIONS_HEADING, BRING_HEADING, FIRST_STEP,
               *MIDDLE_STEPS.values(), LISTEN_STEP, AGREE_STEP, LAST_STEP,
               *(h for _, h in TOPICS), *BRING, SUMMARY]
    strings += [q for qs in COMMON_QUESTIONS.values() for q in qs]
    strings += [q for per in TYPE_QUESTIONS.values() for qs in per.values() for q in qs]
    return list(dict.fromkeys(strings))
