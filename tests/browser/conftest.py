"""A real browser against the real server: Debian's chromium driven by Playwright.

The app runs under uvicorn in a background thread on 127.0.0.1 (a free port), on a
SQLite file, with the outbox worker running, messages written to the test's outbox
folder and machine translation from the local LibreTranslate stand-in. Screenshots go
to `tmp_path/screenshots`, and also to $SCHOOLGATE_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.runtime.context import Context
from tests import factories as f
from tests.bot.web.staff.helpers import PASSWORD, account
from tests.conftest import make_settings
from tests.standins.libretranslate import LibreTranslateStandIn

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-sync", "--disable-default-apps", "--metrics-recording-only",
        "--no-default-browser-check"]
# read now: the isolation fixture clears SCHOOLGATE_* variables before each test
EXTRA_SCREENSHOTS = os.environ.get("SCHOOLGATE_SCREENSHOTS")

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - reported as a skip with the reason
    sync_playwright = None  # type: ignore[assignment]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium with background networking off (no test reaches the internet).

    Module scope, not session: Playwright's sync API keeps an event loop running on this
    thread while it is open, and later tests call asyncio.run()."""
    if sync_playwright is None:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does this)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield launched
        launched.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Site:
    """The running server and what a test needs around it."""

    url: str
    ctx: Context
    outbox: Path
    ids: dict[str, int]
    shots: list[Path]
    translator: LibreTranslateStandIn

    def shot(self, page: Page, name: str) -> None:
        """A full-page screenshot in every screenshot folder."""
        for folder in self.shots:
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def wait_for(self, found: Callable[[], Any], what: str, seconds: float = 30) -> Any:
        """Poll until `found()` returns something (the worker runs in the background)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = found()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"gave up waiting for {what}")

    def outbox_files(self, channel: str = "sms") -> list[str]:
        """The texts of every file the outbox channel wrote."""
        folder = self.outbox / channel
        return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.*"))] \
            if folder.is_dir() else []


def _seed(ctx: Context) -> dict[str, int]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = account(s, school, name="Ms Nowak", email="nowak@school.test",
                          role_description="Zofia's class teacher")
        other = account(s, school, name="Mr Jones", email="jones@school.test")
        office = account(s, school, "office", name="Olu Office", email="office@school.test")
        child = f.student(s, school, teacher, first_name="Zofia", last_name="Kowalska",
                          class_name="4A")
        mum = f.guardian(s, school, child, first_name="Marta", last_name="Kowalska",
                         language="pl", phone="+447700900321", email=None,
                         channel_order=["sms"])
        other_child = f.student(s, school, other, first_name="Tom", class_name="4B")
        other_family = f.guardian(s, school, other_child, first_name="Dan")
        return {"teacher": teacher.id, "office": office.id, "child": child.id,
                "guardian": mum.id, "other_family": other_family.id}


@pytest.fixture
def site(sqlite_url: str, tmp_path: Path) -> Iterator[Site]:
    """The whole app, serving on a free port, with its worker sending to the outbox folder."""
    import uvicorn

    from bot.web.serve import build_server_app

    port = _free_port()
    with LibreTranslateStandIn() as lt:
        settings = make_settings(sqlite_url, tmp_path, translation_backend="libretranslate",
                                 translation_url=lt.url, worker_poll_seconds=0.2,
                                 public_url=f"http://127.0.0.1:{port}")
        ctx = Context(settings)
        ids = _seed(ctx)
        server = uvicorn.Server(uvicorn.Config(build_server_app(ctx), host="127.0.0.1",
                                               port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        shots = [tmp_path / "screenshots"]
        if EXTRA_SCREENSHOTS:
            shots.append(Path(EXTRA_SCREENSHOTS))
        try:
            yield Site(f"http://127.0.0.1:{port}", ctx, settings.outbox_dir, ids, shots, lt)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            ctx.engine.dispose()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page for one test."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


def sign_in(page: Page, site: Site, email: str = "nowak@school.test") -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{site.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/")

