"""`schoolgate serve` as a service manager starts it: address and port from the
environment, and one line at start-up saying where it listens and what it uses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_takes_host_and_port_from_the_environment_and_says_where(
        sqlite_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHOOLGATE_DATABASE_URL": sqlite_url,
           "SCHOOLGATE_OUTBOX_DIR": str(tmp_path / "outbox"), "SCHOOLGATE_HOST": "127.0.0.1",
           "SCHOOLGATE_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--no-workers"], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"schoolgate serving on http://127.0.0.1:{port}" in first
        assert "database sqlite" in first and "sms (outbox folder)" in first
        assert "background work elsewhere" in first
        deadline = time.monotonic() + 60  # a hang guard, not a timing assertion
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
        assert answer.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
