"""Reviewed translation from the command line: a translator account, and the school's
wait-for-review settings shown, set (checked) and refused with one line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.cli.test_policy import run


def test_the_review_settings_are_shown_set_and_refused_in_one_line(tmp_path: Path) -> None:
    data = json.loads(run("policy", "show", "--json", cwd=tmp_path).stdout)
    assert data["review_languages"]["value"] == [] and data["review_wait_hours"]["value"] == 24
    assert "translator" in data["review_languages"]["about"]
    changed = run("policy", "set", "review_languages", "pl, so", cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.split() == ["review_languages", "pl,so", "(default", "none)"]
    refused = run("policy", "set", "review_wait_hours", "200", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("error: review_wait_hours must be a number of "
                                             "hours above 0 and at most 168")
    shown = run("policy", "show", cwd=tmp_path).stdout.splitlines()
    assert any(line.split() == ["review_wait_hours", "24", "(default)"] for line in shown)


def test_a_translator_account_can_be_added(tmp_path: Path) -> None:
    from tests.bot.cli.test_staff import run as staff_run

    added = staff_run("staff", "add", "--email", "ola@school.test", "--name", "Ola Nowak",
                      "--role", "translator", "--password-stdin", "--json", cwd=tmp_path,
                      stdin="a long enough secret\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["role"] == "translator"
    wrong = staff_run("staff", "add", "--email", "x@school.test", "--name", "X",
                      "--role", "volunteer", "--password-stdin", cwd=tmp_path,
                      stdin="a long enough secret\n")
    assert wrong.returncode != 0 and "translator" in wrong.stderr
