"""`schoolgate serve` as an operator runs it: the web process answers, its companion
process routes the reply and sends the acknowledgement, and both stop together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.runtime.context import Context
from bot.store.models import Delivery, DeliveryStatus, InboundMessage, InboundStatus
from bot.web.serve import build_server_app
from tests import factories as f
from tests.conftest import make_settings
from tests.standins.smtp import free_port
from tests.standins.twilio import FROM_NUMBER, TwilioStandin

ROOT = Path(__file__).resolve().parents[3]
PHONE = "+447700900123"


def _children(pid: int) -> dict[int, str]:
    """A process's children (Linux /proc): pid and command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes() \
                        .replace(b"\0", b" ").decode()
            except (OSError, ValueError, IndexError):
                continue
    return found


@pytest.fixture
def twilio() -> Iterator[TwilioStandin]:
    with TwilioStandin.running() as standin:
        yield standin


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads child processes from /proc")
def test_serve_answers_and_its_companion_routes_then_both_stop(
        db_url: str, tmp_path: Path, twilio: TwilioStandin) -> None:
    ctx = Context(make_settings(db_url, tmp_path))
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        f.guardian(s, school, f.student(s, school, f.staff(s, school, name="Ms Key")),
                   phone=PHONE, language="pl")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "SMTP_", "IMAP_", "TELEGRAM_", "SCHOOLGATE_"))}
    env.update({"SCHOOLGATE_DATABASE_URL": db_url, "SCHOOLGATE_PUBLIC_URL": base,
                "SCHOOLGATE_OUTBOX_DIR": str(tmp_path / "outbox"),
                "TWILIO_ACCOUNT_SID": twilio.account_sid,
                "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_FROM_NUMBER": FROM_NUMBER,
                "TWILIO_API_BASE_URL": twilio.url})
    web = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)],
                           cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert web.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        form = twilio.inbound_form(PHONE, "Dziękuję, do zobaczenia w piątek")
        answer = httpx.post(base + "/webhooks/twilio/sms", data=form,
                            headers=twilio.webhook_headers(base + "/webhooks/twilio/sms",
                                                           form))
        assert answer.status_code == 200
        companions = [pid for pid, cmd in _children(web.pid).items()
                      if "bot background --parent" in cmd]
        assert len(companions) == 1
        routed, sent = _wait_for_routing(ctx, deadline=time.monotonic() + 60)
        assert routed == InboundStatus.ROUTED  # by the companion, not the web process
        assert sent == DeliveryStatus.SENT  # the Polish acknowledgement went through Twilio
        assert [m["to"] for m in twilio.messages] == [PHONE]
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        ctx.engine.dispose()
    assert web.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it caught
    assert not _alive(companions[0])  # the companion stopped with it


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for_routing(ctx: Context, deadline: float) -> tuple[str, str | None]:
    while True:
        with ctx.factory() as s:
            status = s.scalar(select(InboundMessage.status))
            sent = s.scalar(select(Delivery.status))
        if (status == InboundStatus.ROUTED and sent == DeliveryStatus.SENT) \
                or time.monotonic() > deadline:
            return status or "", sent
        time.sleep(0.2)


def test_serve_without_workers_stores_and_leaves_routing_to_the_background_process(
        ctx: Context) -> None:
    assert build_server_app(ctx, workers="none").state.route_after_response is False
    assert build_server_app(ctx, workers="process").state.route_after_response is False
    assert build_server_app(ctx).state.route_after_response is True  # inline
    with pytest.raises(ValueError, match="process, inline or none"):
        build_server_app(ctx, workers="threads")  # type: ignore[arg-type]
