"""Translation cost of one broadcast: 10,000 guardians in 20 languages.

Prints the translation requests made (against the 10,000 a per-recipient approach
makes), the wall time through a local LibreTranslate stand-in with 100 ms latency, and
the same for a second identical broadcast, answered from the cache.

Run: python -m bench.translate
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import sqlite_database
from bot.outbound.dispatch import dispatch
from bot.outbound.translate import TranslationStep
from bot.store import make_engine, make_session_factory
from bot.store.models import (
    Guardian,
    GuardianChannel,
    Message,
    MessageKind,
    School,
    Staff,
)
from tests.standins.libretranslate import LibreTranslateStandIn
from translations.machine import LibreTranslate

GUARDIANS = int(os.environ.get("BENCH_GUARDIANS", "10000"))
LANGUAGES = ["pl", "ur", "pa", "ro", "ar", "bn", "so", "pt", "es", "lt", "uk", "sk", "cs",
             "zh_Hans", "vi", "tr", "fr", "de", "it", "fa"]
TEXT = ("The school will close at 1pm on Friday for staff training. Please collect your "
        "child from the main gate. Ms Shah can answer questions on 07700 900123.")


def broadcast(factory, school_id: int, staff_id: int) -> None:
    """One message to every guardian, outbox rows written in one transaction."""
    with factory() as s, s.begin():
        message = Message(school_id=school_id, kind=MessageKind.NOTICE, author_id=staff_id,
                          source_text=TEXT, source_language="en")
        s.add(message)
        guardians = list(s.scalars(select(Guardian)))
        dispatch(s, message, {"sms"}, guardians=guardians)


async def drain(step: TranslationStep) -> int:
    """Run the translation step until nothing is waiting."""
    total = 0
    while queued := await step.run(limit=20_000):
        total += queued
    return total


def main() -> None:
    """Build the families, broadcast twice, print the figures."""
    with sqlite_database() as url, LibreTranslateStandIn(latency=0.1) as server:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as s, s.begin():
            school = School(name="Bench School", timezone="Europe/London", languages=LANGUAGES)
            s.add(school)
            s.flush()
            staff = Staff(school_id=school.id, name="Ms Shah", email="shah@example.org")
            s.add(staff)
            s.flush()
            school_id, staff_id = school.id, staff.id
            s.execute(insert(Guardian), [
                {"school_id": school_id, "ref": f"G{i}", "first_name": f"Parent{i}",
                 "last_name": "Family", "language": LANGUAGES[i % len(LANGUAGES)],
                 "phone": f"+4477009{i:05d}", "channel_order": ["sms"]}
                for i in range(GUARDIANS)])
        with factory() as s, s.begin():
            ids = list(s.scalars(select(Guardian.id)))
            s.execute(insert(GuardianChannel), [{"guardian_id": g, "channel": "sms",
                                                 "consent": True} for g in ids])
        print(f"broadcast to {GUARDIANS} guardians in {len(LANGUAGES)} languages, "
              f"LibreTranslate stand-in with 100 ms latency")
        for label in ("first broadcast", "second broadcast (cache)"):
            before = len(server.requests)
            step = TranslationStep(factory, LibreTranslate(server.url))
            start = time.perf_counter()
            broadcast(factory, school_id, staff_id)
            queued = asyncio.run(drain(step))
            wall = time.perf_counter() - start
            made = len(server.requests) - before
            print(f"{label:26} {made:3d} translation requests (per-recipient approach: "
                  f"{GUARDIANS}); {queued} deliveries ready; {wall:.2f} s wall time "
                  f"(dispatch + translate + render)")
        leaked = [w for w in ("Shah", "07700", "Parent1") if w in server.sent_text()]
        print(f"personal data sent to the translation service: {leaked or 'none'}")
        engine.dispose()


if __name__ == "__main__":
    main()
