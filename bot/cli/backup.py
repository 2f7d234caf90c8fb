"""`schoolgate backup FILE` and `schoolgate restore FILE`: the database, kept and brought back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli import app, context, get_settings, out

FileArg = Annotated[Path, typer.Argument(help="The backup file.")]


@app.command("backup")
def backup_cmd(file: FileArg) -> None:
    """Write a consistent copy of the database to FILE (a new file), while it keeps working."""
    from bot.store.backup import backup

    settings = get_settings()
    ctx = context(upgrade=False)  # a backup is of what is there
    done = backup(ctx.engine, file)
    out.print(f"backed up the {done.backend} database to {done.path} ({done.size:,} bytes)",
              highlight=False)
    outbox = Path(settings.outbox_dir).resolve()
    files = sum(1 for p in outbox.rglob("*") if p.is_file()) if outbox.is_dir() else 0
    if files:
        out.print(f"not in it: the outbox folder {outbox} ({files} files); copy it too if "
                  "you keep what development mode wrote", highlight=False)
    out.print("not in it: your settings (.env or the service's environment). They hold the "
              "secrets: keep them too, separately from this file.", highlight=False)


@app.command("restore")
def restore_cmd(file: FileArg) -> None:
    """Restore FILE into the (new, empty) database SCHOOLGATE_DATABASE_URL names."""
    from bot.store.backup import restore

    ctx = context(upgrade=False)  # not migrated first: the database must be empty
    restore(ctx.engine, file)
    ctx = context()  # a backup from an older version is brought up to date
    out.print(f"restored {file} into "
              f"{ctx.engine.url.render_as_string(hide_password=True)}; schema up to date",
              highlight=False)
