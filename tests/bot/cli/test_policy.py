"""`schoolgate policy show / set / reset` as a user meets them: one line, exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in `cwd` on that folder's SQLite database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOLGATE_")}
    env["SCHOOLGATE_DATABASE_URL"] = f"sqlite:///{cwd / 'sg.db'}"
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_show_lists_every_setting_with_its_default(tmp_path: Path) -> None:
    shown = run("policy", "show", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(line.split() == ["weekly_cap", "3", "(default)"] for line in lines)
    assert any(line.split() == ["school_hours.start", "08:30", "(default)"] for line in lines)
    data = json.loads(run("policy", "show", "--json", cwd=tmp_path).stdout)
    assert data["ladder_days"] == {"value": 3, "is_default": True, "default": 3,
                                   "about": data["ladder_days"]["about"]}
    assert data["escalate_after_hours"]["value"] == 4.0


def test_set_then_show_then_reset(tmp_path: Path) -> None:
    changed = run("policy", "set", "weekly_cap", "5", cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.split() == ["weekly_cap", "5", "(default", "3)"]
    assert run("policy", "set", "school_hours.days", "mon,tue,wed,thu", cwd=tmp_path
               ).returncode == 0
    data = json.loads(run("policy", "show", "--json", cwd=tmp_path).stdout)
    assert data["weekly_cap"]["value"] == 5 and data["weekly_cap"]["is_default"] is False
    assert data["school_hours.days"]["value"] == ["mon", "tue", "wed", "thu"]
    assert data["quiet_start"]["is_default"] is True
    reset = run("policy", "reset", "weekly_cap", "--json", cwd=tmp_path)
    assert json.loads(reset.stdout)["weekly_cap"]["is_default"] is True


def test_unknown_key_and_bad_value_are_one_line_and_exit_code_2(tmp_path: Path) -> None:
    unknown = run("policy", "set", "quiet_begin", "19:00", cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: unknown policy setting 'quiet_begin'; known: "
                                     "quiet_start, quiet_end,")
    assert len(unknown.stderr.strip().splitlines()) == 1
    bad = run("policy", "set", "weekly_cap", "lots", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == ("error: weekly_cap must be a whole number from 1 to 50, "
                                  "got 'lots'")
    assert "Traceback" not in unknown.stderr + bad.stderr
    data = json.loads(run("policy", "show", "--json", cwd=tmp_path).stdout)
    assert data["weekly_cap"]["value"] == 3  # nothing stored
