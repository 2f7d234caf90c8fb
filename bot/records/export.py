"""Everything held about one guardian, for a subject access request: JSON and HTML.

The export is read in one transaction and audited in it. Telegram link codes are not
included: only their hashes are stored, and a hash is of no use to the family.
"""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from bot.errors import NotFoundError
from bot.records.contact_log import contact_log
from bot.store.audit import audit
from bot.store.models import (
    AuditEntry,
    ChannelName,
    Guardian,
    InboundMessage,
    School,
    StudentGuardian,
    TelegramLink,
    utcnow,
)

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_guardian(session: Session, guardian_id: int, *,
                    actor: str = "system") -> dict[str, Any]:
    """A JSON-ready dict of everything held about one guardian; audited as `actor`."""
    guardian = session.scalar(
        select(Guardian).where(Guardian.id == guardian_id)
        .options(selectinload(Guardian.channels),
                 selectinload(Guardian.links).joinedload(StudentGuardian.student)))
    if guardian is None:
        raise NotFoundError(f"guardian {guardian_id} does not exist")
    school = session.get(School, guardian.school_id)
    data: dict[str, Any] = {
        "generated_at": utcnow().isoformat(),
        "school": {"name": school.name if school else None,
                   "staff_language": school.staff_language if school else "en"},
        "guardian": {
            "id": guardian.id, "ref": guardian.ref, "first_name": guardian.first_name,
            "last_name": guardian.last_name, "language": guardian.language,
            "timezone": guardian.timezone, "phone": guardian.phone, "email": guardian.email,
            "telegram_chat_id": guardian.telegram_chat_id,
            "channel_order": list(guardian.channel_order or []),
            "accessibility_notes": guardian.accessibility_notes,
            "created_at": _iso(guardian.created_at),
        },
        "channels": _channels(guardian),
        "children": [
            {"student_id": link.student.id, "ref": link.student.ref,
             "first_name": link.student.first_name, "last_name": link.student.last_name,
             "class_name": link.student.class_name, "relationship": link.relationship_,
             "may_contact": link.may_contact}
            for link in sorted(guardian.links, key=lambda lk: lk.student_id)
        ],
        "contact_log": [e.as_dict() for e in contact_log(session, guardian_id=guardian.id)],
        "inbound": _inbound(session, guardian.id),
        "telegram_links": [
            {"created_at": _iso(t.created_at), "expires_at": _iso(t.expires_at),
             "used_at": _iso(t.used_at), "chat_id": t.chat_id}
            for t in session.scalars(select(TelegramLink).where(
                TelegramLink.guardian_id == guardian.id).order_by(TelegramLink.created_at))
        ],
        "audit": [
            {"at": _iso(a.at), "actor": a.actor, "action": a.action, "detail": a.detail}
            for a in session.scalars(select(AuditEntry).where(
                AuditEntry.object_type == "guardian",
                AuditEntry.object_id == str(guardian.id)).order_by(AuditEntry.at,
                                                                   AuditEntry.id))
        ],
    }
    audit(session, actor, "export_guardian", "guardian", guardian.id)
    log.info("guardian %s exported", guardian.id)
    return data


def _channels(guardian: Guardian) -> list[dict[str, Any]]:
    """Per channel: the address held and its consent, opt-out and failure state.

    No stored row means nothing was ever recorded: consent is assumed, as the
    dispatcher assumes it, and `recorded` says so.
    """
    state = {c.channel: c for c in guardian.channels}
    known = [c.value for c in ChannelName]
    names = known + sorted(set(state) - set(known))
    out = []
    for name in names:
        row = state.get(name)
        address = guardian.address_for(name) if name in known else None
        if row is None and address is None:
            continue
        out.append({
            "channel": name, "address": address, "recorded": row is not None,
            "consent": row.consent if row is not None else True,
            "opted_out_at": _iso(row.opted_out_at) if row else None,
            "failed_address": row.failed_address if row else None,
            "failed_at": _iso(row.failed_at) if row else None,
            "failed_reason": row.failed_reason if row else None,
        })
    return out


def _inbound(session: Session, guardian_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(InboundMessage).where(InboundMessage.guardian_id == guardian_id)
        .options(joinedload(InboundMessage.routed_to))
        .order_by(InboundMessage.received_at, InboundMessage.id))
    return [
        {"id": i.id, "received_at": _iso(i.received_at), "channel": i.channel,
         "sender_address": i.sender_address, "status": i.status, "body": i.body,
         "language": i.language, "translation": i.translation, "student_id": i.student_id,
         "routed_to": i.routed_to.name if i.routed_to else None,
         "provider_id": i.provider_id, "raw_payload": i.raw_payload}
        for i in rows
    ]


# -- HTML ------------------------------------------------------------------------------
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; line-height: 1.4; color: #111; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td { white-space: pre-wrap; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font-size: .85rem; }
.empty { color: #555; font-style: italic; }
"""

_SECTIONS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("channels", "Channels, consent and opt-outs", [
        ("channel", "Channel"), ("address", "Address"), ("consent", "Consent"),
        ("recorded", "Consent recorded"), ("opted_out_at", "Opted out"),
        ("failed_address", "Failed address"), ("failed_at", "Failed at"),
        ("failed_reason", "Failure reason")]),
    ("children", "Children", [
        ("ref", "Ref"), ("first_name", "First name"), ("last_name", "Last name"),
        ("class_name", "Class"), ("relationship", "Relationship"),
        ("may_contact", "School may contact about this child")]),
    ("contact_log", "Contact log (messages out and replies in)", [
        ("at", "When"), ("direction", "Direction"), ("channel", "Channel"), ("kind", "Kind"),
        ("status", "Status"), ("language", "Language"), ("text", "Text"),
        ("translation", "Translation"), ("staff", "Staff"), ("error", "Error")]),
    ("inbound", "Messages received, as received", [
        ("received_at", "When"), ("channel", "Channel"), ("sender_address", "From"),
        ("status", "Status"), ("body", "Text"), ("translation", "Translation"),
        ("routed_to", "Routed to"), ("raw_payload", "Raw message")]),
    ("telegram_links", "Telegram link records", [
        ("created_at", "Created"), ("expires_at", "Expires"), ("used_at", "Used"),
        ("chat_id", "Chat")]),
    ("audit", "Audit entries", [
        ("at", "When"), ("actor", "Who"), ("action", "Action"), ("detail", "Detail")]),
]

_GUARDIAN_FIELDS = [
    ("ref", "Reference"), ("first_name", "First name"), ("last_name", "Last name"),
    ("language", "Language"), ("timezone", "Time zone"), ("phone", "Phone"),
    ("email", "Email"), ("telegram_chat_id", "Telegram chat"),
    ("channel_order", "Channel order"), ("accessibility_notes", "Accessibility notes"),
    ("created_at", "Record created"),
]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return html.escape(", ".join(str(v) for v in value))
    if isinstance(value, dict):
        return html.escape(json.dumps(value, ensure_ascii=False, sort_keys=True))
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    if not rows:
        return '<p class="empty">Nothing held.</p>'
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = []
    for row in rows:
        cells = []
        for key, _label in columns:
            value = _cell(row.get(key))
            cells.append(f"<td><pre>{value}</pre></td>" if key == "raw_payload"
                         else f"<td>{value}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_export_html(data: dict[str, Any]) -> str:
    """A readable, self-contained HTML page of an export; every value is escaped."""
    guardian = data.get("guardian", {})
    school = data.get("school", {})
    lang = html.escape(str(school.get("staff_language") or "en"), quote=True)
    title = html.escape(f"Data held about {guardian.get('first_name', '')} "
                        f"{guardian.get('last_name', '')} ({guardian.get('ref', '')})")
    record = "".join(f"<tr><th>{html.escape(label)}</th><td>{_cell(guardian.get(key))}</td></tr>"
                     for key, label in _GUARDIAN_FIELDS)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>School: {_cell(school.get('name'))}. "
        f"Produced {_cell(data.get('generated_at'))}.</p>",
        f"<h2>Record</h2><table><tbody>{record}</tbody></table>",
    ]
    for key, heading, columns in _SECTIONS:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(_table(data.get(key, []), columns))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _safe_ref(ref: str) -> str:
    """A guardian ref as a file name part: nothing that could leave the folder."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", ref).lstrip(".") or "guardian"


def write_export(session: Session, guardian_id: int, folder: Path, *,
                 actor: str = "system") -> tuple[Path, Path]:
    """Write guardian-<ref>.json and guardian-<ref>.html into `folder`; returns both paths."""
    data = export_guardian(session, guardian_id, actor=actor)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"guardian-{_safe_ref(str(data['guardian']['ref']))}"
    json_path = folder / f"{stem}.json"
    html_path = folder / f"{stem}.html"
    for path, content in ((json_path, json.dumps(data, ensure_ascii=False, indent=2) + "\n"),
                          (html_path, render_export_html(data))):
        path.touch(mode=0o600, exist_ok=True)  # personal data: owner only
        path.chmod(0o600)  # also when an older export left the file wider open
        path.write_text(content, encoding="utf-8")
    return json_path, html_path
