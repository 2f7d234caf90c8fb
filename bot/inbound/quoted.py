"""The new part of an emailed reply: the quoted thread, attribution line and signature cut.

Staff read what the parent wrote this time; the whole mail stays in the stored message.
"""

from __future__ import annotations

import re

# Where a quoted earlier message starts. Mail clients write the attribution line in the
# reader's language; the common ones are here. Everything from the match on is quoted.
_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,300}\bwrote\s*:|le\b.{0,300}\ba écrit\s*:|am\b.{0,300}\bschrieb\b.{0,60}:"
    r"|el\b.{0,300}\bescribió\s*:|em\b.{0,300}\bescreveu\s*:|il\b.{0,300}\bha scritto\s*:"
    r"|op\b.{0,300}\bschreef\b.{0,60}:|w dniu\b.{0,300}\bnapisał\w*\s*:"
    r"|.{0,300}\byazdı\s*:|.{0,300}كتب\s*:|.{0,300}写道\s*[:：])\s*$",
    re.IGNORECASE)
_WROTE_END = re.compile(r"(wrote|a écrit|escribió|escreveu|ha scritto|schreef|napisał\w*"
                        r"|yazdı|كتب|写道)\s*[:：]\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|forwarded message|message d'origine|"
                       r"ursprüngliche nachricht|mensaje original)\s*-{2,}\s*$", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"^\s*\*?(from|de|von|van|da)\s*:\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(sent|date|envoyé|gesendet|enviado|to|subject)\s*:",
                           re.IGNORECASE)
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(sent from my \w+|sent from (outlook|yahoo mail|mail) for \w+|get outlook for \w+"
    r"|envoyé de mon \w+|von meinem \w+ gesendet|enviado desde mi \w+)\b.*$", re.IGNORECASE)


def strip_quoted(text: str) -> str:
    """The new part of a reply: quoted thread, attribution lines and signature removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.rstrip() in ("--", "-- ") or line.startswith("__________"):
            break
        if _ORIGINAL.match(line) or _ATTRIBUTION.match(line):
            break
        if line.strip().lower().startswith("on ") and _WROTE_END.search(nxt) \
                and not _WROTE_END.search(line):
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
