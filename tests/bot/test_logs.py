"""SCHOOLGATE_LOG_FORMAT=json: one JSON object a line, as a log collector reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_json_log_lines_from_a_command(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SCHOOLGATE_")},
           "PYTHONPATH": str(ROOT), "SCHOOLGATE_LOG_FORMAT": "json"}
    done = subprocess.run([sys.executable, "-m", "bot", "-v", "db", "upgrade"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines and all(set(line) >= {"at", "level", "logger", "message"} for line in lines)
    assert any(line["logger"].startswith("alembic") for line in lines)
    assert all(line["at"].endswith("+00:00") for line in lines)
