"""A misspelt variable or a value that does not fit stops start-up with one line that
names the variable (and, for a near miss, the name that was meant)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import get_settings, unknown_variables
from bot.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SCHOOLGATE_", "TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_"))}
    return subprocess.run([sys.executable, "-m", "bot", "db", "current"],
                          env={**clean, "PYTHONPATH": str(ROOT), **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_a_typo_in_a_variable_name_stops_start_up_with_the_name_meant(tmp_path: Path) -> None:
    """Issue 18: SCHOOLGATE_DATBASE_URL quietly used SQLite in the current folder."""
    done = _run(tmp_path, SCHOOLGATE_DATBASE_URL="postgresql+psycopg://db.internal/school")
    assert done.returncode == 1
    assert done.stderr.strip() == ("error: configuration refused: SCHOOLGATE_DATBASE_URL is "
                                   "not a setting: did you mean SCHOOLGATE_DATABASE_URL?")
    assert not (tmp_path / "schoolgate.db").exists()  # nothing was created meanwhile


def test_a_typo_in_the_env_file_is_caught_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SCHOOLGATE_PUBLC_URL=https://school.example\n")
    done = _run(tmp_path)
    assert done.returncode == 1 and "did you mean SCHOOLGATE_PUBLIC_URL?" in done.stderr


def test_a_bad_value_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    done = _run(tmp_path, SCHOOLGATE_WORKER_BATCH_SIZE="many")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: configuration refused: SCHOOLGATE_WORKER_BATCH_SIZE: ")
    assert "(got 'many')" in line
    nested = _run(tmp_path, TWILIO_RATE_PER_SECOND="fast")
    assert "TWILIO_RATE_PER_SECOND: " in nested.stderr and len(
        nested.stderr.strip().splitlines()) == 1


def test_the_providers_own_variables_pass_but_near_misses_of_ours_do_not() -> None:
    assert unknown_variables({"TWILIO_REGION": "ie1", "TWILIO_EDGE": "dublin",
                              "PATH": "/usr/bin", "SCHOOLGATE_TEST_DATABASE_URL": "x"}) == []
    assert unknown_variables({"TWILIO_AUTH_TOKN": "x", "SMTP_PASWORD": "y"}) == [
        "SMTP_PASWORD is not a setting: did you mean SMTP_PASSWORD?",
        "TWILIO_AUTH_TOKN is not a setting: did you mean TWILIO_AUTH_TOKEN?"]
    assert unknown_variables({"SCHOOLGATE_FLAVOUR": "x"}) == [
        "SCHOOLGATE_FLAVOUR is not a setting (the settings are listed in .env.example)"]


def test_every_variable_in_env_example_is_known() -> None:
    names = {line.split("=", 1)[0].strip().lstrip("# ")
             for line in (ROOT / ".env.example").read_text().splitlines()
             if "=" in line and not line.startswith("# ") and line.strip()}
    assert names and unknown_variables({n: "" for n in names}) == []


def test_get_settings_refuses_a_typo_in_this_process(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHOOLGATE_OUTBOX_DRI", "/tmp/out")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="did you mean SCHOOLGATE_OUTBOX_DIR"):
            get_settings()
    finally:
        get_settings.cache_clear()
