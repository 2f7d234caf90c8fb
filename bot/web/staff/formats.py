"""How staff pages write times, languages and statuses: one place, as Jinja filters.

Every time is shown in the school's time zone (the zone is named at the foot of every
page), formatted for the staff language in the school's country (en + Europe/London is
"9 Dec 2026, 15:30"; en + America/New_York is "Dec 9, 2026, 3:30 PM"). Languages are
shown by name ("Somali", "Portuguese (Brazil)"), never by code, and a text in a
right-to-left language is marked so the browser lays it out that way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_skeleton, format_time
from jinja2 import Environment, pass_context
from jinja2.runtime import Context as JinjaContext

from bot.inbound.keywords import Keyword, keyword_of
from bot.outbound.render import language_name
from bot.outbound.status import shown
from bot.store.models import InboundMessage, InboundStatus

DEFAULT_ZONE = "UTC"


@lru_cache(maxsize=64)
def staff_locale(language: str, zone: str) -> Locale:
    """The staff language as written in the school's country (en in Europe/London: en_GB)."""
    territory = get_global("zone_territories").get(zone)
    base = (language or "en").replace("-", "_")
    for candidate in ((f"{base.split('_')[0]}_{territory}" if territory else None), base, "en"):
        if candidate is None:
            continue
        try:
            return Locale.parse(candidate)
        except (ValueError, UnknownLocaleError):
            continue
    return Locale.parse("en")  # pragma: no cover - "en" always parses


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored in UTC


def _zone(ctx: JinjaContext) -> tuple[ZoneInfo, Locale]:
    zone = ctx.get("school_tz") or DEFAULT_ZONE
    return ZoneInfo(zone), staff_locale(ctx.get("staff_language") or "en", zone)


def format_when(value: datetime | str | None, zone: str, language: str = "en", *,
                long: bool = False) -> str:
    """A moment in school time, in the staff locale ("9 Dec 2026, 15:30"); `long` adds the
    weekday and the month in full, as a meeting time is read ("Wednesday, 9 December 2026,
    15:30")."""
    moment = _moment(value)
    if moment is None:
        return ""
    tz, locale = ZoneInfo(zone), staff_locale(language, zone)
    day = format_skeleton("yMMMMEEEEd" if long else "yMMMd", moment, tzinfo=tz, locale=locale)
    clock = format_time(moment, "short", tzinfo=tz, locale=locale)
    pattern = locale.datetime_formats["full" if long else "medium"]
    return str(pattern).replace("'", "").format(clock, day)


@pass_context
def when(ctx: JinjaContext, value: datetime | str | None) -> str:
    """Filter: a stored time as school time, e.g. `{{ r.received_at|when }}`."""
    zone = ctx.get("school_tz") or DEFAULT_ZONE
    return format_when(value, zone, ctx.get("staff_language") or "en")


@pass_context
def when_long(ctx: JinjaContext, value: datetime | str | None) -> str:
    """Filter: a meeting time as families and staff say it (weekday, day, month, time)."""
    zone = ctx.get("school_tz") or DEFAULT_ZONE
    return format_when(value, zone, ctx.get("staff_language") or "en", long=True)


@pass_context
def day(ctx: JinjaContext, value: datetime | str | None) -> str:
    """Filter: the date of a stored time in school time ("9 Dec 2026")."""
    moment = _moment(value)
    if moment is None:
        return ""
    tz, locale = _zone(ctx)
    return format_skeleton("yMMMd", moment, tzinfo=tz, locale=locale)


@pass_context
def iso(ctx: JinjaContext, value: datetime | str | None) -> str:
    """Filter: the moment for a <time datetime> attribute, with its offset."""
    moment = _moment(value)
    return moment.astimezone(_zone(ctx)[0]).isoformat(timespec="minutes") if moment else ""


def zone_label(zone: str, now: datetime | None = None) -> str:
    """The zone as the foot of a page names it: "Europe/London (GMT)"."""
    short = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).tzname() or ""
    return f"{zone} ({short})" if short and short != zone else zone


def language_label(code: str | None) -> str:
    """A language by its English name ("so" is Somali, "pt_BR" Portuguese (Brazil))."""
    if not code:
        return "not known"
    return language_name(code, "en")


def lang_tag(code: str | None) -> str:
    """The BCP 47 tag for a lang attribute (pt_BR is pt-BR); "und" when not known."""
    return code.replace("_", "-") if code else "und"


def text_dir(code: str | None) -> str:
    """"rtl" for a right-to-left language (Arabic, Urdu, Persian, Hebrew ...), else "ltr"."""
    if not code:
        return "auto"
    try:
        return "rtl" if Locale.parse(code.replace("-", "_")).text_direction == "rtl" else "ltr"
    except (ValueError, UnknownLocaleError):
        return "auto"


REPLY_STATES = {
    "waiting": "waiting for an answer",
    "handled": "handled",
    "automatic": "handled automatically",
    "arriving": "being sorted",
    "unmatched": "unmatched: the office sorts it out",
}


def reply_state(inbound: InboundMessage, handled_by: str | None = None) -> tuple[str, str]:
    """(key, words) for a family's reply: the one status the inbox list, the reply's own
    page and the contact log all show. A keyword (STOP, START, HELP) is answered by
    schoolgate itself: handled, automatically, never "waiting"."""
    if inbound.handled_at is not None:
        return "handled", "handled" + (f" by {handled_by}" if handled_by else "")
    if inbound.status == InboundStatus.HANDLED:
        word = keyword_of(inbound.body or "")
        why = {Keyword.STOP: "they opted out (STOP)",
               Keyword.START: "they opted back in (START)",
               Keyword.HELP: "they asked for help (HELP)",
               }.get(word) if word else None
        return "automatic", REPLY_STATES["automatic"] + (f": {why}" if why else "")
    if inbound.status == InboundStatus.ROUTED:
        return "waiting", REPLY_STATES["waiting"]
    if inbound.status == InboundStatus.UNMATCHED:
        return "unmatched", REPLY_STATES["unmatched"]
    return "arriving", REPLY_STATES["arriving"]


def install(env: Environment) -> None:
    """Register the filters on the staff templates' environment."""
    env.filters.update({"when": when, "when_long": when_long, "day": day, "iso": iso,
                        "language": language_label, "lang_tag": lang_tag, "dir": text_dir})
    env.globals.update({"zone_label": zone_label, "shown": shown})


def page_values(request: Any) -> dict[str, Any]:
    """What every page needs for the filters: the school's zone and staff language, kept
    on the request when the session was checked (bot.web.staff.deps)."""
    zone = getattr(request.state, "school_tz", None) or DEFAULT_ZONE
    return {"school_tz": zone,
            "staff_language": getattr(request.state, "staff_language", None) or "en"}
