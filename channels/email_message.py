"""Email message building: the RFC 5322 bytes for one OutgoingMessage.

Multipart text + HTML (HTML with `lang` and `dir` set, right-to-left languages
detected; values isolated in the text become <bdi>, staff words in another language a
<span lang dir>), headers in ASCII whatever the language (RFC 2047), a random
Message-ID (the delivery's own, recorded by the caller, so a resend is the same message
to the recipient's client and a reply citing it can be matched; never a counter or
anything derived from our ids), a per-delivery reply address carrying the opaque thread
token, and RFC 8058 one-click unsubscribe headers.

Every value that reaches a header or a file name passes `header_safe` first: a name with
CR, LF or another control character can never start a header line of its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import unicodedata
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from html import escape
from urllib.parse import quote

from channels.base import OutgoingMessage, PermanentAddressError

# Languages written right to left. babel answers for the locales it knows; this list covers
# the rest and the scripts tags name explicitly. Kurdish: Sorani (ckb) is Arabic script;
# bare "ku" is Kurmanji, written in Latin script, so it stays left to right.
RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ps", "sd", "syr",
                           "ug", "ur", "yi"})
RTL_SCRIPTS = frozenset({"arab", "hebr", "syrc", "thaa", "nkoo", "adlm", "rohg"})
LTR_SCRIPTS = frozenset({"latn", "cyrl", "grek", "deva", "hans", "hant"})

_ATOM = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
# Headers the adapter sets itself; a caller may not override them through `headers`.
_OWN_HEADERS = frozenset({"from", "to", "subject", "date", "message-id", "reply-to",
                          "list-unsubscribe", "list-unsubscribe-post", "content-type",
                          "content-transfer-encoding", "mime-version", "content-language"})


# -- rendering ---------------------------------------------------------------------------
def text_direction(language: str) -> str:
    """'rtl' for right-to-left languages (ar, ur, fa, he, ps, ckb, yi, sd ...), else 'ltr'."""
    parts = [p.lower() for p in re.split(r"[-_]", language or "") if p]
    if not parts:
        return "ltr"
    for sub in parts[1:]:
        if sub in RTL_SCRIPTS:
            return "rtl"
        if sub in LTR_SCRIPTS:
            return "ltr"
    if parts[0] in RTL_LANGUAGES:
        return "rtl"
    try:
        from babel import Locale

        return "rtl" if Locale.parse(parts[0]).text_direction == "rtl" else "ltr"
    except Exception:  # unknown to babel: left to right is the safe default
        return "ltr"


def html_lang(language: str) -> str:
    """A BCP 47 tag for the `lang` attribute ("pt_BR" -> "pt-BR")."""
    return re.sub(r"[^A-Za-z0-9-]", "", (language or "en").replace("_", "-")) or "en"


# -- bidirectional text: isolates in the text, <bdi> and lang/dir spans in the HTML ---------
# A value written into a sentence of the other direction (an Arabic-script name in a Polish
# sentence, a Latin staff name in an Arabic one) is wrapped in FSI ... PDI, so the name and
# the punctuation around it keep their order. Staff words left in the staff language are
# wrapped line by line in LRI or RLI ... PDI, with the language spelt in Unicode tag
# characters right after the opening mark (invisible wherever the text is shown): the
# HTML part turns that into <span lang=".." dir="..">, the text part drops the tags and
# keeps the marks only where the two directions meet.
FSI, LRI, RLI, PDI = "\u2068", "\u2066", "\u2067", "\u2069"
_LANGUAGE_TAG, _CANCEL_TAG = "\U000e0001", "\U000e007f"
_TAGS = re.compile("[\U000e0001-\U000e007f]")


def direction_of(text: str) -> str | None:
    """The direction of the first strongly directional letter in `text` (None: digits,
    punctuation or nothing)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return None


def _has_direction(text: str, direction: str) -> bool:
    wanted = ("L",) if direction == "ltr" else ("R", "AL")
    return any(unicodedata.bidirectional(c) in wanted for c in text)


def isolate(value: str, direction: str) -> str:
    """`value` as it goes into a sentence written in `direction` ('ltr' or 'rtl'): wrapped
    in FSI ... PDI when it holds letters of the other direction, else unchanged."""
    other = "rtl" if direction == "ltr" else "ltr"
    if not value or value.startswith(FSI) or not _has_direction(value, other):
        return value
    return f"{FSI}{value}{PDI}"


def language_span(text: str, language: str) -> str:
    """Words in `language` inside a message in another: each line marked with its own
    direction and language (see above), so the HTML part says lang= and dir= for them."""
    opener = RLI if text_direction(language) == "rtl" else LRI
    tag = _LANGUAGE_TAG + "".join(chr(0xE0000 + ord(c)) for c in html_lang(language)
                                  if c.isascii() and c.isprintable())
    return "\n".join(f"{opener}{tag}{line}{PDI}" if line.strip() else line
                     for line in text.split("\n"))


# an opening or closing mark, with the language tag after it if any; or a stray tag
_MARK = re.compile("([\u2066-\u2069](?:\U000e0001[\U000e0020-\U000e007e]*)?)"
                   "|[\U000e0001-\U000e007f]")


def _pieces(line: str) -> list[tuple[str, str]]:
    """A line as (mark, tag) and ("", text) pieces, stray tags dropped."""
    out: list[tuple[str, str]] = []
    position = 0
    for match in _MARK.finditer(line):
        if match.start() > position:
            out.append(("", line[position:match.start()]))
        if match.group(1):
            mark = match.group(1)
            out.append((mark[0], "".join(chr(ord(c) - 0xE0000) for c in mark[2:])))
        position = match.end()
    if position < len(line):
        out.append(("", line[position:]))
    return out


def plain_text(text: str, language: str) -> str:
    """`text` for a plain-text reader of `language`: tag characters dropped, and the
    direction marks of a language span kept only where its direction differs from the
    text around it (name isolates are kept: they were only set where needed)."""
    lines = []
    base = text_direction(language)
    for line in text.split("\n"):
        context = [base]
        kept: list[bool] = []
        out: list[str] = []
        for mark, value in _pieces(line):
            if not mark:
                out.append(value)
            elif mark == PDI:
                if kept:
                    context.pop()
                    if kept.pop():
                        out.append(PDI)
            else:
                direction = {LRI: "ltr", RLI: "rtl"}.get(mark, context[-1])
                keep = mark == FSI or direction != context[-1]
                kept.append(keep)
                context.append(direction)
                if keep:
                    out.append(mark)
        lines.append("".join(out))
    return "\n".join(lines)


def _html_line(line: str) -> str:
    """One line of text as HTML: escaped, isolates as <bdi>, language spans as
    <span lang dir>; whatever is still open at the end of the line is closed."""
    out: list[str] = []
    closers: list[str] = []
    for mark, value in _pieces(line):
        if not mark:
            out.append(escape(value))
        elif mark == FSI:
            out.append("<bdi>")
            closers.append("</bdi>")
        elif mark == PDI:
            if closers:
                out.append(closers.pop())
        else:
            lang = f' lang="{escape(html_lang(value))}"' if value else ""
            out.append(f'<span{lang} dir="{"ltr" if mark == LRI else "rtl"}">')
            closers.append("</span>")
    return "".join(out) + "".join(reversed(closers))


def _unsubscribe_label(language: str) -> str:
    try:
        from translations import translations_for

        return translations_for(language).gettext("Stop receiving these emails")
    except Exception:  # catalogs are optional for the adapter
        return "Stop receiving these emails"


def render_text(text: str, language: str, unsubscribe_url: str | None = None) -> str:
    """The plain-text part: the message, then the unsubscribe link when there is one."""
    body = plain_text(text.strip(), language)
    if unsubscribe_url:
        body += f"\n\n-- \n{_unsubscribe_label(language)}: {unsubscribe_url}"
    return body + "\n"


def render_html(text: str, language: str, subject: str | None = None,
                unsubscribe_url: str | None = None) -> str:
    """The HTML part: escaped text in paragraphs, `lang` and `dir` set for the language,
    inserted values in <bdi>, staff words left in another language in their own
    <span lang dir>."""
    direction = text_direction(language)
    lang = html_lang(language)
    align = "right" if direction == "rtl" else "left"
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(_html_line(line) for line in p.strip().splitlines()) + "</p>"
        for p in paragraphs)
    footer = ""
    if unsubscribe_url:
        footer = (f'\n<hr>\n<p style="font-size:13px;color:#555555">'
                  f'<a href="{escape(unsubscribe_url)}">'
                  f"{escape(_unsubscribe_label(language))}</a></p>")
    title = _TAGS.sub("", subject or "")
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}" dir="{direction}">\n<head>\n'
        f'<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n</head>\n"
        f'<body dir="{direction}" style="font-family:Arial,sans-serif;font-size:16px;'
        f'line-height:1.5;text-align:{align}">\n{body}{footer}\n</body>\n</html>\n'
    )


def new_message_id() -> str:
    """A random Message-ID local part (144 bits, dot-atom safe): nothing an outsider can guess."""
    return secrets.token_urlsafe(18)


def message_id_for(message: OutgoingMessage, domain: str) -> str:
    """The Message-ID (without angle brackets) this message goes out with: the delivery's
    recorded random id when it has one, else a fresh random one."""
    local = _ATOM.sub("-", message.message_id or "") or new_message_id()
    return f"{local}@{domain}"


def header_safe(value: str) -> str:
    """`value` fit for one header line: control characters (CR, LF, NUL, tab ...) and line or
    paragraph separators become spaces, runs of spaces one space."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
                      for c in value or "")
    return " ".join(cleaned.split())


def safe_filename(name: str) -> str:
    """An attachment or file name: header-safe, without directions (bidirectional
    overrides), path separators or a leading dot."""
    cleaned = "".join(c for c in header_safe(name) if unicodedata.category(c) != "Cf")
    cleaned = re.sub(r"[/\\:]+", "_", cleaned).lstrip(". ")
    return cleaned[:150] or "attachment"


def domain_of(address: str | None) -> str:
    addr = parseaddr(address or "")[1]
    return addr.rpartition("@")[2] or "localhost"


def build_email(message: OutgoingMessage, from_address: str, reply_domain: str | None = None,
                reply_mailbox: str = "replies", date: datetime | None = None) -> bytes:
    """The complete RFC 5322 message for one OutgoingMessage, as bytes with CRLF line ends.

    Every header is ASCII: a non-ASCII subject, display name or header value is written as
    RFC 2047 encoded words, so any server takes it; bodies are quoted-printable and files
    base64. Only an address with non-ASCII letters in it is written as UTF-8 (it cannot be
    encoded; the adapter sends it only to a server offering SMTPUTF8). The development
    outbox writes these same bytes: the MIME boundary comes from the message itself, and
    `date` (default: now) is the only other input.

    Written directly rather than through `email.message.EmailMessage`, whose header
    registry costs milliseconds per message: at school scale that was half the send time.
    """
    domain = reply_domain or domain_of(from_address)
    message_id = message_id_for(message, domain)
    headers: list[tuple[str, str]] = [
        ("From", _address_header(from_address)),
        ("To", _address_header(message.address)),
        ("Subject", _text_header(message.subject or "")),
        ("Date", format_datetime((date or datetime.now(UTC)).astimezone(UTC))),
        ("Message-ID", f"<{message_id}>"),
    ]
    if message.thread_token:
        token = _ATOM.sub("", message.thread_token)
        headers.append(("Reply-To", f"{reply_mailbox}+{token}@{domain}"))
    for name, value in message.headers.items():
        if name.lower() not in _OWN_HEADERS and _HEADER_NAME.fullmatch(name):
            headers.append((name, _text_header(value)))
    if message.unsubscribe_url:
        headers.append(("List-Unsubscribe", f"<{header_safe(message.unsubscribe_url)}>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    headers.append(("Content-Language", html_lang(message.language)))
    text = render_text(message.text, message.language, message.unsubscribe_url)
    html = message.html or render_html(message.text, message.language, message.subject,
                                       message.unsubscribe_url)
    # Not secret and not guessable from outside: a digest of the random Message-ID.
    seed = hashlib.sha256(f"{message_id}\0{message.idempotency_key}".encode()).hexdigest()
    alternative = _multipart("alternative", "=_sg_a" + seed[:24],
                             [_text_part("plain", text), _text_part("html", html)])
    if message.attachments:
        files = [_file_part(name, mimetype, data)
                 for name, mimetype, data in message.attachments]
        body = _multipart("mixed", "=_sg_m" + seed[24:48], [alternative, *files])
    else:
        body = alternative
    head = "".join(f"{name}: {value}\r\n" for name, value in headers) + "MIME-Version: 1.0\r\n"
    return head.encode("utf-8") + body


_HEADER_NAME = re.compile(r"[!-9;-~]+")


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    """A multipart/* entity (its own Content-Type line, a blank line, the parts)."""
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
    body = b"".join(f"--{boundary}\r\n".encode() + part for part in parts)
    return head + body + f"--{boundary}--\r\n".encode()


def _text_header(value: str) -> str:
    """An unstructured header value, made header-safe: as is when plain ASCII, else RFC
    2047 encoded (tag characters, which only mark languages in our text, dropped)."""
    value = _TAGS.sub("", header_safe(value))
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def _address_header(value: str) -> str:
    """An address header; the display name made header-safe and, when not ASCII, RFC 2047
    encoded. An address with spaces or control characters in it is refused for good."""
    name, addr = parseaddr(value)
    if not addr or addr != "".join(addr.split()) or any(
            unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value.split("<")[-1]):
        raise PermanentAddressError("not a valid email address (empty, or it holds spaces "
                                    "or control characters)")
    name = _TAGS.sub("", header_safe(name))
    if not name:
        return addr
    if name.isascii():
        return formataddr((name, addr))
    return f"{Header(name, 'utf-8').encode()} <{addr}>"


def _text_part(subtype: str, content: str) -> bytes:
    """One text/* body part: 7bit when it can be, quoted-printable otherwise."""
    data = content.replace("\r\n", "\n").encode("utf-8")
    if data.isascii() and all(len(line) <= 900 for line in data.split(b"\n")):
        encoding, body = "7bit", data
    else:
        encoding = "quoted-printable"
        body = binascii.b2a_qp(data, istext=True)
    body = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode() + body


def _file_part(filename: str, mimetype: str, data: bytes) -> bytes:
    """One attachment, base64; its name RFC 2231 encoded when not ASCII. A calendar file
    says its METHOD in the Content-Type, so mail clients offer to add or update it."""
    maintype, _, subtype = mimetype.partition("/")
    maintype = re.sub(r"[^A-Za-z0-9.+-]", "", header_safe(maintype)) or "application"
    subtype = re.sub(r"[^A-Za-z0-9.+-]", "", header_safe(subtype)) or "octet-stream"
    content_type = f"{maintype}/{subtype}"
    if content_type == "text/calendar":
        method = re.search(rb"^METHOD:([A-Z]+)\r?$", data, re.MULTILINE)
        if method:
            content_type += f'; charset="utf-8"; method={method.group(1).decode()}'
    name = safe_filename(filename)
    if name.isascii():
        quoted = name.replace("\\", "_").replace('"', "_")
        disposition = f'attachment; filename="{quoted}"'
    else:
        disposition = "attachment; filename*=utf-8''" + quote(name, safe="")
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return (f"Content-Type: {content_type}\r\n"
            f"Content-Disposition: {disposition}\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + encoded
