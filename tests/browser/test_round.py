"""The good-news round in a real browser: 30 children written by keyboard only (Enter to
the next child, Ctrl+Enter to queue), 30 deliveries queued, each family in its language;
a family's CALL that becomes a call-back on the dashboard, marked done from the reply
page. axe-core clean (WCAG A/AA) on the round, the tasks page and the dashboard."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.cli.support import simulate_reply
from bot.store.models import Delivery, Message, MessageKind, Staff, StaffTask
from tests import factories as f
from tests.browser.conftest import Site, sign_in

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover - the browser fixture skips with the reason
    pytest.skip("playwright or axe-playwright-python is not installed",
                allow_module_level=True)

pytestmark = pytest.mark.browser

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}
LANGUAGES = ("pl", "ar", "es", "uk", "ro")
PHONE = "+447700900321"  # Zofia's mother, seeded by the conftest


def _axe(page: Page, what: str) -> None:
    results = Axe().run(page, options=WCAG)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def _class_of_30(site: Site) -> dict[int, str]:
    """Zofia and 29 more of Ms Nowak's children, one family each, in five languages;
    returns each child's family language."""
    languages = {site.ids["child"]: "pl"}
    with site.ctx.factory() as s, s.begin():
        school = site.ctx.school(s)
        teacher = s.get(Staff, site.ids["teacher"])
        assert teacher is not None
        for n in range(29):
            code = LANGUAGES[n % len(LANGUAGES)]
            child = f.student(s, school, teacher, class_name="4A", first_name=f"Pupil{n:02d}",
                              last_name="Round")
            f.guardian(s, school, child, language=code, channel_order=["sms"],
                       phone=f"+4477009{n + 20:05d}")
            languages[child.id] = code
    return languages


def test_a_round_of_30_by_keyboard_queues_each_family_in_its_language(page: Page,
                                                                       site: Site) -> None:
    languages = _class_of_30(site)
    sign_in(page, site)
    page.get_by_role("link", name="Start the good-news round").click()
    expect(page.get_by_role("heading", name="Good-news round", exact=True)).to_be_visible()
    notes = page.locator("textarea.round-note")
    expect(notes).to_have_count(30)
    expect(page.locator("#round-keys")).to_be_visible()  # the script is on
    _axe(page, "the round")
    site.shot(page, "round")

    started = time.monotonic()
    notes.first.focus()
    for n in range(30):
        page.keyboard.type(f"Read aloud to the class with a clear voice today ({n}).")
        page.keyboard.press("Enter")  # to the next child; no page load
    page.keyboard.press("Control+Enter")  # queue every note
    expect(page.get_by_role("heading", name="30 notes queued")).to_be_visible()
    seconds = time.monotonic() - started
    print(f"\nround of 30 by keyboard in the browser: {seconds:.1f} s "
          f"({seconds / 30:.2f} s a child, typing included)")
    _axe(page, "the round, queued")
    site.shot(page, "round-queued")

    with site.ctx.factory() as s:
        rows = s.execute(select(Message.student_id, Delivery.language)
                         .join(Delivery, Delivery.message_id == Message.id)
                         .where(Message.kind == MessageKind.GOOD_NEWS)).all()
    assert len(rows) == 30
    assert {sid for sid, _ in rows} == set(languages)
    for sid, language in rows:
        assert language == languages[sid]


def test_a_call_becomes_a_task_on_the_dashboard_and_is_marked_done(page: Page,
                                                                   site: Site) -> None:
    inbound = simulate_reply(site.ctx, PHONE, "ZADZWOŃ")
    sign_in(page, site)
    calls = page.locator("#call-backs")
    expect(calls).to_contain_text("Marta Kowalska")
    expect(calls).to_contain_text(PHONE)
    expect(page.locator("#waiting-replies")).to_contain_text("asked for a phone call")
    _axe(page, "the dashboard with a call-back")
    site.shot(page, "dashboard-call-back")

    page.get_by_role("link", name="Tasks", exact=True).click()
    expect(page.locator("#tasks")).to_contain_text("they asked for a call")
    _axe(page, "the tasks page")
    page.locator("#tasks").get_by_role("link", name="their message").click()
    expect(page.locator("#call-back")).to_contain_text(PHONE)
    page.get_by_role("button", name="Mark the call done").click()
    expect(page.locator("#call-back")).to_contain_text("Call done")
    site.shot(page, "reply-call-done")

    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.get_by_text("Nobody is waiting for a call.")).to_be_visible()
    with site.ctx.factory() as s:
        task = s.scalars(select(StaffTask).where(StaffTask.inbound_id == inbound.id)).one()
        assert task.done_at is not None
