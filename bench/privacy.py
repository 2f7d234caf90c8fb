"""Masking speed on a roster of 100,000 people (children, guardians and staff).

Prints the time to read the roster and build the name automaton (once per roster
change), the time to check the roster is unchanged (every translation run), and the
time to mask one note, over the generated corpus of realistic notes.

Run: python -m bench.privacy   (BENCH_PEOPLE=... to change the roster size)
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import sqlite_database
from bot.language.privacy import mask, school_names
from bot.store import make_engine, make_session_factory
from bot.store.models import Guardian, School, Staff, Student
from tests.bot.language import corpus

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "100000"))
SYLLABLES = ["ka", "zo", "fi", "ya", "mi", "ra", "lo", "an", "el", "su", "de", "ni", "ta",
             "ho", "bri", "an", "sha", "ko", "wal", "ska", "ha", "dad", "om", "ar", "iv", "en"]


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).title()


def main() -> None:
    rng = random.Random(16)
    notes = corpus.build(notes=300)
    with sqlite_database() as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as s, s.begin():
            school = School(name="Bench School")
            s.add(school)
            s.flush()
            students = PEOPLE // 2
            guardians = PEOPLE * 2 // 5
            staff = PEOPLE - students - guardians
            people = [(p.first, p.last, p.ref) for p in notes.people]
            s.execute(insert(Student), [
                {"school_id": school.id, "ref": ref, "first_name": first, "last_name": last}
                for first, last, ref in people
            ] + [{"school_id": school.id, "ref": f"B{n}", "first_name": _name(rng),
                  "last_name": _name(rng)} for n in range(students - len(people))])
            s.execute(insert(Guardian), [
                {"school_id": school.id, "ref": f"G{n}", "first_name": _name(rng),
                 "last_name": _name(rng)} for n in range(guardians)])
            s.execute(insert(Staff), [
                {"school_id": school.id, "name": f"{rng.choice(['Ms', 'Mr'])} {_name(rng)}",
                 "email": f"staff{n}@bench.test"} for n in range(staff)])
            school_id = school.id
        with factory() as s:
            started = time.perf_counter()
            names = school_names(s, school_id)
            built = time.perf_counter() - started
            started = time.perf_counter()
            assert school_names(s, school_id) is names
            checked = time.perf_counter() - started
        texts = [note for _, note in notes.notes]
        started = time.perf_counter()
        for text in texts:
            mask(text, names)
        per_note = (time.perf_counter() - started) / len(texts)
        engine.dispose()
    print(f"roster: {PEOPLE:,} people (SQLite)")
    print(f"read the roster and build the automaton: {built * 1000:.0f} ms (once per change)")
    print(f"check the roster is unchanged: {checked * 1000:.1f} ms (each translation run)")
    print(f"mask one note: {per_note * 1e6:.0f} µs (mean of {len(texts)} notes, "
          f"{sum(len(t) for t in texts) // len(texts)} characters)")


if __name__ == "__main__":
    main()
