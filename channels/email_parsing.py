"""Email inbound parsing: received RFC 5322 bytes as an InboundParsed, and bounce reports.

Replies become an InboundParsed (body text with quoted blocks left out, the thread
tokens from the +tags of the addresses it was sent to, auto-reply detection); delivery
status notifications and MAILER-DAEMON messages are read by `parse_report`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import collapse_rfc2231_value, getaddresses, parseaddr
from html.parser import HTMLParser

from channels.base import InboundParsed

_MSGID = re.compile(r"<([^<>\s]+)>")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY_CODE = re.compile(r"(?m)^\s*([245]\d\d)[\s-]")


# -- inbound -----------------------------------------------------------------------------
class _TextExtractor(HTMLParser):
    """HTML mail as plain text; quoted blocks (blockquote, gmail_quote) are left out."""

    _BREAKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._stack: list[bool] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        skip = tag in ("style", "script", "head", "blockquote") or "gmail_quote" in classes \
            or dict(attrs).get("id") in ("divRplyFwdMsg", "appendonsend")
        if tag not in ("br", "img", "hr", "meta", "link", "input"):
            self._stack.append(skip)
            self._skip += skip
        if tag in self._BREAKS and not self._skip:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "img", "hr", "meta", "link", "input"):
            return
        if self._stack:
            self._skip -= self._stack.pop()
        if tag in self._BREAKS and not self._skip:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """Readable text from an HTML body (tags dropped, quoted blocks left out)."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.out).replace("\xa0", " ")
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def message_ids(value: str) -> list[str]:
    """The Message-IDs in a References / In-Reply-To value, without angle brackets."""
    return _MSGID.findall(value or "")


def _body_text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset: keep what can be read
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if part.get_content_type() == "text/html":
        return html_to_text(content)
    return str(content)


def _decoded_bytes(part: Message) -> bytes:
    """A non-multipart part's payload, transfer-decoded (b"" when there is none)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _report_type(mail: EmailMessage) -> str:
    """The Content-Type's report-type parameter ("" when absent), RFC 2231 values decoded."""
    value = mail.get_param("report-type", "")
    return collapse_rfc2231_value(value) if isinstance(value, tuple) else value


def _tokens(mail: EmailMessage) -> list[str]:
    """Candidate thread tokens: the +tag of every address the mail was sent to."""
    found: list[str] = []
    values = [str(v) for name in ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
              for v in mail.get_all(name, [])]
    for _, address in getaddresses(values):
        local = address.rpartition("@")[0]
        if "+" in local:
            token = local.split("+", 1)[1]
            if token and token not in found:
                found.append(token)
    return found


def parse_inbound(raw: bytes) -> InboundParsed:
    """An RFC 5322 message as an InboundParsed; the raw bytes are kept as received."""
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    text = _body_text(mail)
    sender = parseaddr(str(mail.get("From", "")))[1].lower()
    tokens = _tokens(mail)
    message_id = str(mail.get("Message-ID", "")).strip()
    provider_id = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    return InboundParsed(
        channel="email",
        sender_address=sender,
        text=text,
        raw=raw.decode("utf-8", errors="replace"),
        provider_id=provider_id[:200],
        thread_token=tokens[0] if tokens else None,
        extra={"references": str(mail.get("References", "")),
               "in_reply_to": str(mail.get("In-Reply-To", "")),
               "tokens": tokens,
               "subject": str(mail.get("Subject", "")),
               "auto_reply": is_automatic(mail),
               "no_auto_answer": asks_no_auto_answer(mail)},
    )


# Vendor headers that mark a message as written by a machine: any value but "no" counts.
_AUTO_FLAGS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-AutoReply-From",
               "X-Mail-Autoreply", "X-Autogenerated", "X-FC-MachineGenerated",
               "X-MS-Exchange-Generated-Message-Source", "X-Vacation", "X-Cron-Env",
               "X-Failed-Recipients")
_AUTOMATIC_PRECEDENCE = frozenset({"junk", "auto_reply", "auto-reply"})
# Signs a person may still have written it, but it must not be answered automatically
# (RFC 3834 section 2: bulk and list mail; Exchange's X-Auto-Response-Suppress).
_QUIET_PRECEDENCE = frozenset({"bulk", "list"})


def _flagged(mail: Message, name: str) -> bool:
    value = mail.get(name)
    return value is not None and str(value).strip().lower() not in ("no", "false", "0")


def is_automatic(mail: Message) -> bool:
    """Whether a mail was sent by a machine, not typed by a person (RFC 3834
    Auto-Submitted, Precedence junk/auto_reply, a null return path, the usual vendor
    headers): it is kept with the family's record, never routed or answered."""
    auto = str(mail.get("Auto-Submitted", "")).strip().lower().split(";")[0].strip()
    if auto and auto != "no":
        return True
    if str(mail.get("Precedence", "")).strip().lower() in _AUTOMATIC_PRECEDENCE:
        return True
    if str(mail.get("Return-Path", "x")).strip() in ("<>", ""):
        return True
    return any(_flagged(mail, name) for name in _AUTO_FLAGS)


def asks_no_auto_answer(mail: Message) -> bool:
    """Whether no automatic answer may go to this mail: automatic mail, and also bulk or
    list mail (Precedence bulk/list, List-Id) and mail that says so
    (X-Auto-Response-Suppress). Such mail still reaches a person."""
    return is_automatic(mail) or \
        str(mail.get("Precedence", "")).strip().lower() in _QUIET_PRECEDENCE or \
        bool(mail.get("List-Id")) or _flagged(mail, "X-Auto-Response-Suppress")


@dataclass(frozen=True, slots=True)
class BounceReport:
    """A delivery status notification: which message failed, for which recipients, how,
    and whether for good. `structured` is True for an RFC 3464 multipart/report with a
    delivery-status part; False for a plain mailer-daemon text, which the caller trusts only
    from a plausible reporter (`reporter`, the address it came from)."""

    original_message_ids: tuple[str, ...]
    status: str | None
    action: str
    diagnostic: str
    recipients: tuple[str, ...] = ()
    reporter: str = ""
    structured: bool = True

    @property
    def permanent(self) -> bool:
        """True for a 5.x.x status (the address will not work), False for 4.x.x."""
        return bool(self.status and self.status.startswith("5"))

    @property
    def failed(self) -> bool:
        """True when the report says delivery failed (not merely delayed or relayed)."""
        return self.action == "failed"


def _is_daemon(sender: str) -> bool:
    local = sender.partition("@")[0].lower()
    return local in ("mailer-daemon", "postmaster", "mail-daemon") or not sender


def parse_report(raw: bytes) -> BounceReport | None:
    """The bounce in a DSN (multipart/report) or a MAILER-DAEMON message; None for other mail."""
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    is_report = mail.get_content_type() == "multipart/report" and \
        _report_type(mail).lower() == "delivery-status"
    sender = parseaddr(str(mail.get("From", "")))[1]
    if not is_report and not (_is_daemon(sender) and str(mail.get("From", ""))):
        return None
    status = action = None
    diagnostic = ""
    ids: list[str] = []
    recipients: list[str] = []
    structured = False
    for part in mail.walk():
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            structured = is_report
            for block in _status_blocks(part):
                named = [_recipient(block.get(h)) for h in ("Final-Recipient",
                                                              "Original-Recipient")]
                recipients += [r for r in named if r]
                if not any(named):
                    continue  # the per-message block (Reporting-MTA ...)
                status = status or _first(block, "Status")
                action = action or (_first(block, "Action") or "").lower() or None
                diagnostic = diagnostic or _first(block, "Diagnostic-Code") or ""
        elif ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, Message):
                ids += message_ids(str(inner.get("Message-ID", "")))
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers"):
            headers = BytesHeaderParser(policy=policy.default).parsebytes(_decoded_bytes(part))
            ids += message_ids(str(headers.get("Message-ID", "")))
    if not ids:  # a plain-text bounce: the original headers are quoted in the body
        body = _body_text(mail) if not mail.is_multipart() else \
            "\n".join(str(_decoded_bytes(p), "utf-8", "replace")
                      for p in mail.walk() if p.get_content_maintype() == "text")
        ids = [m for line in body.splitlines() if line.lower().lstrip().startswith("message-id")
               for m in message_ids(line)]
        if status is None:
            found = _STATUS.search(body)
            code = _REPLY_CODE.search(body)
            status = found.group(0) if found else (
                f"{code.group(1)[0]}.0.0" if code else None)
        diagnostic = diagnostic or body.strip()[:300]
        if not recipients:  # "<ana@family.test>: host ... said: 550 ..." and the like
            quoted = body.lower().split("message-id", 1)[0]
            recipients = [a.lower() for a in _ADDRESS.findall(quoted)]
    if not ids:
        return None
    if action is None:
        action = "delayed" if status and status.startswith("4") else "failed"
    return BounceReport(tuple(dict.fromkeys(ids)), status, action, diagnostic.strip()[:300],
                        recipients=tuple(dict.fromkeys(recipients)),
                        reporter=sender.lower(), structured=structured)


_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def _recipient(value: object) -> str | None:
    """The address of a Final-Recipient / Original-Recipient field ("rfc822; a@b" -> "a@b")."""
    if value is None:
        return None
    text = str(value).strip()
    kind, sep, address = text.partition(";")
    address = (address if sep else kind).strip().strip("<>").strip().lower()
    return address or None


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    text = payload if isinstance(payload, str) else ""
    parser = BytesHeaderParser(policy=policy.default)
    return [parser.parsebytes(block.strip().encode() + b"\n")
            for block in re.split(r"\r?\n\s*\r?\n", text) if block.strip()]


def _first(block: Message, name: str) -> str | None:
    value = block.get(name)
    if value is None:
        return None
    text = str(value).strip()
    if name == "Status":
        found = _STATUS.search(text)
        return found.group(0) if found else None
    return text
