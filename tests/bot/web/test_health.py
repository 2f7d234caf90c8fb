"""/healthz, /readyz and /metrics as a monitoring system and a load balancer see them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.inbound import inbox
from bot.journeys.good_news import queue_good_news
from bot.runtime.context import Context
from bot.store.heartbeats import beat
from bot.web.app import create_app
from channels.sms import parse_inbound
from tests import factories as f
from tests.clocks import FakeClock

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "metrics-token-for-tests-0123456789"  # a test value


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    ctx.settings.metrics_token = TOKEN
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def test_healthz_answers_get_and_head(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.head("/healthz").status_code == 200  # was 405


def test_readyz_needs_a_live_background_process_and_scheduler(
        ctx: Context, client: TestClient, clock: FakeClock) -> None:
    nobody = client.get("/readyz")
    assert nobody.status_code == 503
    assert any("background process" in p for p in nobody.json()["problems"])
    beat(ctx.factory, "background", "host:1")
    beat(ctx.factory, "scheduler", "host:1", {"runs": {}, "failures": {}})
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    clock.advance(seconds=3 * ctx.settings.heartbeat_seconds + 1)  # three beats missed
    beat(ctx.factory, "scheduler", "host:1")
    gone = client.get("/readyz")
    assert gone.status_code == 503 and gone.json()["problems"] == [
        f"background process: no heartbeat for {3 * ctx.settings.heartbeat_seconds:.0f} s "
        "(is `schoolgate background` running?)"]


def _metrics(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):  # the official text-format parser
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = \
                sample.value
    return found


def test_metrics_parse_and_count_what_the_database_holds(ctx: Context,
                                                         client: TestClient) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school)
        for n in range(3):
            child = f.student(s, school, teacher)
            f.guardian(s, school, child, phone=f"+44770090050{n}")
            queue_good_news(s, school, child, teacher, "Lovely reading today.", {"sms"})
    inbox.store(ctx.factory, parse_inbound(
        {"From": "+447700900500", "Body": "Thanks", "MessageSid": "SMmetrics"}))
    beat(ctx.factory, "scheduler", "host:1", {"runs": {"notify_staff": 7},
                                              "failures": {"notify_staff": 1}})
    client.post("/webhooks/twilio/sms", data={"From": "x"})  # refused (unsigned): still timed
    page = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    m = _metrics(page.text)
    assert m["schoolgate_deliveries"][(("channel", "sms"), ("status", "queued"))] == 3
    assert m["schoolgate_inbound_messages"][(("channel", "sms"), ("status", "received"))] == 1
    assert m["schoolgate_scheduler_job_runs"][(("job", "notify_staff"),)] == 7
    assert m["schoolgate_scheduler_job_failures"][(("job", "notify_staff"),)] == 1
    assert m["schoolgate_webhook_seconds_count"][(("route", "twilio/sms"),)] == 1
    assert "schoolgate_routing_lag_seconds" in m
    assert "+4477" not in page.text and "Thanks" not in page.text  # counts, nothing personal


def test_metrics_only_for_loopback_or_the_token(ctx: Context) -> None:
    ctx.settings.metrics_token = TOKEN
    app = create_app(ctx)
    with TestClient(app, client=("203.0.113.9", 40000)) as outside:
        assert outside.get("/metrics").status_code == 403
        assert outside.get("/metrics", headers={"Authorization": "Bearer wrong"}
                           ).status_code == 403
        assert outside.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                           ).status_code == 200
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        assert local.get("/metrics").status_code == 200
        # a proxy on the same machine forwarding someone else: not loopback any more
        assert local.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"}
                         ).status_code == 403


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, status: int, deadline: float = 90.0) -> httpx.Response:
    """Poll until the page answers `status` (the deadline only guards against a hang)."""
    end = time.monotonic() + deadline
    while True:
        try:
            answer = httpx.get(url, timeout=5)
            if answer.status_code == status:
                return answer
        except httpx.HTTPError:
            pass
        assert time.monotonic() < end, f"{url} never answered {status}"
        time.sleep(0.2)


def test_readyz_follows_the_companion_process_killed_and_started_again(
        sqlite_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCHOOLGATE_DATABASE_URL": sqlite_url,
           "SCHOOLGATE_OUTBOX_DIR": str(tmp_path / "outbox"),
           "SCHOOLGATE_HEARTBEAT_SECONDS": "0.5", "SCHOOLGATE_PORT": str(port)}
    serve = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        first = _wait(url, 200).json()
        holder = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "schoolgate_heartbeat_age_seconds" in holder
        companion = _companion_of(serve.pid)
        os.kill(companion, signal.SIGKILL)
        down = _wait(url, 503).json()
        assert any("background process" in p for p in down["problems"])
        again = _wait(url, 200).json()  # the web process starts it again
        assert _companion_of(serve.pid) != companion
        assert first["status"] == again["status"] == "ready"
    finally:
        serve.terminate()
        serve.wait(timeout=60)


def _companion_of(parent: int) -> int:
    """The pid of `schoolgate background` started by `parent` (from /proc)."""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat[1]) == parent and b"background" in cmdline and stat[0] != "Z":
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError("no companion process found")
