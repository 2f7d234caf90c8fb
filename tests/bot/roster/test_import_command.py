"""`schoolgate import-roster` as an office meets it: the summary, the exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.bot.roster.test_importer import _row, _write

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCHOOLGATE_", "TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_bad_rows_are_summarised_first_fifty_named_and_the_status_says_so(
        tmp_path: Path) -> None:
    rows = [_row(n) for n in range(1, 101)]
    for n in range(2, 62):  # 60 rows with a bad email, spreadsheet rows 3 to 62
        rows[n - 1] = _row(n, email=f"parent{n}.example.com")
    rows[80] = _row(81, student_first_name="Amy\r\nBcc: victim@evil.example")
    path = _write(tmp_path / "roster.csv", rows)
    result = _run("import-roster", str(path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("100 rows: students 39 new")
    named = [line for line in lines if line.startswith("row ")]
    assert len(named) == 50 and named[0].startswith("row 3, email:")
    assert "... and 11 more (--json lists them all)" in lines
    assert lines[-1].startswith("61 row(s) not imported")

    as_json = _run("import-roster", "--json", str(path), cwd=tmp_path)
    assert as_json.returncode == 2
    report = json.loads(as_json.stdout)
    assert report["rows_failed"] == 61 and len(report["errors"]) == 61
    assert report["unchanged_rows"] == 39  # the good rows, already in from the first run
    injected = [e for e in report["errors"] if e["row"] == 82]
    assert injected == [{"row": 82, "column": "student_first_name",
                         "reason": "contains a line break or control character "
                                   "(a line break); retype the value on one line"}]


def test_a_clean_file_exits_0_and_an_unreadable_one_1_with_one_line(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.csv", [_row(1), _row(2)])
    result = _run("import-roster", str(good), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "row " not in result.stdout
    bad = tmp_path / "bad.csv"
    bad.write_bytes(good.read_bytes() + b"S9,Zo\xe9\n")
    result = _run("import-roster", str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: ")
    assert "not UTF-8 text (line 4)" in result.stderr and "Traceback" not in result.stderr
