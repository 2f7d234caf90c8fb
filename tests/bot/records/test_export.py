"""A guardian's subject access export: everything held, as JSON and as a readable page."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.errors import NotFoundError
from bot.inbound import inbox
from bot.inbound.staff_reply import reply_to_inbound
from bot.inbound.telegram_link import create_link
from bot.journeys.good_news import queue_good_news
from bot.outbound.consent import opt_out
from bot.outbound.worker import Worker
from bot.records.export import export_guardian, render_export_html, write_export
from bot.runtime.context import Context
from bot.store.models import AuditEntry, Staff
from channels.sms import parse_inbound
from tests import factories as f
from tests.recording_channel import RecordingChannel

ALL = {"sms", "email"}
PHONE = "+447700900456"
REPLY = "<script>alert('x')</script> Thank you, she loved it!"


def _history(ctx: Context) -> dict[str, int]:
    """Good news sent, the parent replied by SMS, the teacher answered, email opted out."""
    with ctx.factory() as s, s.begin():
        school = ctx.school(s)
        teacher = f.staff(s, school, name="Ms Key")
        child = f.student(s, school, teacher, first_name="Amara", class_name="4C")
        g = f.guardian(s, school, child, phone=PHONE, first_name="Ada", ref="G-77",
                       accessibility_notes="Prefers large print")
        other = f.guardian(s, school, f.student(s, school, teacher))
        queue_good_news(s, school, child, teacher, "Amara read aloud to the class.", ALL)
        opt_out(s, g, "email")
        create_link(s, g, bot_username="school_bot")
        ids = {"guardian": g.id, "teacher": teacher.id, "other": other.id}
    asyncio.run(Worker(ctx.factory, {"sms": RecordingChannel("sms"),
                                     "email": RecordingChannel("email")})
                .run(until_empty=True))
    row = inbox.receive(ctx.factory, parse_inbound(
        {"From": PHONE, "Body": REPLY, "MessageSid": "SMexport"}), ALL)
    with ctx.factory() as s, s.begin():
        reply_to_inbound(s, row.id, s.get(Staff, ids["teacher"]), "So glad to hear it.", ALL)
    return ids


def test_export_holds_record_children_log_inbound_and_consent(ctx: Context) -> None:
    ids = _history(ctx)
    with ctx.factory() as s, s.begin():
        data = export_guardian(s, ids["guardian"], actor="cli:office")
    assert data["guardian"]["first_name"] == "Ada"
    assert data["guardian"]["accessibility_notes"] == "Prefers large print"
    assert [(c["first_name"], c["class_name"], c["may_contact"], c["relationship"])
            for c in data["children"]] == [("Amara", "4C", True, "parent")]
    channels = {c["channel"]: c for c in data["channels"]}
    assert channels["email"]["opted_out_at"] is not None
    assert channels["sms"]["consent"] is True and channels["sms"]["opted_out_at"] is None
    log_text = [e["text"] for e in data["contact_log"]]
    assert any("Amara read aloud to the class." in t for t in log_text)  # the message sent
    assert REPLY in log_text and "So glad to hear it." in log_text  # reply in, answer out
    [inbound] = data["inbound"]
    assert inbound["body"] == REPLY and "SMexport" in inbound["raw_payload"]
    [link] = data["telegram_links"]
    assert "code" not in link and link["used_at"] is None
    assert {"opt_out", "telegram_link_created"} <= {a["action"] for a in data["audit"]}
    json.dumps(data)  # JSON-ready as it stands
    with ctx.factory() as s:
        audited = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "export_guardian")).one()
        assert (audited.actor, audited.object_id) == ("cli:office", str(ids["guardian"]))


def test_export_holds_nothing_about_another_family(ctx: Context) -> None:
    ids = _history(ctx)
    with ctx.factory() as s, s.begin():
        data = export_guardian(s, ids["other"])
    assert data["inbound"] == []
    assert all("So glad" not in e["text"] for e in data["contact_log"])
    assert PHONE not in json.dumps(data)


def test_html_page_is_escaped_and_has_a_heading_per_section(ctx: Context) -> None:
    ids = _history(ctx)
    with ctx.factory() as s, s.begin():
        page = render_export_html(export_guardian(s, ids["guardian"]))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Thank you" in page
    for heading in ("Record", "Children", "Contact log", "Messages received",
                    "Channels, consent and opt-outs", "Telegram link records", "Audit"):
        assert f"<h2>{heading}" in page
    assert "Prefers large print" in page and "Amara read aloud to the class." in page
    assert "http" not in page  # self-contained: nothing fetched from elsewhere


def test_write_export_writes_json_and_html_files(ctx: Context, tmp_path: Path) -> None:
    ids = _history(ctx)
    with ctx.factory() as s, s.begin():
        json_path, html_path = write_export(s, ids["guardian"], tmp_path / "sar")
    assert (json_path.name, html_path.name) == ("guardian-G-77.json", "guardian-G-77.html")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["guardian"]["ref"] == "G-77" and REPLY in json_path.read_text(encoding="utf-8")
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert json_path.stat().st_mode & 0o077 == 0  # personal data: owner only


def test_unknown_guardian_is_not_found(ctx: Context) -> None:
    with ctx.factory() as s, s.begin(), pytest.raises(NotFoundError):
        export_guardian(s, 999_999)
