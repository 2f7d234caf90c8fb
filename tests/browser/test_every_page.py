"""Every staff page in a real browser, at desktop and phone width: axe-core finds no WCAG
A/AA violation and nothing scrolls sideways at 375 px. Then the everyday things: the inbox
searched and filtered, times in the school's zone, an Arabic preview laid out right to
left, a draft that survives the session running out.

A page added to the app is one line in PAGES."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from bot.cli.support import simulate_reply
from bot.journeys.announcements import queue_announcement
from bot.journeys.good_news import queue_good_news
from bot.journeys.meetings.invitation import queue_invitation
from bot.outbound.audience import Audience
from bot.store.models import School, Staff, Student, WebSession, utcnow
from tests import factories as f
from tests.bot.web.staff.helpers import PASSWORD, account
from tests.browser.conftest import Site

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover - the browser fixture skips with the reason
    pytest.skip("playwright or axe-playwright-python is not installed",
                allow_module_level=True)

pytestmark = pytest.mark.browser

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}
DESKTOP = {"width": 1200, "height": 900}
PHONE = {"width": 375, "height": 740}
ADMIN = "admin@school.test"


@dataclass(frozen=True)
class StaffPage:
    """One page to check: its address ({reply}, {meeting}, {message}, {child}, {guardian}
    are the seeded records' ids) and who signs in to see it (None: nobody)."""

    path: str
    who: str | None = ADMIN


PAGES = [
    StaffPage("/login", None),
    StaffPage("/"),
    StaffPage("/", "nowak@school.test"),
    StaffPage("/inbox"),
    StaffPage("/inbox/{reply}"),
    StaffPage("/compose"),
    StaffPage("/round", "nowak@school.test"),
    StaffPage("/meetings"),
    StaffPage("/meetings/new"),
    StaffPage("/meetings/{meeting}"),
    StaffPage("/students"),
    StaffPage("/students/{child}"),
    StaffPage("/families/{guardian}"),
    StaffPage("/families/{other_family}", "nowak@school.test"),  # the 403 page
    StaffPage("/tasks"),
    StaffPage("/outbox"),
    StaffPage("/outbox?message={message}"),
    StaffPage("/announcements/{announcement}"),
    StaffPage("/lists"),
    StaffPage("/setup"),
    StaffPage("/setup/roster"),
    StaffPage("/setup/staff"),
    StaffPage("/setup/absences"),
    StaffPage("/setup/policy"),
    StaffPage("/setup/holidays"),
    StaffPage("/setup/families"),
    StaffPage("/families/{guardian}/edit"),
    StaffPage("/setup/glossary"),
    StaffPage("/saved"),
    StaffPage("/translations"),
]


def _seed(site: Site) -> dict[str, int]:
    """An admin, an Arabic-speaking family, a reply, a meeting and a sent note."""
    ids = dict(site.ids)
    with site.ctx.factory() as s, s.begin():
        school = site.ctx.school(s)
        account(s, school, "admin", name="Ada Admin", email=ADMIN)
        teacher = s.get(Staff, ids["teacher"])
        child = s.get(Student, ids["child"])
        assert teacher is not None and child is not None
        omar = f.student(s, school, teacher, first_name="Omar", last_name="Haddad",
                         class_name="4A")
        layla = f.guardian(s, school, omar, first_name="Layla", last_name="Haddad",
                           language="ar", phone="+447700900654", email=None,
                           channel_order=["sms"])
        soon = utcnow() + timedelta(days=7)
        meeting, _rows = queue_invitation(
            s, school, child, teacher, why="To talk about how Zofia is settling in.",
            options=[soon.replace(hour=15, minute=30)], where="The library", minutes=30,
            who=[], available=set(site.ctx.channels))
        note, _rows = queue_good_news(s, school, child, teacher, "Zofia read to the class.",
                                      set(site.ctx.channels))
        news = queue_announcement(s, school, teacher, "Class 4A visits the museum on Friday.",
                                  Audience("class", "4A"), [child.id, omar.id],
                                  set(site.ctx.channels))
        ids.update(omar=omar.id, layla=layla.id, meeting=meeting.id, message=note.id,
                   announcement=news.message.id)
    ids["reply"] = simulate_reply(site.ctx, "+447700900321", "Dziękuję bardzo!").id
    ids["arabic_reply"] = simulate_reply(site.ctx, "+447700900654",
                                         "شكرا جزيلا على الرسالة").id
    return ids


def _sign_in(page: Page, site: Site, email: str) -> None:
    page.goto(f"{site.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/")


def _accessible(page: Page, what: str) -> None:
    results = Axe().run(page, options=WCAG)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


@pytest.mark.parametrize("staff_page", PAGES, ids=lambda p: f"{p.path} as {p.who or 'nobody'}")
def test_every_page_is_accessible_and_fits_a_phone(page: Page, site: Site,
                                                   staff_page: StaffPage) -> None:
    ids = _seed(site)
    if staff_page.who:
        _sign_in(page, site, staff_page.who)
    path = staff_page.path.format(**ids)
    response = page.goto(site.url + path)
    assert response is not None and response.status in (200, 403), (path, response.status)
    for size, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        _accessible(page, f"{path} at {name} width")
        if name == "phone":
            wide = page.evaluate("document.scrollingElement.scrollWidth")
            assert wide <= PHONE["width"], f"{path} scrolls sideways on a phone ({wide}px)"
            if staff_page.who:
                expect(page.locator("#zone")).to_contain_text("Times are school time")
    site.shot(page, "page" + path.replace("/", "-").replace("?", "-"))


def test_send_is_in_view_on_a_phone_without_scrolling(page: Page, site: Site) -> None:
    _seed(site)
    page.set_viewport_size(PHONE)
    _sign_in(page, site, "nowak@school.test")
    for path, button in (("/compose", "Send"), ("/meetings/new", "Send invitation")):
        page.goto(site.url + path)
        expect(page.get_by_role("button", name=button, exact=True)).to_be_in_viewport()


def test_inbox_search_and_filters_in_the_browser(page: Page, site: Site) -> None:
    _seed(site)
    _sign_in(page, site, ADMIN)
    page.goto(f"{site.url}/inbox")
    replies = page.locator("#replies tbody tr")
    expect(replies).to_have_count(2)
    page.get_by_label("Language").select_option(label="Arabic")
    page.get_by_role("button", name="Show").click()
    expect(replies).to_have_count(1)
    expect(replies.first).to_contain_text("Layla Haddad")
    expect(replies.first.locator("td").nth(5)).to_have_text("Arabic")
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Search family, child or words").fill("Zofia")
    page.get_by_label("Search family, child or words").press("Enter")
    expect(replies).to_have_count(1)
    expect(replies.first).to_contain_text("Marta Kowalska")
    expect(replies.first.locator(".first-words")).to_have_text("Dziękuję bardzo!")
    page.get_by_label("Search family, child or words").fill("")
    page.get_by_label("Status").select_option(label="handled")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#replies")).to_contain_text("No replies match.")
    site.shot(page, "inbox-filtered")


def test_times_are_shown_in_the_schools_zone(page: Page, site: Site) -> None:
    ids = _seed(site)
    with site.ctx.factory() as s, s.begin():
        school = s.scalar(select(School))
        assert school is not None
        school.timezone = "America/New_York"
    _sign_in(page, site, ADMIN)
    page.goto(f"{site.url}/inbox/{ids['reply']}")
    expect(page.locator("#zone")).to_have_text(
        "Times are school time: America/New_York (EST).")
    stamp = page.locator("main time").first
    assert (stamp.get_attribute("datetime") or "").endswith("-05:00")
    expect(stamp).to_contain_text("AM")  # 14:00 in London is 9 in the morning there
    expect(page.locator("main")).not_to_contain_text("UTC")


def test_an_arabic_preview_is_laid_out_right_to_left(page: Page, site: Site) -> None:
    ids = _seed(site)
    _sign_in(page, site, "nowak@school.test")
    page.goto(f"{site.url}/compose?student={ids['omar']}")
    page.get_by_label("Good news", exact=True).fill("Omar helped a friend tidy the library.")
    page.get_by_role("button", name="Preview for each family").click()
    preview = page.locator(".preview[data-language='ar']")
    expect(preview).to_have_attribute("dir", "rtl")
    assert preview.evaluate("el => getComputedStyle(el).direction") == "rtl"
    page.goto(f"{site.url}/inbox/{ids['arabic_reply']}")
    assert page.locator("#original").evaluate("el => getComputedStyle(el).direction") == "rtl"
    site.shot(page, "arabic-reply")


def test_a_draft_survives_the_session_running_out(page: Page, site: Site) -> None:
    ids = _seed(site)
    _sign_in(page, site, "nowak@school.test")
    page.goto(f"{site.url}/meetings/new")
    page.get_by_label("Child").select_option(str(ids["child"]))
    why = "To talk about Zofia's reading, and what helps at home."
    page.get_by_label("Why we want to meet").fill(why)
    page.get_by_label("Where, and how to get there").fill("The library")
    when = (utcnow() + timedelta(days=7)).strftime("%Y-%m-%dT15:30")
    page.get_by_label("Option 1").fill(when)
    with site.ctx.factory() as s, s.begin():  # the session runs out while she writes
        s.execute(delete(WebSession))
    page.get_by_role("button", name="Preview for each family").click()
    expect(page).to_have_url(f"{site.url}/login?next=%2Fmeetings%2Fnew")
    page.get_by_label("Email").fill("nowak@school.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site.url}/meetings/new")
    expect(page.get_by_label("Why we want to meet")).to_have_value(why)
    expect(page.get_by_label("Where, and how to get there")).to_have_value("The library")
    expect(page.get_by_label("Child")).to_have_value(str(ids["child"]))
    expect(page.get_by_label("Option 1")).to_have_value(when)
    expect(page.locator(".draft-restored")).to_contain_text("Your draft was kept")
    site.shot(page, "draft-restored")
    # leaving the form for another page forgets the draft: a fresh form starts empty
    page.goto(f"{site.url}/")
    page.goto(f"{site.url}/meetings/new")
    expect(page.get_by_label("Why we want to meet")).to_have_value("")


def test_a_good_news_draft_survives_the_session_running_out(page: Page, site: Site) -> None:
    ids = _seed(site)
    _sign_in(page, site, "nowak@school.test")
    page.goto(f"{site.url}/compose?student={ids['child']}")
    note = "Zofia helped a new pupil find the library and read with her at lunch."
    page.get_by_label("Good news", exact=True).fill(note)
    with site.ctx.factory() as s, s.begin():
        s.execute(delete(WebSession))
    page.get_by_role("button", name="Preview for each family").click()
    expect(page).to_have_url(
        f"{site.url}/login?next=%2Fcompose%3Fstudent%3D{ids['child']}")
    page.get_by_label("Email").fill("nowak@school.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Good news", exact=True)).to_have_value(note)
    expect(page.locator(".draft-restored")).to_be_visible()
