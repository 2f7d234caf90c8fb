"""A big roster import: wall time and peak memory, next to the figure issue 14 reported.

Run from the repository root: `python -m bench.roster [--rows N] [--pg] [--keep FILE]`.
Writes a generated roster of N student-guardian rows (default 379,583, about 50 MB, the
file of issue 14 finding 16: 6 min 21 s and 4.05 GB before streaming), then imports it
twice into a fresh SQLite database (and with `--pg` a fresh schema in
$SCHOOLGATE_BENCH_DATABASE_URL, default the local `test` database): the first import
creates everything, the second finds every row unchanged. Each import runs in its own
child process, so its peak memory (maximum resident set size) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench`, `bot`, `channels` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from bench._common import PG_DEFAULT, PG_ENV, postgres_database, sqlite_database
from bot.roster.file import REQUIRED_COLUMNS
from bot.store import make_engine, make_session_factory
from bot.store.models import School

ROOT = Path(__file__).resolve().parents[1]
ISSUE_ROWS = 379_583
BEFORE = "before (issue 14 finding 16, 379,583 rows, 50 MB): 6 min 21 s, peak 4.05 GB"
FIRST = ("Zofia", "Amir", "Beatriz", "Ioana", "Hodan", "Rahim", "Oliver", "Aisha", "Jan",
         "Maria", "Yusuf", "Chen", "Lucía", "Fatima", "Tomasz", "Grace")
LAST = ("Kowalska", "Khan", "Santos", "Popescu", "Ali", "Rahman", "Smith", "Hussain",
        "Nowak", "García", "Ahmed", "Wang", "Murphy", "Ibrahim", "Jones", "Okafor")
LANGUAGES = ("en", "en", "en", "pl", "ur", "ar", "es", "ro", "so", "bn", "pt_BR")
CHANNELS = ("sms;email", "sms", "email", "email;sms", "telegram;sms")


def write_roster(path: Path, rows: int, bad_every: int, seed: int = 14) -> int:
    """A roster of `rows` rows: families of one or two guardians, some with two children,
    one key worker per class of 28; every `bad_every`-th row has a bad email. Bytes written."""
    rng = random.Random(seed)
    columns = list(REQUIRED_COLUMNS)
    written, student, guardian = 0, 0, 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(columns) + "\r\n")
        family: list[int] = []
        while written < rows:
            student += 1
            if not family or rng.random() > 0.12:  # 12% are siblings of the previous child
                family = [guardian + 1] if rng.random() < 0.35 else [guardian + 1, guardian + 2]
                guardian += len(family)
            group = student // 28
            kw = f"Teacher {group}", f"kw{group}@school.example"
            last, first = rng.choice(LAST), rng.choice(FIRST)
            for g in family:
                if written == rows:
                    break
                written += 1
                email = f"parent{g}@example.com"
                if bad_every and written % bad_every == 0:
                    email = f"parent{g}.example.com"
                values = {
                    "student_id": f"S{student:07d}", "student_first_name": first,
                    "student_last_name": last, "class": f"{group % 13}{'ABCD'[group % 4]}",
                    "key_worker_name": kw[0], "key_worker_email": kw[1],
                    "guardian_id": f"G{g:07d}", "guardian_first_name": FIRST[g % len(FIRST)],
                    "guardian_last_name": LAST[g % len(LAST)],
                    "relationship": ("mother", "father", "carer")[g % 3],
                    "language": LANGUAGES[g % len(LANGUAGES)],
                    "phone": f"07{400 + g % 200:03d} {g % 1_000_000:06d}", "email": email,
                    "preferred_channels": CHANNELS[g % len(CHANNELS)], "may_contact": "yes"}
                fh.write(",".join(values[c] for c in columns) + "\r\n")
    return path.stat().st_size


def import_main(argv: list[str]) -> int:
    """One import in this process: print the report's counts, wall time and peak memory."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--file", type=Path, required=True)
    args = parser.parse_args(argv)
    from bot.roster.importer import import_roster

    engine = make_engine(args.db)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        school = session.query(School).first()
        if school is None:
            school_id = session.execute(insert(School).values(
                name="Bench School", timezone="Europe/London", staff_language="en",
                languages=["en"], policy={}).returning(School.id)).scalar_one()
        else:
            school_id = school.id
    start = time.perf_counter()
    report = import_roster(factory, school_id, args.file, "GB")
    wall = time.perf_counter() - start
    engine.dispose()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"wall": wall, "peak_mib": peak_kib / 1024, "rows": report.rows_total,
                      "failed": report.rows_failed, "students": report.created_students,
                      "guardians": report.created_guardians, "staff": report.created_staff,
                      "unchanged": report.unchanged_rows}), flush=True)
    return 0


def run_import(url: str, path: Path) -> dict[str, float]:
    """Import `path` into `url` in a child process; its figures."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "bench.roster", "_import", "--db", url,
                          "--file", str(path)], cwd=ROOT, env=env, text=True,
                         capture_output=True, check=False)
    if out.returncode:
        raise RuntimeError(f"the import exited with {out.returncode}: {out.stderr[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def measure(label: str, url: str, path: Path) -> None:
    """First import (creates), second import (unchanged): one line each."""
    for run in ("first import", "again, same file"):
        r = run_import(url, path)
        minutes, seconds = divmod(r["wall"], 60)
        print(f"{label:<11} {run:<17} {r['rows']:>8,.0f} rows in {int(minutes)} min "
              f"{seconds:4.1f} s ({r['rows'] / r['wall']:,.0f} rows/s), peak "
              f"{r['peak_mib']:,.0f} MiB; refused {r['failed']:,.0f}, students "
              f"+{r['students']:,.0f}, guardians +{r['guardians']:,.0f}, staff "
              f"+{r['staff']:,.0f}, unchanged {r['unchanged']:,.0f}", flush=True)


def main() -> int:
    """Write the roster, import it on SQLite (and PostgreSQL with --pg), print figures."""
    if sys.argv[1:2] == ["_import"]:
        return import_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ISSUE_ROWS)
    parser.add_argument("--bad-every", type=int, default=200,
                        help="every N-th row has a bad email (0: none)")
    parser.add_argument("--pg", action="store_true", help="also import on PostgreSQL")
    parser.add_argument("--keep", type=Path, help="write the roster here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sg-roster-") as folder:
        path = args.keep or Path(folder) / "roster.csv"
        size = write_roster(path, args.rows, args.bad_every)
        print(f"roster import bench: {args.rows:,} rows, {size / 1e6:.1f} MB, "
              f"{os.cpu_count()} CPUs", flush=True)
        print(BEFORE, flush=True)
        with sqlite_database() as url:
            measure("sqlite", url, path)
        if not args.pg:
            return 0
        pg_url = os.environ.get(PG_ENV, PG_DEFAULT)
        try:
            make_engine(pg_url).connect().close()
        except OperationalError as exc:
            print(f"PostgreSQL unreachable at {PG_ENV} ({type(exc).__name__}): "
                  "PostgreSQL lines skipped", flush=True)
            return 0
        with postgres_database() as url:
            measure("postgresql", url, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
