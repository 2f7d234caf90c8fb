"""Replies read right in every language: the quoted invitation below a reply is cut, found
by our own address whatever language the parent's mail client writes in, and by the
attribution lines of the clients our families use."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.inbound.email_replies import handle_raw
from bot.inbound.quoted import addressed_to, strip_quoted
from bot.journeys.meetings.invitation import queue_invitation
from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, InboundMessage, MeetingResponse
from tests import factories as f

ALL = {"sms", "email", "telegram"}
LONDON = ZoneInfo("Europe/London")
OPTIONS = [datetime(2030, 3, 5, 15, 30, tzinfo=LONDON),
           datetime(2030, 3, 7, 9, 0, tzinfo=LONDON)]
OURS = "replies+q7xk2m@school.test"
NEW = "Tak, pasuje mi termin 2"
QUOTED = ["> Dzień dobry,", "> Kiedy:", "> 1. wtorek, 5 marca 15:30",
          "> 2. czwartek, 7 marca 09:00", "> Proszę odpisać 1 lub 2."]


@pytest.mark.parametrize("attribution", [
    "czw., 3 gru 2026 o 15:30 Riverside Primary School <{ours}> napisał(a):",  # Gmail, pl
    "W dniu 3.12.2026 o 15:30, Riverside Primary School pisze:",             # by name, pl
    "W dniu 3.12.2026 o 15:30 Riverside Primary School napisał:",
    "joi, 3 dec. 2026, 15:30 Riverside Primary School <{ours}> a scris:",     # ro
    "Dne čt 3. 12. 2026 v 15:30 Riverside Primary School napsal(a):",         # cs
    "Dňa št 3. 12. 2026 o 15:30 Riverside Primary School napísal(a):",        # sk
    "чт, 3 груд. 2026 р. о 15:30 Riverside Primary School написав(ла):",      # uk
    "2026-12-03, kt, 15:30 Riverside Primary School rašė:",                   # lt
    "Vào Th 5, 3 thg 12, 2026 vào lúc 15:30 Riverside Primary School đã viết:",  # vi
    "2026年12月3日 15:30 <{ours}> 写道：",                                      # zh
    "Riverside <{ours}> ezt írta (időpont: 2026. dec. 3., Cs 15:30):",       # any language
])
def test_the_quoted_invitation_is_cut_whatever_the_client_language(attribution: str) -> None:
    line = attribution.format(ours=OURS)
    text = "\n".join([NEW, "", line, *[q.lstrip("> ") for q in QUOTED]])  # no ">" kept
    assert strip_quoted(text, [OURS]) == NEW


def test_a_wrapped_attribution_naming_us_is_cut() -> None:
    text = "\n".join([NEW, "", "czw., 3 gru 2026 o 15:30 Riverside Primary School",
                      f"<{OURS}> napisał(a):", "Kiedy: wtorek, 5 marca 15:30"])
    assert strip_quoted(text, [OURS]) == NEW


def test_an_outlook_header_block_in_polish_is_cut() -> None:
    text = "\n".join([NEW, "", f"Od: Riverside Primary School <{OURS}>",
                      "Wysłano: czwartek, 3 grudnia 2026 15:30", "Do: Agnieszka Nowak",
                      "Temat: Zaproszenie na spotkanie", "Kiedy: 1. wtorek, 5 marca 15:30"])
    assert strip_quoted(text, [OURS]) == NEW


def test_a_sentence_naming_our_address_is_the_parents_own() -> None:
    text = f"Proszę pisać na {OURS} albo dzwonić po 15:00.\nDziękuję"
    assert strip_quoted(text, [OURS]) == text


def test_the_addresses_a_mail_was_sent_to_are_ours() -> None:
    raw = (b"From: parent@family.test\r\nTo: Riverside <Replies+Q7xk2m@School.test>\r\n"
           b"Cc: office@school.test\r\nSubject: Re\r\n\r\nTak\r\n")
    assert addressed_to(raw) == ("replies+q7xk2m@school.test", "office@school.test")


def _invited(ctx: Context) -> dict[str, object]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Beatriz")
        parent = f.guardian(s, school, child, first_name="Agnieszka", language="pl",
                            email="agnieszka@family.test", channel_order=["email"])
        message, rows = queue_invitation(s, school, child, teacher, why="To talk.",
                                         options=OPTIONS, where="Room 4", minutes=30,
                                         who=[("Ms Key", "class teacher")], available=ALL)
        s.execute(update(Delivery).where(Delivery.message_id == message.id)
                  .values(status=DeliveryStatus.SENT))
        [row] = rows
        return {"guardian": parent.id, "token": row.reply_token, "text": row.rendered_text,
                "mid": f"<{row.email_message_id}@school.test>"}


def test_tak_pasuje_mi_termin_2_with_the_polish_invitation_quoted_is_time_2(
        ctx: Context) -> None:
    """A Polish parent's Gmail reply: new text on top, the whole invitation quoted below
    without '>' marks (as many clients' plain-text parts do), introduced in Polish."""
    ids = _invited(ctx)
    ours = f"replies+{ids['token']}@school.test"
    body = "\r\n".join([NEW, "", f"czw., 3 gru 2026 o 15:30 Riverside Primary School <{ours}>"
                        " napisał(a):", "", str(ids["text"]).replace("\n", "\r\n")])
    raw = (f"From: Agnieszka Nowak <agnieszka@family.test>\r\nTo: {ours}\r\n"
           f"Subject: Re: Spotkanie\r\nMessage-ID: <r1@family.test>\r\n"
           f"In-Reply-To: {ids['mid']}\r\nContent-Type: text/plain; charset=utf-8\r\n"
           f"\r\n{body}\r\n").encode()
    row = handle_raw(ctx.factory, raw, ALL)
    assert row.guardian_id == ids["guardian"]
    with ctx.factory() as s:
        [answer] = s.scalars(select(MeetingResponse)).all()
        stored = s.get(InboundMessage, row.id)
        assert stored is not None and stored.body == NEW  # staff read only what is new
    assert (answer.kind, answer.slot) == ("slot", 2)  # time 2, not unsure
