"""A translator in a real browser: signs in, sees only the review pages, corrects the
machine's Polish for a sentence, and the next message with that sentence goes in the
reviewed Polish without a call to the translation service (the stand-in's requests
counted); axe-core finds no WCAG A/AA violation on the list, the form and its error."""

from __future__ import annotations

import json

import pytest

from bot.journeys.good_news import queue_good_news
from bot.store.models import Staff, Student
from tests.bot.web.staff.helpers import PASSWORD, account
from tests.browser.conftest import Site

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover - the browser fixture skips with the reason
    pytest.skip("playwright or axe-playwright-python is not installed",
                allow_module_level=True)

pytestmark = pytest.mark.browser

NOTE = "Zofia helped a new pupil find the library."
MACHINE = "<pl> Zofia helped a new pupil find the library."
REVIEWED = "Zofia pomogła nowej uczennicy znaleźć bibliotekę."
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}


def _accessible(page: Page, what: str) -> None:
    results = Axe().run(page, options=WCAG)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def _queue_note(site: Site) -> None:
    with site.ctx.factory() as s, s.begin():
        school = site.ctx.school(s)
        child = s.get(Student, site.ids["child"])
        teacher = s.get(Staff, site.ids["teacher"])
        assert child is not None and teacher is not None
        queue_good_news(s, school, child, teacher, NOTE, {"sms"})


def _sms_with(site: Site, text: str) -> str | None:
    for raw in site.outbox_files("sms"):
        body = str(json.loads(raw).get("body", raw)) if raw.startswith("{") else raw
        if text in body:
            return body
    return None


def test_a_translator_corrects_a_sentence_and_the_next_message_uses_it_without_a_call(
        page: Page, site: Site) -> None:
    with site.ctx.factory() as s, s.begin():
        account(s, site.ctx.school(s), "translator", name="Ola Volunteer",
                email="ola@school.test")
    _queue_note(site)
    site.wait_for(lambda: _sms_with(site, MACHINE), "the machine-translated SMS")
    calls_before_review = len(site.translator.requests)
    assert calls_before_review == 1

    page.goto(f"{site.url}/login")
    page.get_by_label("Email").fill("ola@school.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/translations")  # a translator's home
    expect(page.get_by_role("heading", name="Translations", exact=True)).to_be_visible()
    row = page.locator("#translations tr", has_text="[1] helped a new pupil find the library.")
    expect(row.locator(".translation")).to_have_text(
        "<pl> [1] helped a new pupil find the library.")
    expect(page.locator("main")).not_to_contain_text("Zofia")  # names stay masked
    expect(page.get_by_role("link", name="Inbox")).to_have_count(0)
    _accessible(page, "translation list")
    site.shot(page, "translations-list")

    row.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name="Review a translation into Polish")).to_be_visible()
    expect(page.locator("#machine")).to_have_text(
        "<pl> [1] helped a new pupil find the library.")
    _accessible(page, "review form")
    box = page.get_by_label("Your translation into Polish")
    box.fill("Pomogła nowej uczennicy znaleźć bibliotekę.")  # the name's place lost
    page.get_by_role("button", name="Save the reviewed translation").click()
    expect(page.get_by_role("alert")).to_contain_text("Keep each placeholder exactly once")
    _accessible(page, "review form with its error")
    box.fill("[1] pomogła nowej uczennicy znaleźć bibliotekę.")
    page.get_by_role("button", name="Save the reviewed translation").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    page.get_by_role("link", name="Reviewed", exact=True).click()
    expect(page.locator("#translations")).to_contain_text(
        "[1] pomogła nowej uczennicy znaleźć bibliotekę.")
    expect(page.locator("#translations .state").first).to_have_text("reviewed")
    _accessible(page, "reviewed list")
    site.shot(page, "translations-reviewed")

    # a translator never opens a family record, a child's page or the inbox
    for path in (f"/students/{site.ids['child']}", f"/families/{site.ids['guardian']}",
                 "/inbox", "/outbox"):
        response = page.goto(f"{site.url}{path}")
        assert response is not None and response.status == 403, path

    _queue_note(site)
    body = site.wait_for(lambda: _sms_with(site, REVIEWED), "the SMS in reviewed Polish")
    assert "<pl>" not in body
    assert len(site.translator.requests) == calls_before_review  # no machine call
