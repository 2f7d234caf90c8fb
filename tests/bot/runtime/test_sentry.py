"""Error reports reach Sentry (here a local stand-in) with no personal data in them.

The crashes run in a child process: the SDK patches FastAPI, logging and threading for
the life of a process, and the rest of the suite must not run under it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from bot.runtime.sentry import REMOVED, scrub_breadcrumb, scrub_event, scrub_url
from tests.standins.sentry import SentryStandin

ROOT = Path(__file__).parents[3]
PHONE = "+447700900123"
EMAIL = "amara.okafor@example.org"
NAME = "Amara Okafor"
BODY = "Ayaan has a temperature and stays home today"
TOKEN = "Pk7Qw2ZxTokenOfAFamily9"
ADDRESS = "203.0.113.9"
COOKIE = "sessioncookievalue77"
PERSONAL = (PHONE, "7700900123", "7700 900123", EMAIL, "amara.okafor", NAME, "Okafor",
            BODY, "temperature", TOKEN, ADDRESS, COOKIE)

CRASHES = f"""
import logging
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from bot.config import Settings
from bot.runtime.sentry import init_sentry, report

assert init_sentry(Settings(_env_file=None, sentry_dsn=DSN))
log = logging.getLogger("bot.inbound.example")
app = FastAPI()


@app.post("/pack/{{token}}")
async def crash_in_a_request(request: Request, token: str) -> None:
    form = await request.form()
    phone, body, email, guardian = form["From"], form["Body"], {EMAIL!r}, {NAME!r}
    log.warning("reply from %s: %s", phone, body)  # careless: its arguments never leave
    log.info("reply about %s stored", guardian)
    raise RuntimeError(f"could not route {{body}} from {{phone}} ({{email}}, {{guardian}})")


client = TestClient(app, raise_server_exceptions=False)
answer = client.post("/pack/{TOKEN}?email={EMAIL}", data={{"From": {PHONE!r}, "Body": {BODY!r}}},
                     headers={{"Cookie": "session={COOKIE}", "X-Forwarded-For": {ADDRESS!r},
                               "X-Real-Ip": {ADDRESS!r}}})
assert answer.status_code == 500


def crash_the_command_line_catches(number: str, text: str) -> None:
    log.error("sending to %s failed", number)  # an error log is an event of its own
    raise ValueError(f"{{number}} refused {{text}} for {NAME}")


try:
    crash_the_command_line_catches({PHONE!r}, {BODY!r})
except ValueError as exc:
    report(exc)
import sentry_sdk
sentry_sdk.flush(timeout=10)
"""


def _run_crashes(standin: SentryStandin, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOLGATE_")}
    script = f"DSN = {standin.dsn!r}\n" + textwrap.dedent(CRASHES)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                          env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_crashes_reach_sentry_with_no_personal_data(tmp_path: Path) -> None:
    with SentryStandin.running() as standin:
        _run_crashes(standin, tmp_path)
    events = standin.events()
    # what a developer needs is there: the exception types and the functions they came from
    types = {v["type"] for e in events for v in (e.get("exception") or {}).get("values", [])}
    assert {"RuntimeError", "ValueError"} <= types
    frames = json.dumps(events)
    assert "crash_in_a_request" in frames and "crash_the_command_line_catches" in frames
    logged = [e["logentry"]["message"] for e in events if e.get("logentry")]
    assert "sending to %s failed" in logged  # the template, not the number
    request = next(e["request"] for e in events if e.get("request"))
    assert request["method"] == "POST" and request["url"].endswith("/pack/*")
    crumbs = [c.get("message") for e in events
              for c in (e.get("breadcrumbs") or {}).get("values", [])]
    assert "reply from %s: %s" in crumbs
    # and no personal value, anywhere in any envelope
    received = b"".join(standin.envelopes).decode("utf-8", "replace")
    assert received
    for value in PERSONAL:
        assert value not in received, value
    assert standin.refused == 0


def test_no_dsn_no_reports_and_no_sdk(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHOOLGATE_")}
    script = ("import sys\nfrom bot.config import Settings\n"
              "from bot.runtime.sentry import init_sentry, report\n"
              "assert not init_sentry(Settings(_env_file=None))\n"
              "report(RuntimeError('x'))\n"
              "assert 'sentry_sdk' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                          env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_scrub_event_empties_every_place_data_can_sit() -> None:
    """Whatever an integration puts in: local variables, request data, user, extras."""
    event = {
        "exception": {"values": [{"type": "KeyError", "value": f"'{EMAIL}'",
                                  "stacktrace": {"frames": [
                                      {"function": "route", "vars": {"body": BODY}}]}}]},
        "threads": {"values": [{"stacktrace": {"frames": [{"vars": {"phone": PHONE}}]}}]},
        "request": {"method": "POST", "url": f"https://gate.example.org/unsubscribe/{TOKEN}",
                    "data": {"Body": BODY}, "query_string": f"e={EMAIL}",
                    "cookies": {"session": COOKIE}, "env": {"REMOTE_ADDR": ADDRESS},
                    "headers": {"Content-Type": "text/plain", "X-Forwarded-For": ADDRESS}},
        "user": {"ip_address": ADDRESS}, "extra": {"name": NAME},
        "contexts": {"runtime": {"name": "CPython"}, "response": {"body": BODY}},
        "logentry": {"message": "to %s", "params": [PHONE], "formatted": f"to {PHONE}"},
        "breadcrumbs": {"values": [{"message": f"sent to {EMAIL} and {PHONE}",
                                    "data": {"body": BODY}}]},
    }
    out = json.dumps(scrub_event(event))
    for value in PERSONAL:
        assert value not in out, value
    assert REMOVED in out and "CPython" in out and "KeyError" in out
    assert "[email]" in out and "[number]" in out


def test_a_log_breadcrumb_keeps_its_template_only() -> None:
    import logging

    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "reply from %s", (PHONE,),
                               None)
    crumb = scrub_breadcrumb({"message": f"reply from {PHONE}", "data": {"args": PHONE}},
                             {"log_record": record})
    assert crumb == {"message": "reply from %s", "data": {}}


def test_urls_lose_tokens_query_and_credentials() -> None:
    assert scrub_url(f"https://api.telegram.org/bot123456:{TOKEN}/sendMessage?chat_id=5") \
        == "https://api.telegram.org/*/sendMessage"
    assert scrub_url(f"https://user:{COOKIE}@gate.example.org:8443/pack/{TOKEN}#x") \
        == "https://gate.example.org:8443/pack/*"
    assert scrub_url("http://127.0.0.1:8000/webhooks/twilio/sms") \
        == "http://127.0.0.1:8000/webhooks/twilio/sms"
