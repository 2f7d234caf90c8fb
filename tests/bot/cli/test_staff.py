"""`schoolgate staff add` and `staff list`: accounts for the web app, passwords never in argv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import select

from bot.store import make_engine, make_session_factory
from bot.store.models import AuditEntry, Staff


def run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in `cwd` on that folder's SQLite database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOLGATE_")}
    env["SCHOOLGATE_DATABASE_URL"] = f"sqlite:///{cwd / 'sg.db'}"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_staff_add_reads_the_password_from_stdin_and_hashes_it(tmp_path: Path) -> None:
    added = run("staff", "add", "--email", "Head@School.test", "--name", "Mrs Patel",
                "--role", "admin", "--password-stdin", "--json", cwd=tmp_path,
                stdin="a long enough secret\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["created"] is True
    engine = make_engine(f"sqlite:///{tmp_path / 'sg.db'}")
    with make_session_factory(engine)() as s:
        staff = s.scalar(select(Staff))
        assert staff is not None and staff.role == "admin"
        assert staff.password_hash and "a long enough secret" not in staff.password_hash
        assert PasswordHasher().verify(staff.password_hash, "a long enough secret")
        audit = s.scalar(select(AuditEntry).where(AuditEntry.action == "staff_added"))
        assert audit is not None and "Patel" not in json.dumps(audit.detail)
    engine.dispose()
    listed = run("staff", "list", "--json", cwd=tmp_path)
    assert json.loads(listed.stdout)[0]["can_sign_in"] is True


def test_staff_add_refuses_short_passwords_bad_roles_and_no_terminal(tmp_path: Path) -> None:
    short = run("staff", "add", "--email", "a@school.test", "--name", "A", "--password-stdin",
                cwd=tmp_path, stdin="short\n")
    assert short.returncode == 1
    assert short.stderr.strip() == "error: the password needs at least 10 characters"
    role = run("staff", "add", "--email", "a@school.test", "--name", "A", "--role", "head",
               "--password-stdin", cwd=tmp_path, stdin="a long enough secret\n")
    assert role.returncode == 1 and "--role must be one of admin, office, teacher" in role.stderr
    piped = run("staff", "add", "--email", "a@school.test", "--name", "A", cwd=tmp_path)
    assert piped.returncode == 1 and "--password-stdin" in piped.stderr
    assert "Traceback" not in short.stderr + role.stderr + piped.stderr
