"""The unreachable list: its SQL never misses a family the dispatcher cannot reach,
whatever mix of addresses, consent, opt-outs, failed addresses and channel orders."""

from __future__ import annotations

import itertools
import random

from sqlalchemy.orm import Session

from bot.outbound.dispatch import choose_channel
from bot.outbound.reach import unreachable_guardians
from bot.runtime.context import Context
from bot.store.models import Guardian, GuardianChannel, utcnow
from tests import factories as f

ORDERS = [[], ["sms"], ["email"], ["telegram", "sms"], ["sms", "email", "telegram"]]


def _random_family(session: Session, school: object, rng: random.Random) -> Guardian:
    n = rng.randrange(10**6)
    guardian = f.guardian(session, school,  # type: ignore[arg-type]
                          phone=rng.choice([None, "", f"+44770090{n:04d}"[:13]]),
                          email=rng.choice([None, f"p{n}@family.test"]),
                          telegram_chat_id=rng.choice([None, str(n)]),
                          channel_order=rng.choice(ORDERS))
    for channel in ("sms", "email", "telegram"):
        state = rng.choice(["none"] * 4 + ["fine", "no_consent", "opted_out", "failed",
                                           "failed_old"])
        if state == "none":
            continue
        address = guardian.address_for(channel)
        session.add(GuardianChannel(
            guardian_id=guardian.id, channel=channel, consent=state != "no_consent",
            opted_out_at=utcnow() if state == "opted_out" else None,
            failed_address=address if state == "failed" else
            ("+440000000000" if state == "failed_old" else None),
            failed_reason="bounced" if state.startswith("failed") else None))
    session.flush()
    session.refresh(guardian, ["channels"])
    return guardian


def test_the_list_matches_the_dispatchers_choice_for_every_mix(ctx: Context) -> None:
    rng = random.Random(20261123)
    for available in ({"sms", "email", "telegram"}, {"sms", "email"}, {"email"}):
        with ctx.factory() as s, s.begin():
            school = ctx.school(s)
            families = [_random_family(s, school, rng) for _ in range(150)]
            expected = {g.id: choose_channel(g, available).reason for g in families
                        if choose_channel(g, available).channel is None}
            found = dict((g.id, why) for g, why in
                         unreachable_guardians(s, available, school_id=school.id))
            assert found == expected
            assert expected, "the mix should include families nobody can reach"
            assert len(expected) < len(families), "and families who can be reached"
            s.rollback()


def test_a_family_opted_out_of_every_channel_is_listed_with_each_reason(ctx: Context) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        family = f.guardian(s, school, channel_order=["sms", "email"])
        for channel, stamp in itertools.product(["sms", "email"], [utcnow()]):
            s.add(GuardianChannel(guardian_id=family.id, channel=channel, opted_out_at=stamp))
        f.guardian(s, school)  # reachable
        s.flush()
        rows = unreachable_guardians(s, {"sms", "email"}, school_id=school.id)
        assert [(g.id, why) for g, why in rows] == [
            (family.id, "sms: opted out; email: opted out")]
