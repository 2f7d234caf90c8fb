"""The new part of an emailed reply: the quoted thread, attribution line and signature cut.

Staff read what the parent wrote this time; the whole mail stays in the stored message.

The surest sign of the quoted part is our own address: a reply quotes the message we
sent, and mail clients introduce it with a line naming its sender ("... <replies+...@
school> napisał(a):", "Od: Riverside <office@school>"), in whatever language the parent's
client is set to. So any line naming one of the addresses the reply was sent to (ours)
and ending with a colon, or an Outlook-style header line naming it, starts the quoted
part. The attribution phrases of the common clients in our families' languages are known
too, for mail that names us only by name.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from email import message_from_bytes, policy
from email.utils import getaddresses

# Where a quoted earlier message starts. Mail clients write the attribution line in the
# reader's language; the common ones are here. Everything from the match on is quoted.
_WROTE = (r"wrote|a écrit|schrieb|escribió|escreveu|ha scritto|schreef|napisał(?:\(a\)|a)?"
          r"|napsal(?:\(a\)|a)?|napísal(?:\(a\)|a)?|a scris|написав(?:\(ла\)|ла)?"
          r"|написала|pisze|пише|пишет|rašė|đã viết|yazdı|كتب|لکھا|লিখেছেন|ਲਿਖਿਆ|写道|qoray")
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,300}\bwrote\s*:|le\b.{0,300}\ba écrit\s*:|am\b.{0,300}\bschrieb\b.{0,60}:"
    r"|el\b.{0,300}\bescribió\s*:|em\b.{0,300}\bescreveu\s*:|il\b.{0,300}\bha scritto\s*:"
    r"|op\b.{0,300}\bschreef\b.{0,60}:"
    rf"|.{{0,300}}(?<!\w)({_WROTE})\s*[:：])\s*$",
    re.IGNORECASE)
_WROTE_END = re.compile(rf"(?<!\w)({_WROTE})\s*[:：]\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|forwarded message|message d'origine|"
                       r"ursprüngliche nachricht|mensaje original|wiadomość oryginalna|"
                       r"původní zpráva|pôvodná správa|mesaj original|оригінальне повідомлення|"
                       r"originalus laiškas|thư gốc|原始邮件)\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|de|von|van|da|od|de la|від|от|nuo|từ|发件人|من"
                           r"|منجانب)\s*[:：]\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|envoyé|gesendet|enviado|to|subject|wysłano"
                           r"|data|do|temat|odesláno|datum|komu|předmět|odoslané|predmet"
                           r"|trimis|către|subiect|надіслано|кому|тема|išsiųsta|kam|tema"
                           r"|đã gửi|đến|chủ đề|发送时间|收件人|主题)\s*[:：]", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^\s*\*?[^\W\d_][^:：]{0,20}[:：]\*?\s")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(sent from my \w+|sent from (outlook|yahoo mail|mail) for \w+|get outlook for \w+"
    r"|envoyé de mon \w+|von meinem \w+ gesendet|enviado desde mi \w+|wysłano z \w+"
    r"|odesláno z \w+|trimis de pe \w+|надіслано з \w+)\b.*$", re.IGNORECASE)


def addressed_to(raw: bytes) -> tuple[str, ...]:
    """The addresses a received mail was sent to (To, Cc, Delivered-To): ours, lower-case."""
    try:
        mail = message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # an unreadable mail has no addresses to go by
        return ()
    found = getaddresses([str(v) for h in ("To", "Cc", "Delivered-To", "X-Original-To")
                          for v in mail.get_all(h, [])])
    return tuple(dict.fromkeys(a.lower() for _n, a in found if "@" in a))


def _names_us(line: str, ours: Collection[str]) -> bool:
    """A line naming one of our addresses, ending in a colon or shaped like a mail header."""
    low = line.lower()
    if not any(address in low for address in ours):
        return False
    return line.rstrip().endswith((":", "：")) or bool(_HEADER_LINE.match(line))


def strip_quoted(text: str, ours: Collection[str] = ()) -> str:
    """The new part of a reply: quoted thread, attribution lines and signature removed.

    `ours` are the addresses the reply was sent to (see `addressed_to`): a line naming one
    of them with a colon starts the quoted part, whatever language the client writes in.
    """
    ours = [a.lower() for a in ours if a and "@" in a]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.rstrip() in ("--", "-- ") or line.startswith("__________"):
            break
        if _ORIGINAL.match(line) or _ATTRIBUTION.match(line):
            break
        if _names_us(line, ours) or (_names_us(f"{line} {nxt}", ours)
                                     and nxt.rstrip().endswith((":", "："))):
            break  # the line introducing what we sent (perhaps wrapped over two lines)
        if _WROTE_END.search(nxt) and not _WROTE_END.search(line) and line.strip() \
                and not nxt.lstrip().startswith(">") and re.search(r"\d", line):
            break  # attribution wrapped over two lines by the sender's client
        if _OUTLOOK_FROM.match(line) and any(
                _OUTLOOK_NEXT.match(n) for n in lines[i + 1:i + 4]):
            break
        if _MOBILE_SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    result = "\n".join(kept).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result or text.strip()
