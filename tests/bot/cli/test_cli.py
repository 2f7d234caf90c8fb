"""The command line as a user meets it: help on every command, one-line errors, the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import app

ROOT = Path(__file__).resolve().parents[3]
COMMANDS = ["demo", "serve", "worker", "import-roster", "good-news", "invite", "log",
            "simulate-reply", "review", "db", "actions", "reply", "export", "unreachable",
            "check-text", "translate", "channels", "telegram-link", "rsvps"]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m bot ARGS` in `cwd` with a clean schoolgate environment."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SCHOOLGATE_", "TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_"))}
    base["PYTHONPATH"] = str(ROOT)
    base["COLUMNS"] = "200"
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=120)


def test_every_command_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"], terminal_width=200)
    assert top.exit_code == 0
    registered = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert set(COMMANDS) <= set(registered)  # DESIGN.md's public interface
    for command in registered:
        assert command in top.stdout
        sub = runner.invoke(app, [command, "--help"], terminal_width=200)
        assert sub.exit_code == 0, sub.output
        assert "Usage" in sub.stdout


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    result = run("good-news", "--student", "NOPE", "--from", "x@example.org", "Well done",
                 cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no student with id 'NOPE'"
    assert "Traceback" not in result.stderr


def test_placeholder_secret_stops_start_up_with_the_variable_name(tmp_path: Path) -> None:
    result = run("worker", "--until-empty", cwd=tmp_path,
                 env={"TELEGRAM_BOT_TOKEN": "changeme"})
    assert result.returncode == 1
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_demo_runs_in_an_empty_folder_and_writes_outbox_files(tmp_path: Path) -> None:
    result = run("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "schoolgate.db").exists()
    sms = list((tmp_path / "outbox" / "sms").glob("*.json"))
    emails = list((tmp_path / "outbox" / "email").glob("*.eml"))
    assert sms and emails
    assert "routed to" in result.stdout
    log = run("log", "--student", "S001", "--json", cwd=tmp_path)
    entries = json.loads(log.stdout)
    assert [e["direction"] for e in entries].count("in") == 1
    assert any(e["kind"] == "invitation" and e["status"] == "sent" for e in entries)


def test_translate_previews_translation_and_back_translation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import get_settings
    from tests.standins.libretranslate import LibreTranslateStandIn

    with LibreTranslateStandIn() as server:
        monkeypatch.setenv("SCHOOLGATE_TRANSLATION_BACKEND", "libretranslate")
        monkeypatch.setenv("SCHOOLGATE_TRANSLATION_URL", server.url)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(
                app, ["translate", "--to", "pl", "--back", "--json",
                      "Please call 07700 900123 about the trip."])
        finally:
            get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    [preview] = json.loads(result.stdout)
    assert preview["translation"] == "<pl> Please call 07700 900123 about the trip."
    assert preview["back_translation"] == "<en> <pl> Please call 07700 900123 about the trip."
    assert "07700" not in server.sent_text()  # masked both ways


def test_translate_without_a_backend_says_how_to_set_one_up(tmp_path: Path) -> None:
    result = run("translate", "--to", "pl", "Hello", cwd=tmp_path)
    assert result.returncode == 1
    assert "SCHOOLGATE_TRANSLATION_BACKEND" in result.stderr


def test_family_that_texts_stop_on_its_only_channel_is_listed_unreachable() -> None:
    from bot.config import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    roster = ROOT / "examples" / "roster.csv"
    assert runner.invoke(app, ["import-roster", "--json", str(roster)]).exit_code == 0
    before = json.loads(runner.invoke(app, ["unreachable", "--json"]).stdout)
    # G002 (Marek) has only a phone and prefers SMS
    stop = runner.invoke(app, ["simulate-reply", "--from", "07700 900102", "STOP"])
    assert stop.exit_code == 0, stop.output
    after = json.loads(runner.invoke(app, ["unreachable", "--json"]).stdout)
    assert [r["guardian"] for r in before] == []
    assert [(r["guardian"], r["reason"]) for r in after] == [("G002", "sms: opted out")]


def test_import_roster_dry_run_counts_what_it_would_change_and_saves_nothing() -> None:
    from bot.config import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    roster = ROOT / "examples" / "roster.csv"
    checked = runner.invoke(app, ["import-roster", "--dry-run", "--json", str(roster)])
    assert checked.exit_code == 0, checked.output
    would = json.loads(checked.stdout)
    assert would["created_students"] > 0
    done = json.loads(runner.invoke(app, ["import-roster", "--json", str(roster)]).stdout)
    assert done["created_students"] == would["created_students"]  # nothing saved before
    assert done["created_guardians"] == would["created_guardians"]
