"""The compose preview shows each family's text as it will go: their language's frame, the
SMS as sent (with its private link) and its segment count, warned above 3."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.runtime.context import Context
from bot.store.models import Message, PackLink
from bot.web.app import create_app
from tests import factories as f
from tests.bot.web.staff.helpers import account, form_token, sign_in

NOTE = ("Zofia read a whole chapter aloud to the class today and helped a friend with the "
        "hard words. She was patient and kind, and we are all very proud of her.")


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def test_preview_shows_the_polish_sms_with_its_segments_and_saves_nothing(
        ctx: Context, client: TestClient) -> None:
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        ana = account(s, school, name="Ana Teacher", email="ana@school.test")
        child = f.student(s, school, ana, first_name="Zofia")
        f.guardian(s, school, child, language="pl", first_name="Agnieszka",
                   channel_order=["sms"])
        f.guardian(s, school, child, language="en", first_name="Tom", channel_order=["email"])
        child_id = child.id
    sign_in(client, "ana@school.test")
    token = form_token(client.get(f"/compose?student={child_id}").text)
    page = client.post("/compose", data={"csrf_token": token, "student_id": child_id,
                                         "text": NOTE, "action": "preview"})
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Dobre wieści: Zofia\nAngielski: Zofia read" in text  # Polish frame, SMS form
    assert "Cała wiadomość: http" in text  # the link it will carry (not made yet)
    counts = [int(n) for n in re.findall(r'data-segments="(\d+)"', page.text)]
    assert len(counts) == 1 and 1 <= counts[0] <= 3  # only the SMS family has a count
    assert f"SMS: {counts[0]} text messages" in text
    assert "more than 3" not in text
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
        assert s.scalar(select(func.count()).select_from(PackLink)) == 0
