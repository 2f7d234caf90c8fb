"""`schoolgate announce` and `schoolgate lists` as a user meets them: each family once,
one-line refusals, urgent only for the right person and only when confirmed."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot.cli.test_cli import ROOT, run

ROSTER = ROOT / "examples" / "roster.csv"
TEACHER = "a.shah@riverside-primary.example.org"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(ROSTER, tmp_path / "roster.csv")
    done = run("import-roster", "roster.csv", cwd=tmp_path)
    assert done.returncode in (0, 2), done.stderr
    return tmp_path


def _guardians(klass: str | None = None) -> set[str]:
    with ROSTER.open(encoding="utf-8") as fh:
        return {r["guardian_id"] for r in csv.DictReader(fh)
                if (klass is None or r["class"] == klass) and r["may_contact"] == "yes"}


def test_a_class_announcement_reaches_each_family_once(folder: Path) -> None:
    done = run("announce", "--class", "3B", "--from", TEACHER, "PE kit on Thursday.",
               "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["families"] == len(_guardians("3B"))
    reached = sum(v["families"] for v in data["languages"].values())
    assert reached + len(data["unreachable"]) == data["families"]
    assert "Polish" in {v["name"] for v in data["languages"].values()}
    assert data["urgent"] is False


def test_who_it_is_for_must_be_said_once(folder: Path) -> None:
    both = run("announce", "--class", "3B", "--school", "--from", TEACHER, "Hi.", cwd=folder)
    assert both.returncode == 1 and both.stderr.strip().startswith("error: say who it is for")
    unknown = run("announce", "--class", "9Z", "--from", TEACHER, "Hi.", cwd=folder)
    assert unknown.stderr.strip() == "error: there is no class '9Z'; classes: 3B, 5A"


def test_urgent_needs_admin_and_a_confirmation(folder: Path) -> None:
    teacher = run("announce", "--school", "--urgent", "--reason", "snow", "--yes", "--from",
                  TEACHER, "Closed today.", cwd=folder)
    assert teacher.returncode == 1 and "only an admin" in teacher.stderr
    added = subprocess.run(
        [sys.executable, "-m", "bot", "staff", "add", "--email", "head@school.example",
         "--name", "Mrs Patel", "--role", "admin", "--password-stdin"], cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, input="a long enough password\n",
        capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    unconfirmed = run("announce", "--school", "--urgent", "--reason", "snow", "--from",
                      "head@school.example", "Closed today.", cwd=folder)
    assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
    sent = run("announce", "--school", "--urgent", "--reason", "snow", "--yes", "--from",
               "head@school.example", "Closed today.", "--json", cwd=folder)
    assert sent.returncode == 0, sent.stderr
    data = json.loads(sent.stdout)
    assert data["urgent"] is True and data["held"] == 0
    assert data["families"] == len(_guardians())


def test_saved_lists_name_unknown_students_and_save_nothing(folder: Path) -> None:
    bad = run("lists", "save", "Choir", "S001", "S999", cwd=folder)
    assert bad.returncode == 1 and "S999" in bad.stderr and "nothing saved" in bad.stderr
    assert json.loads(run("lists", "show", "--json", cwd=folder).stdout) == []
    good = run("lists", "save", "Choir", "S001", "S003", cwd=folder)
    assert good.returncode == 0, good.stderr
    done = run("announce", "--list", "choir", "--from", TEACHER, "Choir at 3pm.", "--json",
               cwd=folder)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["children"] == 2
