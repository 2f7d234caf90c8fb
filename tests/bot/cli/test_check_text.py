"""check-text --fix and the school's jargon policy, as a member of staff meets them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
JARGON = "The SENCO says well done"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` in `cwd`, with no schoolgate settings from outside, no terminal."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCHOOLGATE_", "TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def test_fix_prints_the_text_with_plain_words_and_what_changed(tmp_path: Path) -> None:
    result = run("check-text", "--fix", "Ask the SENCO.", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0] == "Ask the teacher who organises extra help for children."
    assert lines[1] == 'changed: "SENCO" -> "teacher who organises extra help for children"'
    assert "jargon:" not in result.stdout
    data = json.loads(run("check-text", "--fix", "--json", "Ask the SENCO.", cwd=tmp_path).stdout)
    assert data["text"] == "Ask the teacher who organises extra help for children."
    assert data["changes"] == [{"found": "SENCO", "plain": "teacher who organises extra help "
                                "for children", "start": 8, "end": 13}]
    assert data["report"]["jargon"] == []


def test_the_school_policy_decides_what_jargon_does(tmp_path: Path) -> None:
    send = ("good-news", "--student", "NOPE", "--from", "x@example.org", JARGON)
    warned = run(*send, cwd=tmp_path)  # warn (the default): on to the next check
    assert 'jargon: "SENCO"' in warned.stderr
    assert warned.stderr.strip().endswith("error: no student with id 'NOPE'")

    assert run("policy", "set", "jargon", "block", cwd=tmp_path).returncode == 0
    blocked = run(*send, cwd=tmp_path)
    assert blocked.returncode == 1
    assert blocked.stderr.strip().endswith('(say "the teacher who organises extra help for '
                                           'children"). Say it plainly.')

    assert run("policy", "set", "jargon", "confirm", cwd=tmp_path).returncode == 0
    unconfirmed = run(*send, cwd=tmp_path)  # no terminal to ask on: refused
    assert unconfirmed.returncode == 1
    assert "or confirm to send it as it is" in unconfirmed.stderr
    plain = run("good-news", "--student", "NOPE", "--from", "x@example.org", "Well done",
                cwd=tmp_path)
    assert plain.stderr.strip() == "error: no student with id 'NOPE'"
