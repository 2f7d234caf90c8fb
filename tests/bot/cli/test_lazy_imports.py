"""`schoolgate --help` stays quick: the command line loads the web stack, the models,
SQLAlchemy, pydantic's settings, lingua and babel only inside the commands that use them.

Checked by what a fresh interpreter has imported (sys.modules), not by a clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[3]

#: what a person asking for help never needs (each costs tens to hundreds of ms)
HEAVY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "pydantic_settings",
         "lingua", "babel", "phonenumbers", "wordfreq", "jinja2", "twilio", "telegram",
         "httpx", "apscheduler", "icalendar", "holidays", "argon2", "ahocorasick",
         "sentry_sdk", "prometheus_client", "asyncio", "bot.store", "bot.web", "bot.config",
         "bot.runtime", "bot.inbound", "bot.outbound", "bot.language", "bot.journeys",
         "bot.records", "channels", "scheduler", "translations")

_REPORT = """
import json, sys
heavy = {heavy!r}
loaded = sorted(m for m in sys.modules
                if any(m == h or m.startswith(h + ".") for h in heavy))
print("LOADED=" + json.dumps(loaded))
"""


def _loaded_after(code: str) -> list[str]:
    script = textwrap.dedent(code) + _REPORT.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("LOADED="))
    return json.loads(line.removeprefix("LOADED="))


def test_importing_the_command_line_loads_nothing_heavy() -> None:
    assert _loaded_after("import bot.cli") == []


def test_help_of_every_command_loads_nothing_heavy() -> None:
    """Every command and subcommand's --help (and --version): typer builds every command's
    options, so a module-level import in any command module would show here."""
    loaded = _loaded_after("""
        import typer.main
        from bot.cli import app
        root = typer.main.get_command(app)

        def walk(command, path):
            yield path
            if hasattr(command, "commands"):  # a group (typer carries its own click)
                for name, sub in command.commands.items():
                    yield from walk(sub, [*path, name])

        seen = 0
        for path in [*walk(root, []), ["--version"]]:
            try:
                root.main([*path] if path == ["--version"] else [*path, "--help"],
                          prog_name="schoolgate", standalone_mode=False)
            except SystemExit:
                pass
            seen += 1
        assert seen > 40, seen  # every command was asked, not just the top
    """)
    assert loaded == []


def test_a_command_that_needs_the_models_still_gets_them(tmp_path: Path) -> None:
    """The other side: lazy imports must still load what a command uses (here `db current`
    on a new SQLite file: SQLAlchemy and the migrations)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "SCHOOLGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    done = subprocess.run([sys.executable, "-m", "bot", "db", "current"], cwd=tmp_path,
                          env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "empty (no schema yet)" in done.stdout
