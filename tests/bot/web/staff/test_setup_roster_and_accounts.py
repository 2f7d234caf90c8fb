"""Set-up in the browser, through the real app: the roster upload (checked, then
imported, bad rows named), staff accounts and one-time password links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot import clock
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Guardian,
    PasswordLink,
    Staff,
    Student,
    WebSession,
)
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import PASSWORD, account, form_token, sign_in

HEADER = ("student_id,student_first_name,student_last_name,class,key_worker_name,"
          "key_worker_email,guardian_id,guardian_first_name,guardian_last_name,relationship,"
          "language,phone,email,preferred_channels,may_contact\n")
KW = "Ms Shah,shah@riverside.example.org"
GOOD = f"S1,Zofia,Kowalska,3B,{KW},G1,Marta,Kowalska,mother,pl,07700 900101,,sms,yes\n"
BAD_PHONE = f"S2,Tom,Reed,3B,{KW},G2,Dan,Reed,father,en,12,,sms,yes\n"
BAD_LANGUAGE = f"S3,Amal,Said,3B,{KW},G3,Huda,Said,mother,klingonese,07700 900103,,sms,yes\n"


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    """The real app on the test database."""
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def _people(ctx: Context) -> dict[str, Any]:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        admin = account(s, school, "admin", name="Ada Admin", email="admin@school.test")
        office = account(s, school, "office", name="Olu Office", email="office@school.test")
        teacher = account(s, school, name="Tess Teacher", email="tess@school.test")
        return {"admin": admin.id, "office": office.id, "teacher": teacher.id}


def _token(client: TestClient, path: str) -> str:
    return form_token(client.get(path).text)


def _upload(client: TestClient, text: str, name: str = "roster.csv") -> Any:
    return client.post("/setup/roster", data={"csrf_token": _token(client, "/setup/roster")},
                       files={"file": (name, text.encode(), "text/csv")})


def test_the_check_names_each_bad_row_and_writes_nothing_until_confirmed(
        ctx: Context, client: TestClient) -> None:
    _people(ctx)
    sign_in(client, "office@school.test")
    checked = _upload(client, HEADER + GOOD + BAD_PHONE + BAD_LANGUAGE)
    assert checked.status_code == 200, checked.text
    page = checked.text
    assert "What this file would change" in page
    assert "Students: 1 would be new" in page
    assert re.search(r"<td>3</td><td>phone</td><td>Too short</td>", page)
    assert re.search(r"<td>4</td><td>language</td><td>&#39;klingonese&#39; is not a language", page)
    with ctx.factory() as s:  # the check wrote nothing
        assert s.scalar(select(func.count()).select_from(Student)) == 0
        assert s.scalar(select(func.count()).select_from(Staff).where(
            Staff.email == "shah@riverside.example.org")) == 0
    apply = re.search(r'action="(/setup/roster/[^"]+/apply)"', page)
    assert apply is not None
    done = client.post(apply.group(1), data={"csrf_token": form_token(page)})
    assert "The roster is imported." in done.text
    with ctx.factory() as s:
        assert [st.ref for st in s.scalars(select(Student))] == ["S1"]
        assert s.scalar(select(Guardian.phone).where(Guardian.ref == "G1")) == "+447700900101"
        actions = {(a.actor, a.action) for a in s.scalars(select(AuditEntry))}
    office = next(a for a, _ in actions if a.startswith("staff:"))
    assert {(office, "roster_checked_web"), (office, "roster_imported_web"),
            (office, "import_roster")} <= actions
    # confirming again imports nothing twice
    again = client.post(apply.group(1), data={"csrf_token": form_token(page)})
    assert again.status_code == 200
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Student)) == 1


def test_a_file_that_is_not_a_roster_is_refused_with_the_reason(ctx: Context,
                                                                 client: TestClient) -> None:
    _people(ctx)
    sign_in(client, "admin@school.test")
    page = _upload(client, "name,phone\nAna,0770\n", "mine.csv").text
    assert "could not be read" in page
    assert "mine.csv is missing required columns" in page
    assert "Import the file" not in page
    empty = _upload(client, "")
    assert empty.status_code == 400 and "The file is empty" in empty.text


def test_teachers_cannot_upload_and_one_persons_upload_is_not_anothers(
        ctx: Context, client: TestClient) -> None:
    _people(ctx)
    sign_in(client, "office@school.test")
    page = _upload(client, HEADER + GOOD).text
    job = re.search(r'action="(/setup/roster/[^"]+)/apply"', page)
    assert job is not None
    client.post("/logout", data={"csrf_token": form_token(page)})
    sign_in(client, "admin@school.test")
    assert client.get(job.group(1)).status_code == 404
    client.post("/logout", data={"csrf_token": _token(client, "/")})
    sign_in(client, "tess@school.test")
    assert client.get("/setup/roster").status_code == 403
    assert client.get("/setup").status_code == 403


def _link(page: str) -> str:
    found = re.search(r'value="http://[^"]*(/reset/[A-Za-z0-9_-]+)"', page)
    assert found, "no password link on the page"
    return found.group(1)


def _reset(client: TestClient, link: str, password: str, again: str | None = None) -> Any:
    form = client.get(link)
    if form.status_code != 200:
        return form
    return client.post(link, data={"csrf_token": form_token(form.text), "password": password,
                                   "again": password if again is None else again},
                       follow_redirects=False)


def test_an_admin_link_sets_a_password_once(ctx: Context, client: TestClient) -> None:
    ids = _people(ctx)
    sign_in(client, "admin@school.test")
    page = client.post(f"/setup/staff/{ids['teacher']}/link",
                       data={"csrf_token": _token(client, "/setup/staff")}).text
    link = _link(page)
    with ctx.factory() as s:  # only the hash is kept
        stored = list(s.scalars(select(PasswordLink)))
        assert len(stored) == 1 and stored[0].token_hash not in link
        assert link.rsplit("/", 1)[1] not in str([r.token_hash for r in stored])
        s.add(WebSession(token_hash="x" * 64, staff_id=ids["teacher"], csrf_token="t",
                         expires_at=clock.now() + timedelta(hours=1)))
        s.commit()
    other = TestClient(client.app)
    mismatch = _reset(other, link, "a new long password", "something else entirely")
    assert mismatch.status_code == 400 and "not the same" in mismatch.text
    short = _reset(other, link, "short")
    assert short.status_code == 400 and "at least 10 characters" in short.text
    done = _reset(other, link, "a new long password")
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
    assert sign_in(other, "tess@school.test", "a new long password").status_code == 303
    with ctx.factory() as s:  # the sessions the account had before are gone
        assert s.get(WebSession, "x" * 64) is None
        assert "password_set_by_link" in set(s.scalars(select(AuditEntry.action)))
    second = TestClient(client.app).get(link)
    assert second.status_code == 410 and "used or has expired" in second.text
    assert _reset(TestClient(client.app), link, "yet another password!").status_code == 410
    assert sign_in(TestClient(client.app), "tess@school.test", PASSWORD).status_code == 401


def test_a_link_expires_and_a_newer_one_replaces_it(ctx: Context, client: TestClient) -> None:
    ids = _people(ctx)
    sign_in(client, "admin@school.test")
    first = _link(client.post(f"/setup/staff/{ids['teacher']}/link",
                              data={"csrf_token": _token(client, "/setup/staff")}).text)
    second = _link(client.post(f"/setup/staff/{ids['teacher']}/link",
                               data={"csrf_token": _token(client, "/setup/staff")}).text)
    anyone = TestClient(client.app)
    assert anyone.get(first).status_code == 410
    assert anyone.get(second).status_code == 200
    with ctx.factory() as s, s.begin():
        for row in s.scalars(select(PasswordLink)):
            row.expires_at = clock.now() - timedelta(seconds=1)
    assert anyone.get(second).status_code == 410


def test_add_an_account_change_role_and_deactivate_moving_children(
        ctx: Context, client: TestClient) -> None:
    ids = _people(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = s.get(Staff, ids["teacher"])
        kids = [f.student(s, school, teacher).id for _ in range(2)]
    sign_in(client, "admin@school.test")
    bad = client.post("/setup/staff", data={"csrf_token": _token(client, "/setup/staff"),
                                            "name": "", "email": "not-an-email",
                                            "role": "teacher"})
    assert bad.status_code == 400
    assert "Give their name" in bad.text and "This is not an email address" in bad.text
    made = client.post("/setup/staff", data={
        "csrf_token": _token(client, "/setup/staff"), "name": "Nia New",
        "email": "nia@riverside.example.org", "role": "teacher"})
    assert "Account made for Nia New" in made.text
    assert "/reset/" in _link(made.text)
    with ctx.factory() as s:
        nia = s.scalar(select(Staff).where(Staff.email == "nia@riverside.example.org"))
        assert nia is not None and nia.password_hash is None
        nia_id = nia.id
    token = _token(client, "/setup/staff")
    last = client.post(f"/setup/staff/{ids['admin']}/role", data={"csrf_token": token,
                                                                   "role": "teacher"})
    assert last.status_code == 400 and "the only admin" in last.text
    assert client.post(f"/setup/staff/{ids['admin']}/deactivate",
                       data={"csrf_token": token}).status_code == 400
    client.post(f"/setup/staff/{ids['office']}/role", data={"csrf_token": token,
                                                             "role": "admin"})
    gone = client.post(f"/setup/staff/{ids['teacher']}/deactivate",
                       data={"csrf_token": token, "families_to": str(nia_id)})
    assert "Tess Teacher can no longer sign in." in gone.text
    with ctx.factory() as s:
        assert s.get(Staff, ids["office"]).role == "admin"  # type: ignore[union-attr]
        assert s.get(Staff, ids["teacher"]).active is False  # type: ignore[union-attr]
        assert {s.get(Student, k).key_worker_id for k in kids} == {nia_id}  # type: ignore[union-attr]
    assert sign_in(TestClient(client.app), "tess@school.test").status_code == 401


def test_the_sign_in_page_sends_nobody_to_a_terminal(ctx: Context, client: TestClient) -> None:
    page = client.get("/login").text
    assert "schoolgate staff add" not in page
    assert "link to set a new password" in page


def test_the_page_shows_progress_while_a_big_file_is_checked(ctx: Context,
                                                              client: TestClient) -> None:
    from bot.web.staff.setup.roster_jobs import RosterJob, RosterJobs

    ids = _people(ctx)
    sign_in(client, "office@school.test")
    jobs = client.app.state.roster_jobs = RosterJobs()  # type: ignore[attr-defined]
    job = RosterJob("t" * 24, ids["office"], 1, jobs.folder / "x.csv", "big.csv", 1,
                    stage="checking", done=5000, total=20000)
    jobs._jobs[job.token] = job  # a job half-way through, as its thread leaves it
    page = client.get(f"/setup/roster/{job.token}").text
    assert "Checking the file: 5000 of 20000 rows (25%)" in page
    assert '<meta http-equiv="refresh" content="2">' in page


def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(
        ctx: Context, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.web.staff.setup import roster_jobs

    monkeypatch.setattr(roster_jobs, "CHUNK", 1024)
    monkeypatch.setattr(roster_jobs, "UPLOAD_LIMIT", 3 * 1024)
    _people(ctx)
    sign_in(client, "office@school.test")
    big = HEADER + GOOD * 200  # about 20 KB, over the 3 KB limit set above
    refused = _upload(client, big)
    assert refused.status_code == 400 and "The file is larger than" in refused.text
    folder = client.app.state.roster_jobs.folder  # type: ignore[attr-defined]
    assert list(folder.iterdir()) == []


def test_the_office_finds_a_family_by_name_phone_or_id(ctx: Context, client: TestClient) -> None:
    _people(ctx)
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        child = f.student(s, school)
        f.guardian(s, school, child, ref="G77", first_name="Marta", last_name="Kowalska",
                   phone="+447700900555")
        f.guardian(s, school, child, first_name="Dan", last_name="Reed")
    sign_in(client, "office@school.test")
    for query in ("marta kow", "900555", "g77"):
        page = client.get("/setup/families", params={"q": query}).text
        assert "Marta Kowalska" in page and "Dan Reed" not in page, query
    assert "Dan Reed" in client.get("/setup/families").text
