"""Messages to groups in a real browser: a class of 30 families in five languages previewed
and sent, each family receiving it once; an urgent notice at 07:00 that goes at once while
a non-urgent one waits for quiet hours to end; axe-core clean (WCAG A/AA) on compose,
preview and progress."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot import clock as process_clock
from bot.clock import RunningClock
from bot.store.models import Delivery, DeliveryStatus, Message, Staff
from tests import factories as f
from tests.bot.web.staff.helpers import account
from tests.browser.conftest import Site, sign_in
from tests.clocks import london

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover - the browser fixture skips with the reason
    pytest.skip("playwright or axe-playwright-python is not installed",
                allow_module_level=True)

LANGUAGES = {"pl": "Polish", "ar": "Arabic", "es": "Spanish", "uk": "Ukrainian",
             "ro": "Romanian"}
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}


def assert_accessible(page: Page, what: str) -> None:
    """axe-core finds no WCAG A/AA violation on the page as it stands."""
    results = Axe().run(page, options=WCAG)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def _class_of_30(site: Site) -> list[int]:
    """Class 6C: 30 children, one family each, six in each of five languages; two of the
    families also have a second child in the class (siblings), so 32 children."""
    with site.ctx.factory() as s, s.begin():
        school = site.ctx.school(s)
        teacher = s.get(Staff, site.ids["teacher"])
        assert teacher is not None
        guardians = []
        for n, code in enumerate(list(LANGUAGES) * 6):
            child = f.student(s, school, teacher, class_name="6C", first_name=f"Kid{n}")
            channel = ["sms"] if n % 2 else ["email"]
            guardians.append(f.guardian(s, school, child, language=code,
                                        channel_order=channel,
                                        phone=f"+4477009{n + 10:05d}"))
        from bot.store.models import StudentGuardian

        for g in guardians[:2]:  # a sibling in the same class: still one message
            sibling = f.student(s, school, teacher, class_name="6C")
            s.add(StudentGuardian(student_id=sibling.id, guardian_id=g.id))
        account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        return [g.id for g in guardians]


def _per_guardian(site: Site, message_id: int) -> dict[int, list[str]]:
    with site.ctx.factory() as s:
        out: dict[int, list[str]] = {}
        for gid, status in s.execute(select(Delivery.guardian_id, Delivery.status)
                                     .where(Delivery.message_id == message_id)):
            out.setdefault(gid, []).append(status)
        return out


def _latest_message(site: Site) -> Any:
    with site.ctx.factory() as s:
        return s.scalars(select(Message).order_by(Message.id.desc()).limit(1)).first()


def test_a_class_of_30_families_in_five_languages_previewed_and_sent_once(
        page: Page, site: Site) -> None:
    guardians = _class_of_30(site)
    sign_in(page, site, "office@school.test")
    page.goto(f"{site.url}/compose")
    assert_accessible(page, "compose")
    page.get_by_label("Who is it for?").select_option("class:6C")
    expect(page.get_by_label("Message", exact=True)).to_be_visible()
    expect(page.get_by_label("A celebration (good news for the whole group)")).to_be_visible()
    assert_accessible(page, "compose, writing to a class")
    page.get_by_label("Message", exact=True).fill("The class trip to the museum is on "
                                                  "Friday. Please send a packed lunch.")
    page.get_by_role("button", name="Preview for each family").click()
    expect(page.locator("#family-count")).to_contain_text("30 families")
    expect(page.locator("#family-count")).to_contain_text("of 32 children")
    for name in LANGUAGES.values():
        expect(page.locator("#languages")).to_contain_text(name)
    expect(page.locator("#channel-count")).to_contain_text("text message (SMS) 15")
    expect(page.locator("#channel-count")).to_contain_text("email 15")
    expect(page.locator("#sms-total")).to_contain_text("text message segment")
    expect(page.locator(".preview[data-language='pl']")).to_contain_text("<pl> The class")
    expect(page.locator(".preview[data-language='ar']")).to_have_attribute("dir", "rtl")
    site.shot(page, "announce-preview")
    assert_accessible(page, "preview")
    with site.ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0  # nothing saved yet
    page.get_by_role("button", name="Send to 30 families").click()
    expect(page.locator("#progress-line")).to_contain_text("Done", timeout=60_000)
    assert_accessible(page, "progress")
    site.shot(page, "announce-progress")
    message = _latest_message(site)
    rows = site.wait_for(
        lambda: (lambda r: r if all(v == [DeliveryStatus.SENT] for v in r.values())
                 and len(r) == 30 else None)(_per_guardian(site, message.id)),
        "every family's message sent")
    assert sorted(rows) == sorted(guardians)  # each family, once
    expect(page.locator("td[data-key='sent']")).to_have_text("30")


def test_an_urgent_notice_at_seven_goes_at_once_a_normal_one_waits(page: Page,
                                                                   site: Site) -> None:
    _class_of_30(site)
    with process_clock.using(RunningClock(london(2026, 11, 18, 7, 0))):  # a Wednesday
        sign_in(page, site, "admin@school.test")
        page.goto(f"{site.url}/compose?audience=class:6C")
        page.get_by_label("Message", exact=True).fill("Reminder: school photos tomorrow.")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.locator("#held-reasons")).to_contain_text("30 held for quiet hours")
        expect(page.locator("#held-reasons")).to_contain_text("08:")
        normal = _latest_message(site)

        page.goto(f"{site.url}/compose?audience=class:6C")
        assert_accessible(page, "compose with the urgent box")
        page.get_by_label("Urgent: it goes at once").check()
        page.get_by_label("Why it is urgent").fill("the heating has failed: closed today")
        page.get_by_label("Message", exact=True).fill("The school is closed today. "
                                                      "Please keep your child at home.")
        page.get_by_role("button", name="Preview for each family").click()
        expect(page.locator("#urgent-warning")).to_contain_text("goes at once")
        assert_accessible(page, "urgent preview")
        page.get_by_role("button", name="Send to 30 families").click()
        # the browser refuses to send without the confirmation tick (a required box)
        assert "/compose" in page.url or page.locator("#urgent_confirm").count() == 1
        page.get_by_label("Yes, send it now as urgent").check()
        page.get_by_role("button", name="Send to 30 families").click()
        expect(page.locator("#progress-line")).to_contain_text("Done", timeout=60_000)
        urgent = _latest_message(site)
        assert urgent.id != normal.id and urgent.urgency == "urgent"
        sent = site.wait_for(
            lambda: (lambda r: r if len(r) == 30 and all(v == [DeliveryStatus.SENT]
                                                         for v in r.values()) else None)(
                _per_guardian(site, urgent.id)), "the urgent notice sent to every family")
        assert len(sent) == 30
        waiting = _per_guardian(site, normal.id)
        assert len(waiting) == 30 and all(v == [DeliveryStatus.HELD] for v in waiting.values())
        texts = site.outbox_files("sms") + site.outbox_files("email")
        assert any("Pilna wiadomość od" in t for t in texts)  # urgency in their language


def test_saved_lists_page_is_accessible_and_names_bad_ids(page: Page, site: Site) -> None:
    sign_in(page, site, "office@school.test")
    page.goto(f"{site.url}/lists")
    assert_accessible(page, "saved lists")
    page.get_by_label("List name").fill("Reading club")
    page.get_by_label("Student ids").fill("NOPE")
    page.get_by_role("button", name="Save the list").click()
    expect(page.locator("#lists-error")).to_contain_text("no student with id NOPE")
    assert_accessible(page, "saved lists with an error")
