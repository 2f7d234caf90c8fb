"""`schoolgate config check` and `--version`, as an IT person runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot import __version__

ROOT = Path(__file__).resolve().parents[3]


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SCHOOLGATE_", "TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path,
                          env={**clean, "PYTHONPATH": str(ROOT), **env},
                          capture_output=True, text=True, timeout=120)


def test_config_check_shows_what_differs_and_never_a_secret(tmp_path: Path) -> None:
    done = _run(tmp_path, "config", "check", TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                TWILIO_AUTH_TOKEN="s3cr3t-twilio-token", TWILIO_FROM_NUMBER="+447700900000",
                SMTP_HOST="smtp.school.test", SMTP_PASSWORD="s3cr3t-mail-password",
                SMTP_FROM_ADDRESS="office@school.test",
                SCHOOLGATE_DATABASE_URL="postgresql+psycopg://sg:s3cr3t-db@db.test/sg")
    assert done.returncode == 0, done.stderr
    assert "configuration is valid" in done.stdout
    assert "TWILIO_AUTH_TOKEN=(set, hidden)" in done.stdout
    assert "SMTP_PASSWORD=(set, hidden)" in done.stdout
    assert "SCHOOLGATE_DATABASE_URL=postgresql+psycopg://sg:***@db.test/sg" in done.stdout
    assert "SMTP_HOST=smtp.school.test" in done.stdout
    assert "s3cr3t" not in done.stdout + done.stderr
    assert "SCHOOLGATE_TIMEZONE" not in done.stdout  # a default: shown only with --all
    everything = _run(tmp_path, "config", "check", "--all")
    assert "SCHOOLGATE_TIMEZONE=Europe/London" in everything.stdout


def test_config_check_refuses_a_typo(tmp_path: Path) -> None:
    done = _run(tmp_path, "config", "check", SCHOOLGATE_STAFF_LANGAUGE="pl")
    assert done.returncode == 1
    assert "did you mean SCHOOLGATE_STAFF_LANGUAGE?" in done.stderr


def test_version(tmp_path: Path) -> None:
    done = _run(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"schoolgate {__version__}"
