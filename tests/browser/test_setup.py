"""Set-up in a real browser: the office uploads a roster and sees each bad row named, then
imports the rest; an admin makes a password link, the teacher sets a password with it
and the link then refuses a second use; a key worker's absence with a cover, after which
the cover sees the absent worker's families. axe-core finds no WCAG A/AA violation on
any set-up page, its error states included."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot import clock
from bot.store.models import Guardian, Staff, Student
from tests.bot.web.staff.helpers import account
from tests.browser.conftest import Site, sign_in

try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # pragma: no cover - the browser fixture skips with the reason
    pytest.skip("playwright or axe-playwright-python is not installed",
                allow_module_level=True)

pytestmark = pytest.mark.browser

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}
HEADER = ("student_id,student_first_name,student_last_name,class,key_worker_name,"
          "key_worker_email,guardian_id,guardian_first_name,guardian_last_name,relationship,"
          "language,phone,email,preferred_channels,may_contact\n")
KW = "Ms Shah,shah@riverside.example.org"
ROSTER = (HEADER
          + f"R1,Amara,Okafor,5C,{KW},RG1,Ngozi,Okafor,mother,yo,07700 900401,,sms,yes\n"
          + f"R2,Leo,Silva,5C,{KW},RG2,Rita,Silva,mother,pt_BR,12,,sms,yes\n"
          + f"R3,Ana,Popescu,5C,{KW},RG3,Ion,Popescu,father,ro,07700 900403,,sms,maybe\n"
          + f"R4,Sami,Aziz,5C,{KW},RG4,Noor,Aziz,mother,ur,07700 900404,,sms,yes\n")


def _accessible(page: Page, what: str) -> None:
    results = Axe().run(page, options=WCAG)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def _admin(site: Site) -> None:
    with site.ctx.factory() as s, s.begin():
        account(s, site.ctx.school(s), "admin", name="Ada Admin", email="admin@school.test")


def test_the_office_uploads_a_roster_sees_bad_rows_named_then_imports_the_rest(
        page: Page, site: Site, tmp_path: Path) -> None:
    roster = tmp_path / "class-5c.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    sign_in(page, site, "office@school.test")
    page.get_by_role("link", name="Set-up").click()
    expect(page.get_by_role("heading", name="Set-up")).to_be_visible()
    _accessible(page, "set-up")
    page.get_by_role("link", name="Upload the roster").click()
    _accessible(page, "roster form")
    page.get_by_label("Roster file").set_input_files(str(roster))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="What this file would change")).to_be_visible()
    problems = page.locator("#row-problems tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("3")
    expect(problems.nth(0)).to_contain_text("phone")
    expect(problems.nth(0)).to_contain_text("Too short")
    expect(problems.nth(1)).to_contain_text("may_contact")
    expect(problems.nth(1)).to_contain_text("Must be yes or no")
    expect(page.get_by_text("Students: 2 would be new")).to_be_visible()
    site.shot(page, "setup-roster-checked")
    _accessible(page, "roster check")
    with site.ctx.factory() as s:  # nothing saved yet
        assert s.scalar(select(Student).where(Student.ref == "R1")) is None
    page.get_by_role("button", name="Import the rows without problems").click()
    expect(page.get_by_role("status")).to_contain_text("The roster is imported.")
    _accessible(page, "roster imported")
    with site.ctx.factory() as s:
        assert sorted(s.scalars(select(Student.ref).where(Student.class_name == "5C"))) == \
            ["R1", "R4"]
        assert s.scalar(select(Guardian.phone).where(Guardian.ref == "RG1")) == "+447700900401"


def test_an_admin_password_link_works_once(page: Page, site: Site, browser: Browser) -> None:
    _admin(site)
    sign_in(page, site, "admin@school.test")
    page.goto(f"{site.url}/setup/staff")
    _accessible(page, "staff accounts")
    page.get_by_role("button", name="Make a password link for Ms Nowak").click()
    link = page.get_by_role("textbox", name="Link for Ms Nowak", exact=True).input_value()
    assert link.startswith(f"{site.url}/reset/")
    site.shot(page, "setup-password-link")
    _accessible(page, "password link shown")
    teacher = browser.new_context(viewport={"width": 390, "height": 844})
    tab = teacher.new_page()
    tab.goto(link)
    expect(tab.get_by_role("heading", name="Set a new password")).to_be_visible()
    _accessible(tab, "reset form")
    tab.get_by_label("New password").fill("my own long password")
    tab.get_by_label("The same password again").fill("not the same at all")
    tab.get_by_role("button", name="Set the password").click()
    expect(tab.get_by_role("alert")).to_contain_text("not the same")
    _accessible(tab, "reset form error")
    tab.get_by_label("New password").fill("my own long password")
    tab.get_by_label("The same password again").fill("my own long password")
    tab.get_by_role("button", name="Set the password").click()
    expect(tab.get_by_role("status")).to_contain_text("Your new password is set")
    tab.get_by_label("Email").fill("nowak@school.test")
    tab.get_by_label("Password").fill("my own long password")
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    tab.goto(link)  # a second use is refused
    expect(tab.get_by_role("alert")).to_contain_text("used or has expired")
    _accessible(tab, "used link")
    teacher.close()


def test_setting_a_cover_lets_the_cover_see_the_absent_workers_families(
        page: Page, site: Site, browser: Browser) -> None:
    with site.ctx.factory() as s:
        jones = s.scalar(select(Staff.id).where(Staff.email == "jones@school.test"))
        zone = ZoneInfo(site.ctx.school(s).timezone)
    today = clock.now().astimezone(zone).date()
    cover = browser.new_context(viewport={"width": 1200, "height": 900})
    jones_tab = cover.new_page()
    sign_in(jones_tab, site, "jones@school.test")
    jones_tab.goto(f"{site.url}/students")
    expect(jones_tab.get_by_text("Zofia Kowalska")).to_have_count(0)
    sign_in(page, site, "office@school.test")
    page.goto(f"{site.url}/setup/absences")
    _accessible(page, "absences")
    row = page.locator(f"tr[data-staff='{site.ids['teacher']}']")
    row.get_by_label("First day away").fill(today.isoformat())
    row.get_by_label("Last day away").fill((today - timedelta(days=1)).isoformat())
    row.get_by_role("button", name="Save the absence").click()
    row = page.locator(f"tr[data-staff='{site.ids['teacher']}']")
    expect(row.get_by_text("The last day is before the first day.")).to_be_visible()
    expect(row.get_by_text("Choose who covers their families.")).to_be_visible()
    _accessible(page, "absence errors")
    row.get_by_label("Last day away").fill((today + timedelta(days=4)).isoformat())
    row.get_by_label("Covered by").select_option(str(jones))
    row.get_by_role("button", name="Save the absence").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.locator(f"tr[data-staff='{site.ids['teacher']}']")).to_contain_text(
        "Mr Jones covers")
    site.shot(page, "setup-absences")
    jones_tab.goto(f"{site.url}/students")
    jones_tab.get_by_role("link", name="Zofia Kowalska").click()
    expect(jones_tab.get_by_role("heading", name="Zofia Kowalska")).to_be_visible()
    jones_tab.goto(f"{site.url}/families/{site.ids['guardian']}")
    expect(jones_tab.get_by_role("heading", name="Marta Kowalska")).to_be_visible()
    cover.close()


def test_every_other_set_up_page_is_accessible_with_its_errors(page: Page, site: Site,
                                                                tmp_path: Path) -> None:
    _admin(site)
    site.ctx.settings.glossary_file = tmp_path / "school-glossary.toml"
    sign_in(page, site, "admin@school.test")
    page.goto(f"{site.url}/setup/policy")
    _accessible(page, "policy")
    page.get_by_label("Weekly cap").fill("500")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("alert")).to_contain_text("weekly_cap must be a whole number")
    _accessible(page, "policy error")
    page.goto(f"{site.url}/setup/holidays")
    _accessible(page, "holidays")
    page.goto(f"{site.url}/setup/families")
    _accessible(page, "families")
    page.goto(f"{site.url}/families/{site.ids['guardian']}/edit")
    _accessible(page, "family edit")
    page.get_by_label("Phone (for SMS)").fill("12")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Too short")
    _accessible(page, "family edit error")
    page.goto(f"{site.url}/saved")
    page.get_by_label("Title").fill("Trip reminder")
    page.get_by_label("Message", exact=True).fill("Please send a packed lunch on Friday.")
    page.get_by_role("button", name="Save the message").click()
    expect(page.get_by_role("heading", name="Trip reminder")).to_be_visible()
    _accessible(page, "saved messages")
    page.goto(f"{site.url}/setup/glossary")
    page.get_by_role("button", name="Add the term").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was added")
    _accessible(page, "glossary error")
    page.get_by_label("Term (as staff write it)").fill("Rainbow Room")
    page.get_by_label("What to say instead").fill("the quiet room where children get help")
    page.get_by_role("button", name="Add the term").click()
    expect(page.locator("#glossary")).to_contain_text("the quiet room where children get help")
    _accessible(page, "glossary")
