"""Staff journeys in a real browser: sign in, good news to a Polish family, answer a reply,
invite to a meeting and see the RSVP; keyboard and phone-sized screens."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from bot.cli.support import simulate_reply
from bot.store.models import Delivery, InboundMessage, Message, MessageKind, utcnow
from tests.browser.conftest import Site, sign_in

pytestmark = pytest.mark.browser

POLISH_FRAME = "Dobre wieści: Zofia"  # the SMS the family gets, in Polish


def test_sign_in_shows_the_dashboard_and_a_wrong_password_does_not(page: Page,
                                                                    site: Site) -> None:
    page.goto(f"{site.url}/inbox")
    expect(page).to_have_url(f"{site.url}/login?next=%2Finbox")
    site.shot(page, "login")
    page.get_by_label("Email").fill("nowak@school.test")
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    sign_in(page, site)
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    expect(page.get_by_text("No messages yet.")).to_be_visible()  # no chart without data
    expect(page.get_by_text("Zofia Kowalska")).to_be_visible()  # overdue for good news
    site.shot(page, "dashboard")


def test_good_news_to_a_polish_family_reaches_the_outbox_in_polish(page: Page,
                                                                   site: Site) -> None:
    sign_in(page, site)
    page.get_by_role("link", name="Good news", exact=True).click()
    page.get_by_label("Child").select_option(str(site.ids["child"]))
    box = page.get_by_label("Good news", exact=True)
    box.fill("Zofia helped a new pupil find the library and read with her at lunch.")
    # as you type: the reading level comes back from the server without a button
    expect(page.locator("#reading-level")).to_contain_text("Reading age")
    box.fill("Zofia has shown great progress against her EHCP targets.")
    expect(page.locator("#checks")).to_contain_text("Words families may not know")
    site.shot(page, "compose-jargon")
    box.fill("Zofia helped a new pupil find the library and read with her at lunch.")
    page.get_by_label("Show the translation back in English").check()
    page.get_by_role("button", name="Preview for each family").click()
    preview = page.locator(".preview[data-language='pl']")
    expect(preview).to_contain_text(POLISH_FRAME)
    expect(preview).to_contain_text("<pl> Zofia helped a new pupil")
    expect(preview).to_contain_text("Cała wiadomość:")  # the link to the whole note
    expect(page.locator(".back")).to_contain_text("<en> <pl> Zofia helped")
    site.shot(page, "preview-polish")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
    # what the deliveries table says, family by family (the worker may already have sent it)
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"Message \d+: 1 family (queued|sending|sent|delivered)"))

    def polish_file() -> str | None:
        for text in site.outbox_files("sms"):
            body = json.loads(text).get("body", text) if text.startswith("{") else text
            if "helped a new pupil" in str(body):
                return str(body)
        return None

    body = site.wait_for(polish_file, "the note in the SMS outbox")
    assert POLISH_FRAME in body
    assert "<pl> Zofia helped a new pupil find the library" in body
    site.wait_for(lambda: page.reload() or "sent" in page.locator("#outbox .status").first
                  .inner_text(), "the outbox page to show it sent")
    expect(page.locator("#outbox .lang").first).to_have_text("Polish")
    site.shot(page, "outbox")


def test_answering_a_reply_sends_it_back_in_polish_and_marks_it_handled(
        page: Page, site: Site) -> None:
    inbound = simulate_reply(site.ctx, "+447700900321", "Dziękuję bardzo za wiadomość!")
    sign_in(page, site)
    page.get_by_role("link", name="Inbox", exact=True).click()
    expect(page.locator("#replies")).to_contain_text("Marta Kowalska")
    site.shot(page, "inbox")
    page.locator("#replies a").first.click()
    expect(page.locator("#original")).to_have_text("Dziękuję bardzo za wiadomość!")
    page.get_by_label("Your answer").fill("Thank you, Marta. See you at the gate tomorrow.")
    site.shot(page, "reply")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"Your answer is (queued|sending|sent|delivered) by sms, in Polish"))
    expect(page.locator(".status").first).to_contain_text("handled by Ms Nowak")

    def answer() -> str | None:
        for text in site.outbox_files("sms"):
            if "See you at the gate" in text:
                return text
        return None

    assert "<pl> Thank you, " in site.wait_for(answer, "the answer in the SMS outbox")
    with site.ctx.factory() as s:
        row = s.get(InboundMessage, inbound.id)
        assert row is not None and row.handled_by_id == site.ids["teacher"]


def test_meeting_invitation_then_a_reply_shows_as_its_rsvp(page: Page, site: Site) -> None:
    sign_in(page, site, "office@school.test")
    page.get_by_role("link", name="Meetings", exact=True).click()
    page.get_by_role("link", name="Invite a family to a meeting").click()
    page.get_by_label("Child").select_option(str(site.ids["child"]))
    page.get_by_label("Why we want to meet").fill("To talk about how Zofia is settling in.")
    soon = (utcnow() + timedelta(days=7)).astimezone(ZoneInfo("Europe/London"))
    page.get_by_label("Option 1").fill(soon.strftime("%Y-%m-%dT15:30"))
    page.get_by_label("Option 2 (optional)").fill(soon.strftime("%Y-%m-%dT16:30"))
    page.get_by_label("Where, and how to get there").fill("The library, by the main gate")
    page.get_by_role("button", name="Preview for each family").click()
    expect(page.locator(".preview")).to_contain_text("Dlaczego: <pl> To talk about")
    expect(page.locator(".preview")).to_contain_text("Prosimy odpisać numerem:")
    site.shot(page, "meeting-preview")
    with site.ctx.factory() as s:  # a preview saves nothing
        assert s.scalar(select(Message).where(Message.kind == MessageKind.INVITATION)) is None
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#rsvps")).to_contain_text("no answer yet")

    def sent() -> bool:
        with site.ctx.factory() as s:
            return bool(s.scalar(select(Delivery).join(Message).where(
                Message.kind == MessageKind.INVITATION, Delivery.status == "sent")))

    site.wait_for(sent, "the invitation to be sent")
    simulate_reply(site.ctx, "+447700900321", "2")
    page.reload()
    expect(page.locator("#rsvps .answer")).to_contain_text("option 2")
    site.shot(page, "meeting-rsvp")


def test_keyboard_phone_screen_and_403(page: Page, site: Site) -> None:
    sign_in(page, site)
    # the first Tab reaches the skip link, which moves focus to the main content
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.set_viewport_size({"width": 375, "height": 740})
    for path in ("/", "/compose", "/inbox", "/meetings/new", f"/families/{site.ids['guardian']}"):
        page.goto(site.url + path)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 375, f"{path} scrolls sideways on a phone ({wide}px)"
    site.shot(page, "family-phone")
    response = page.goto(f"{site.url}/families/{site.ids['other_family']}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("not one of yours")
