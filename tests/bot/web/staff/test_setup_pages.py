"""Set-up in the browser, through the real app: absences with dates and their cover, the
school policy from the typed field table, holidays, a family's contact details, saved
messages, the school's glossary."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select

from bot import clock
from bot.language.plain import check_text
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Guardian,
    GuardianChannel,
    Holiday,
    SavedMessage,
    School,
    Staff,
)
from bot.web.app import create_app
from bot.web.staff.access import covered_workers, own_students
from bot.web.staff.security import Me
from scheduler.policy import SETTINGS, school_policy
from tests import factories as f
from tests.bot.web.staff.helpers import account, form_token, sign_in


@pytest.fixture
def client(sqlite_ctx: Context) -> Iterator[TestClient]:
    """The real app on SQLite (these pages do nothing the backends differ on)."""
    with TestClient(create_app(sqlite_ctx)) as test_client:
        yield test_client


def _people(ctx: Context) -> dict[str, Any]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        office = account(s, school, "office", name="Olu Office", email="office@school.test")
        away = account(s, school, name="Tess Away", email="tess@school.test")
        cover = account(s, school, name="Cal Cover", email="cal@school.test")
        child = f.student(s, school, away, first_name="Zofia")
        family = f.guardian(s, school, child, first_name="Marta", phone="+447700900321",
                            email="marta@family.example.org", channel_order=["sms"])
        return {"admin": admin.id, "office": office.id, "away": away.id, "cover": cover.id,
                "child": child.id, "family": family.id}


def _me(ctx: Context, staff_id: int) -> Me:
    with ctx.factory() as s:
        st = s.get(Staff, staff_id)
        assert st is not None
        return Me(st.id, st.school_id, st.name, st.email, st.role, "csrf")


def _post(client: TestClient, form_page: str, to: str, **data: str) -> Any:
    return client.post(to, data={"csrf_token": form_token(client.get(form_page).text),
                                     **data})


# -- absences and cover -------------------------------------------------------------------
def test_cover_applies_only_between_the_absences_dates(sqlite_ctx: Context) -> None:
    ids = _people(sqlite_ctx)
    now = clock.now()
    with sqlite_ctx.factory() as s, s.begin():
        away = s.get(Staff, ids["away"])
        assert away is not None
        away.cover_id, away.away = ids["cover"], True
        away.away_from, away.away_until = now + timedelta(days=1), now + timedelta(days=3)
    cover = _me(sqlite_ctx, ids["cover"])
    with sqlite_ctx.factory() as s:
        def sees(at: Any) -> bool:
            return ids["away"] in set(s.scalars(covered_workers(cover, at)))
        assert not sees(now)                                  # not yet
        assert sees(now + timedelta(days=1))                  # from the first instant
        assert sees(now + timedelta(days=2))
        assert not sees(now + timedelta(days=3))              # until is not included
        assert ids["child"] not in set(s.scalars(own_students(cover)))  # today: not yet
        away_row = s.get(Staff, ids["away"])
        assert away_row is not None
        assert not away_row.away_at(now) and away_row.away_at(now + timedelta(days=2))


def test_an_office_sets_an_absence_and_the_cover_sees_the_family(
        sqlite_ctx: Context, client: TestClient) -> None:
    ids = _people(sqlite_ctx)
    cal = TestClient(client.app)
    sign_in(cal, "cal@school.test")
    assert cal.get(f"/students/{ids['child']}").status_code == 403
    sign_in(client, "office@school.test")
    with sqlite_ctx.factory() as s:
        zone = s.scalar(select(School.timezone))
    from zoneinfo import ZoneInfo
    today = clock.now().astimezone(ZoneInfo(zone or "Europe/London")).date()
    bad = _post(client, "/setup/absences", f"/setup/absences/{ids['away']}",
                away_from=today.isoformat(), away_until=(today - timedelta(days=2)).isoformat(),
                cover_id=str(ids["away"]))
    assert bad.status_code == 400
    assert "The last day is before the first day." in bad.text
    assert "Someone else must cover" in bad.text
    ok = _post(client, "/setup/absences", f"/setup/absences/{ids['away']}",
               away_from=today.isoformat(), away_until=(today + timedelta(days=4)).isoformat(),
               cover_id=str(ids["cover"]))
    assert "Cal Cover covers" in ok.text
    assert cal.get(f"/students/{ids['child']}").status_code == 200
    assert cal.get(f"/families/{ids['family']}").status_code == 200
    ended = _post(client, "/setup/absences", f"/setup/absences/{ids['away']}", action="end")
    assert "In school" in ended.text
    assert cal.get(f"/students/{ids['child']}").status_code == 403
    with sqlite_ctx.factory() as s:
        actions = list(s.scalars(select(AuditEntry.action)))
    assert "absence_set" in actions and "absence_ended" in actions


def test_children_nobody_covers_are_listed(sqlite_ctx: Context, client: TestClient) -> None:
    ids = _people(sqlite_ctx)
    with sqlite_ctx.factory() as s, s.begin():
        away = s.get(Staff, ids["away"])
        assert away is not None
        away.active = False  # left, with no cover
    sign_in(client, "office@school.test")
    page = client.get("/setup/absences").text
    assert "Children nobody covers (1)" in page and "Tess Away has left" in page


# -- policy -------------------------------------------------------------------------------
def test_the_policy_page_has_a_field_for_every_setting_with_its_help(
        sqlite_ctx: Context, client: TestClient) -> None:
    _people(sqlite_ctx)
    sign_in(client, "admin@school.test")
    page = client.get("/setup/policy").text
    for setting in SETTINGS:
        assert f'name="{setting.key}"' in page
        assert str(escape(setting.about[1:])) in page
    assert 'type="time"' in page and 'value="20:00"' in page


def test_a_bad_setting_is_named_and_nothing_is_stored(sqlite_ctx: Context,
                                                      client: TestClient) -> None:
    _people(sqlite_ctx)
    sign_in(client, "admin@school.test")
    bad = _post(client, "/setup/policy", "/setup/policy", weekly_cap="500", quiet_start="late",
                nation="england")
    assert bad.status_code == 400
    assert "weekly_cap must be a whole number from 1 to 50, got 500" in bad.text
    assert "quiet_start must be a time like 20:00, got &#39;late&#39;" in bad.text
    assert 'aria-invalid="true"' in bad.text
    across = _post(client, "/setup/policy", "/setup/policy", quiet_start="07:00",
                   quiet_end="08:00")
    assert across.status_code == 400 and "must be later in the day than quiet_end" in across.text
    with sqlite_ctx.factory() as s:
        assert s.scalar(select(School.policy)) == {}
    good = _post(client, "/setup/policy", "/setup/policy", weekly_cap="4", quiet_start="19:30",
                 quiet_weekends="false", term_start="")
    assert good.status_code == 200 and "Saved." in good.text
    with sqlite_ctx.factory() as s:
        school = s.scalar(select(School))
        assert school is not None
        policy = school_policy(school)
        assert (policy.weekly_cap, policy.quiet_start.hour, policy.quiet_weekends) == \
            (4, 19, False)
        assert school.policy == {"weekly_cap": 4, "quiet_start": "19:30",
                                 "quiet_weekends": False}
        audited = {a.detail["key"] for a in s.scalars(select(AuditEntry).where(
            AuditEntry.action == "policy_set"))}
    assert audited == {"weekly_cap", "quiet_start", "quiet_weekends"}


def test_the_office_reads_the_policy_and_cannot_change_it(sqlite_ctx: Context,
                                                          client: TestClient) -> None:
    _people(sqlite_ctx)
    sign_in(client, "office@school.test")
    page = client.get("/setup/policy")
    assert page.status_code == 200 and "An admin changes these." in page.text
    token = form_token(client.get("/setup").text)
    assert client.post("/setup/policy", data={"csrf_token": token,
                                              "weekly_cap": "9"}).status_code == 403


# -- holidays -------------------------------------------------------------------------------
ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1@test
DTSTART;VALUE=DATE:20270215
DTEND;VALUE=DATE:20270220
SUMMARY:February half term
END:VEVENT
BEGIN:VEVENT
UID:2@test
DTSTART:20270301T170000Z
DTEND:20270301T190000Z
SUMMARY:Parents' evening
END:VEVENT
END:VCALENDAR
"""


def _upload(client: TestClient, name: str, data: bytes) -> Any:
    return client.post("/setup/holidays",
                       data={"csrf_token": form_token(client.get("/setup/holidays").text)},
                       files={"file": (name, data, "text/plain")})


def test_holidays_from_csv_and_ics_bad_rows_named_twice_adds_nothing(
        sqlite_ctx: Context, client: TestClient) -> None:
    _people(sqlite_ctx)
    sign_in(client, "office@school.test")
    csv = (b"start,end,name\n2026-12-21,2027-01-01,Christmas holidays\n"
           b"2027-13-01,2027-01-02,Typo\n")
    page = _upload(client, "terms.csv", csv).text
    assert "1 closed period added" in page and "row 3: start and end must be dates" in page
    assert "1 closed period added" not in _upload(client, "terms.csv", csv).text
    page = _upload(client, "terms.ics", ICS).text
    assert "1 closed period added" in page and "not an all-day event" in page
    with sqlite_ctx.factory() as s:
        rows = [(h.starts_on, h.ends_on) for h in s.scalars(select(Holiday)
                                                             .order_by(Holiday.starts_on))]
    assert rows == [(date(2026, 12, 21), date(2027, 1, 1)), (date(2027, 2, 15),
                                                             date(2027, 2, 19))]
    refused = _upload(client, "notes.txt", b"hello")
    assert refused.status_code == 400 and "choose a .csv file" in refused.text.lower()
    with sqlite_ctx.factory() as s:
        first = s.scalar(select(Holiday.id).order_by(Holiday.starts_on))
    deleted = _post(client, "/setup/holidays", f"/setup/holidays/{first}/delete")
    assert "Deleted." in deleted.text and "Christmas holidays" not in deleted.text


# -- a family's contact details ---------------------------------------------------------------
def test_a_family_edit_names_each_bad_field_and_saves_nothing(sqlite_ctx: Context,
                                                              client: TestClient) -> None:
    ids = _people(sqlite_ctx)
    sign_in(client, "office@school.test")
    edit = f"/families/{ids['family']}/edit"
    bad = _post(client, edit, edit, phone="12", email="not an email", language="elvish",
                channels="sms;pigeon")
    assert bad.status_code == 400
    for said in ("phone</a>: Too short", "email</a>:", "language</a>: &#39;elvish&#39; is not",
                 "channels</a>: &#39;pigeon&#39; is not a channel"):
        assert said in bad.text
    with sqlite_ctx.factory() as s:
        assert s.get(Guardian, ids["family"]).phone == "+447700900321"  # type: ignore[union-attr]
    no_phone = _post(client, edit, edit, phone="", email="", language="pl", channels="sms")
    assert "sms needs a phone number" in no_phone.text
    ok = _post(client, edit, edit, phone="07700 900999", email="Marta@Family.example.org",
               language="Polish", channels="email; sms")
    assert ok.status_code == 200 and "Saved." in ok.text
    with sqlite_ctx.factory() as s:
        g = s.get(Guardian, ids["family"])
        assert g is not None
        assert (g.phone, g.email, g.language, g.channel_order) == \
            ("+447700900999", "Marta@family.example.org", "pl", ["email", "sms"])
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "guardian_contact_edited"))
        assert entry is not None and "phone" in entry.detail["fields"]
        assert "+447700900999" not in str(entry.detail)  # which fields, never the values
    off = _post(client, edit, edit, phone="07700 900999", email="", language="pl",
                channels="sms")
    assert off.status_code == 200
    with sqlite_ctx.factory() as s:
        consent = {c.channel: c.consent for c in s.scalars(select(GuardianChannel).where(
            GuardianChannel.guardian_id == ids["family"]))}
    assert consent.get("email") is False and consent.get("sms") is True
    tess = TestClient(client.app)
    sign_in(tess, "tess@school.test")
    assert tess.get(edit).status_code == 403


# -- saved messages ---------------------------------------------------------------------------
def test_saved_messages_office_adds_everyone_starts_from_them(sqlite_ctx: Context,
                                                              client: TestClient) -> None:
    _people(sqlite_ctx)
    sign_in(client, "office@school.test")
    bad = _post(client, "/saved", "/saved", title="", body="")
    assert bad.status_code == 400 and "Give it a title" in bad.text
    _post(client, "/saved", "/saved", title="Trip reminder",
          body="Please send a packed lunch on Friday.", kind="notice")
    with sqlite_ctx.factory() as s:
        saved = s.scalar(select(SavedMessage))
        assert saved is not None and saved.kind == "notice"
    tess = TestClient(client.app)
    sign_in(tess, "tess@school.test")
    page = tess.get("/saved").text
    assert "Trip reminder" in page and f"/compose?template={saved.id}" in page
    assert 'action="/saved"' not in page  # teachers start from them, the office keeps them
    assert tess.post("/saved", data={"csrf_token": form_token(page), "title": "x",
                                     "body": "y"}).status_code == 403
    compose = tess.get(f"/compose?template={saved.id}").text
    assert ">Please send a packed lunch on Friday.</textarea>" in compose
    assert "Started from the saved message" in compose
    for nobody in ("999999", str(2**63), "x"):  # no such message: an empty form, never 500
        plain = tess.get(f"/compose?template={nobody}")
        assert plain.status_code == 200 and "packed lunch" not in plain.text


# -- the school's glossary --------------------------------------------------------------------
@pytest.fixture
def glossary_client(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Context, TestClient, Path]]:
    """The app with a school glossary file set (not yet made)."""
    from tests.conftest import make_settings

    path = tmp_path / "school-glossary.toml"
    ctx = Context(make_settings(sqlite_url, tmp_path, glossary_file=path))
    with TestClient(create_app(ctx)) as test_client:
        yield ctx, test_client, path
    ctx.engine.dispose()


def test_an_admin_adds_a_term_the_check_then_catches_and_deletes_it(
        glossary_client: tuple[Context, TestClient, Path]) -> None:
    ctx, client, path = glossary_client
    _people(ctx)
    sentence = "Zofia read in the Rainbow Room today."
    assert not check_text(sentence, None).jargon
    sign_in(client, "admin@school.test")
    bad = _post(client, "/setup/glossary", "/setup/glossary", term="", plain="x\x00")
    assert bad.status_code == 400 and "Give the term" in bad.text
    added = _post(client, "/setup/glossary", "/setup/glossary", term="Rainbow Room",
                  plain="the quiet room where children get extra help")
    assert "the check catches it from now on" in added.text
    hits = check_text(sentence, path).jargon
    assert [h.plain for h in hits] == ["the quiet room where children get extra help"]
    twice = _post(client, "/setup/glossary", "/setup/glossary", term="rainbow room",
                  plain="again")
    assert twice.status_code == 400 and "Already in the school" in twice.text
    gone = _post(client, "/setup/glossary", "/setup/glossary/delete", category="school",
                 term="Rainbow Room")
    assert "Deleted." in gone.text
    assert not check_text(sentence, path).jargon
    office = TestClient(client.app)
    sign_in(office, "office@school.test")
    assert office.get("/setup/glossary").status_code == 403


def test_the_glossary_file_keeps_what_the_school_wrote_by_hand(
        glossary_client: tuple[Context, TestClient, Path]) -> None:
    ctx, client, path = glossary_client
    path.write_text('allow = ["DSL"]\n\n[school]\nSENCO = { plain = "Mrs Patel, who '
                    'organises extra help", also = ["SENDCo"] }\n', encoding="utf-8")
    _people(ctx)
    sign_in(client, "admin@school.test")
    _post(client, "/setup/glossary", "/setup/glossary", term='The "Hub"', plain="our library")
    kept = tomllib.loads(path.read_text(encoding="utf-8"))
    assert kept["allow"] == ["DSL"] and kept["school"]["SENCO"]["also"] == ["SENDCo"]
    assert [h.term for h in check_text("Ask the SENDCo at The \"Hub\".", path).jargon] == \
        ["SENCO", 'The "Hub"']
    page = client.get("/setup/glossary").text
    assert re.search(r"SENCO <span class=\"muted\">\(also SENDCo\)", page)


def test_without_a_glossary_file_the_page_says_what_to_set(sqlite_ctx: Context,
                                                           client: TestClient) -> None:
    _people(sqlite_ctx)
    sign_in(client, "admin@school.test")
    page = client.get("/setup/glossary").text
    assert "SCHOOLGATE_GLOSSARY_FILE" in page and 'action="/setup/glossary"' not in page


def test_on_sqlite_the_roster_check_runs_on_a_copy_leaving_the_live_database_free(
        sqlite_ctx: Context) -> None:
    from bot.web.staff.setup.roster_jobs import checking_copy

    ids = _people(sqlite_ctx)
    with checking_copy(sqlite_ctx.engine, sqlite_ctx.factory) as checking, \
            checking() as copy, copy.begin():  # holds the copy's write lock ...
        assert copy.get(Staff, ids["away"]) is not None  # ... a copy of the same rows
        copy.add(Holiday(school_id=1, starts_on=date(2027, 1, 4),
                         ends_on=date(2027, 1, 4), name="only in the copy"))
        copy.flush()
        with sqlite_ctx.factory() as live, live.begin():  # ... while the live one writes
            live.add(Holiday(school_id=1, starts_on=date(2027, 2, 1),
                             ends_on=date(2027, 2, 1), name="live"))
        copy.rollback()
    with sqlite_ctx.factory() as s:
        assert list(s.scalars(select(Holiday.name))) == ["live"]
