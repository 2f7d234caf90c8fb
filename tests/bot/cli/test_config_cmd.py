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


def test_config_check_hides_every_secret(tmp_path: Path) -> None:
    from tests.bot.test_config_secrets import SECRETS

    done = _run(tmp_path, "config", "check", "--json", SMTP_HOST="smtp.school.test",
                SMTP_USERNAME="office", SMTP_FROM_ADDRESS="office@school.test",
                IMAP_HOST="imap.school.test", TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                TWILIO_FROM_NUMBER="+447700900000", **SECRETS)
    assert done.returncode == 0, done.stderr
    import json

    shown = json.loads(done.stdout)
    for name, value in SECRETS.items():
        assert shown[name] == "(set, hidden)", name
        assert value not in done.stdout + done.stderr


def test_config_template_prints_the_env_example(tmp_path: Path) -> None:
    """A wheel user has no repository: the template ships in the package, and is the
    repository's .env.example byte for byte (edit one, copy it to the other)."""
    done = _run(tmp_path, "config", "template")
    assert done.returncode == 0, done.stderr
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert done.stdout == example, ("bot/data/env.example differs from .env.example: "
                                    "cp .env.example bot/data/env.example")
    assert "SCHOOLGATE_DATABASE_URL=" in done.stdout and "TWILIO_AUTH_TOKEN=" in done.stdout


def test_the_template_is_valid_as_a_dotenv_file(tmp_path: Path) -> None:
    """`schoolgate config template > .env` then `config check`: accepted as it is."""
    (tmp_path / ".env").write_text(_run(tmp_path, "config", "template").stdout)
    done = _run(tmp_path, "config", "check")
    assert done.returncode == 0, done.stderr
