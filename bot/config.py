"""One typed settings object, read from the environment or `.env`.

Provider settings use the provider's standard variable names (`TWILIO_ACCOUNT_SID`,
`SMTP_HOST`, `TELEGRAM_BOT_TOKEN`); everything else is prefixed `SCHOOLGATE_`.
A provider counts as configured as soon as one of its variables is set; from then
on, an empty or placeholder secret is refused at start-up with the variable's name.
Secrets are `SecretStr`: repr, str and `config check` show stars; the code that hands
one to its provider asks for it with `.get_secret_value()`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigurationError

_PLACEHOLDER = re.compile(
    r"^(|x+|changeme|change[-_ ]?me|replace[-_ ]?me|placeholder|secret|password|todo|"
    r"your[-_ ].*|<.*>|\.\.\.|example|dummy|test)$",
    re.IGNORECASE,
)


def is_placeholder(value: str | SecretStr | None) -> bool:
    """True for empty values and the usual template placeholders ("changeme", "<token>")."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is None or bool(_PLACEHOLDER.match(value.strip()))


def _env(prefix: str = "") -> SettingsConfigDict:
    # validate_assignment: a value set later (a test, a command) is a SecretStr too
    return SettingsConfigDict(
        env_prefix=prefix, env_file=".env", env_file_encoding="utf-8", extra="ignore",
        validate_assignment=True,
    )


class TwilioSettings(BaseSettings):
    """SMS through Twilio's Messages API."""

    model_config = _env("TWILIO_")

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    api_base_url: str = "https://api.twilio.com"
    rate_per_second: float = 10.0

    @property
    def configured(self) -> bool:
        """True when any Twilio credential has been set."""
        return any([self.account_sid, self.auth_token, self.from_number,
                    self.messaging_service_sid])

    def problems(self) -> list[str]:
        """What stops this provider from working, one line each."""
        out = []
        if is_placeholder(self.account_sid):
            out.append("TWILIO_ACCOUNT_SID is empty or a placeholder")
        if is_placeholder(self.auth_token):
            out.append("TWILIO_AUTH_TOKEN is empty or a placeholder")
        if not (self.from_number or self.messaging_service_sid):
            out.append("set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        return out


class SmtpSettings(BaseSettings):
    """Email out through SMTP, replies in through IMAP."""

    model_config = _env("SMTP_")

    host: str | None = None
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    from_address: str | None = None
    rate_per_second: float = 20.0
    use_tls: bool = False  # implicit TLS from the first byte (port 465); else STARTTLS
    reply_domain: str | None = None  # domain of reply addresses; default: from_address's
    reply_mailbox: str = "replies"  # replies go to {reply_mailbox}+{token}@{reply_domain}
    tls_verify: bool = True
    ca_file: str | None = None  # extra CA bundle (PEM), e.g. for a self-signed relay
    timeout: float = 30.0
    connections: int = Field(default=2, ge=1, le=16)  # SMTP connections kept open

    @property
    def configured(self) -> bool:
        """True when an SMTP host has been set."""
        return bool(self.host)

    def problems(self) -> list[str]:
        """What stops this provider from working, one line each."""
        out = []
        if not self.from_address:
            out.append("SMTP_FROM_ADDRESS is empty")
        if self.username and is_placeholder(self.password):
            out.append("SMTP_PASSWORD is empty or a placeholder")
        return out


class ImapSettings(BaseSettings):
    """The mailbox that receives families' email replies."""

    model_config = _env("IMAP_")

    host: str | None = None
    port: int = 993
    username: str | None = None
    password: SecretStr | None = None
    use_ssl: bool = True
    poll_seconds: float = 60.0
    mailbox: str = "INBOX"
    idle: bool = True  # wait with IMAP IDLE when the server offers it
    tls_verify: bool = True
    ca_file: str | None = None  # extra CA bundle (PEM), e.g. for a self-signed server
    timeout: float = 30.0

    @property
    def configured(self) -> bool:
        """True when an IMAP host has been set."""
        return bool(self.host)


class TelegramSettings(BaseSettings):
    """Telegram Bot API."""

    model_config = _env("TELEGRAM_")

    bot_token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org"
    webhook_secret: SecretStr | None = None
    rate_per_second: float = 25.0  # Telegram allows about 30 a second per bot
    bot_username: str | None = None  # for t.me links; asked of Telegram (getMe) when unset
    link_ttl_hours: float = Field(default=72.0, gt=0)  # how long a family's link works
    mode: Literal["webhook", "polling"] = "webhook"  # polling is for development
    timeout: float = Field(default=10.0, gt=0)  # seconds for one Bot API call
    poll_timeout: int = Field(default=30, ge=0)  # long-poll seconds for getUpdates

    @property
    def configured(self) -> bool:
        """True when a bot token has been set."""
        return bool(self.bot_token)

    def problems(self) -> list[str]:
        """What stops this provider from working, one line each."""
        out = []
        if is_placeholder(self.bot_token):
            out.append("TELEGRAM_BOT_TOKEN is empty or a placeholder")
        if self.webhook_secret is not None and is_placeholder(self.webhook_secret):
            out.append("TELEGRAM_WEBHOOK_SECRET is empty or a placeholder")
        elif self.webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}",
                                                      self.webhook_secret.get_secret_value()):
            out.append("TELEGRAM_WEBHOOK_SECRET may use only A-Z, a-z, 0-9, _ and - "
                       "(at most 256), as Telegram requires")
        return out


class Settings(BaseSettings):
    """Everything schoolgate reads from its environment."""

    model_config = _env("SCHOOLGATE_")

    environment: Literal["development", "production"] = "development"
    # may hold a password: kept out of repr (config check masks it)
    database_url: str = Field(default="sqlite:///schoolgate.db", repr=False)
    school_name: str = "Riverside Primary School"
    timezone: str = "Europe/London"
    staff_language: str = "en"
    default_region: str = "GB"
    public_url: str = "http://127.0.0.1:8000"
    # a prep-pack link stops working this many days after the meeting's last time option
    pack_link_days: int = Field(default=14, ge=1, le=365)
    outbox_dir: Path = Path("outbox")
    worker_batch_size: int = Field(default=50, ge=1, le=1000)
    worker_poll_seconds: float = 1.0
    scheduler_enabled: bool = True  # `schoolgate serve` runs the scheduler too
    max_attempts: int = Field(default=6, ge=1)
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    stale_sending_seconds: float = 600.0
    jargon_mode: Literal["warn", "block"] = "warn"
    glossary_file: Path | None = None
    translation_backend: Literal["none", "libretranslate", "google", "deepl", "microsoft"] = "none"
    translation_url: str | None = None
    translation_api_key: SecretStr | None = None
    translation_region: str | None = None
    translation_timeout: float = Field(default=20.0, gt=0)
    # DeepL or Google glossary ids, per target language ("pl=abc,es=def") or one for all
    translation_glossary: str | None = None
    # Google Cloud Translation: project id, location, and a service-account JSON key file
    translation_project: str | None = None
    translation_location: str = "global"
    translation_credentials_file: str | None = None  # empty: none
    translation_retry_seconds: float = 300.0
    translation_give_up_hours: float = 4.0
    # text (for people) or json (one object a line, for a log collector)
    log_format: Literal["text", "json"] = "text"
    # the background process says it is alive this often; /readyz turns unready after 3 misses
    heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    # /metrics answers loopback clients, or anyone presenting this token (Bearer)
    metrics_token: SecretStr | None = None
    # optional error reports to Sentry (or a compatible server): the project's DSN; names,
    # numbers, emails and message bodies are removed before a report leaves
    sentry_dsn: SecretStr | None = None
    # staff web app: a session ends after this long unused, and after this long in any case
    web_session_idle_minutes: float = Field(default=60.0, gt=0)
    web_session_absolute_hours: float = Field(default=12.0, gt=0)

    sms: TwilioSettings = Field(default_factory=TwilioSettings)
    email: SmtpSettings = Field(default_factory=SmtpSettings)
    imap: ImapSettings = Field(default_factory=ImapSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)

    def check(self) -> Settings:
        """Refuse start-up when a configured provider has empty or placeholder secrets."""
        problems: list[str] = []
        for name in ("sms", "email", "telegram"):
            provider = getattr(self, name)
            if provider.configured:
                problems += provider.problems()
        if self.translation_backend == "libretranslate" and not self.translation_url:
            problems.append("SCHOOLGATE_TRANSLATION_URL must give your LibreTranslate server's "
                            "address, e.g. http://127.0.0.1:5000")
        if self.translation_backend in ("deepl", "microsoft") \
                and is_placeholder(self.translation_api_key):
            problems.append("SCHOOLGATE_TRANSLATION_API_KEY is empty or a placeholder")
        if self.translation_backend == "google":
            if not self.translation_credentials_file \
                    and is_placeholder(self.translation_api_key):
                problems.append("Google Cloud Translation needs SCHOOLGATE_TRANSLATION_API_KEY "
                                "or SCHOOLGATE_TRANSLATION_CREDENTIALS_FILE")
            elif self.translation_credentials_file \
                    and not Path(self.translation_credentials_file).is_file():
                problems.append("SCHOOLGATE_TRANSLATION_CREDENTIALS_FILE is not a file")
            if not self.translation_project and not self.translation_credentials_file:
                problems.append("SCHOOLGATE_TRANSLATION_PROJECT must name your Google Cloud "
                                "project")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except Exception:
            problems.append(f"SCHOOLGATE_TIMEZONE {self.timezone!r} is not a known time zone")
        if problems:
            raise ConfigurationError("configuration refused: " + "; ".join(problems))
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, checked once: a misspelt variable or a value that does not
    fit stops start-up with one line naming the variable."""
    problems = unknown_variables(os.environ, dotenv_values(".env"))
    if problems:
        raise ConfigurationError("configuration refused: " + "; ".join(problems))
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigurationError("configuration refused: " + "; ".join(
            _value_problem(error, exc.title) for error in exc.errors())) from None
    return settings.check()


#: variables of ours that are not Settings fields: read by the command line, the image's
#: entrypoint, the test suite and the benchmarks
OTHER_NAMES = frozenset({"SCHOOLGATE_HOST", "SCHOOLGATE_PORT", "SCHOOLGATE_DEBUG",
                         "SCHOOLGATE_DATA", "SCHOOLGATE_TEST_DATABASE_URL",
                         "SCHOOLGATE_BENCH_DATABASE_URL", "SCHOOLGATE_SCREENSHOTS"})
_GROUPS: tuple[tuple[str, type[BaseSettings]], ...] = (
    ("SCHOOLGATE_", Settings), ("TWILIO_", TwilioSettings), ("SMTP_", SmtpSettings),
    ("IMAP_", ImapSettings), ("TELEGRAM_", TelegramSettings))


def known_variables() -> dict[str, frozenset[str]]:
    """Every variable each prefix's settings read, by prefix."""
    known: dict[str, frozenset[str]] = {}
    for prefix, model in _GROUPS:
        names = {prefix + name.upper() for name, field in model.model_fields.items()
                 if not (isinstance(field.annotation, type)
                         and issubclass(field.annotation, BaseSettings))}
        known[prefix] = frozenset(names | {n for n in OTHER_NAMES if n.startswith(prefix)})
    return known


def unknown_variables(*sources: Mapping[str, str | None]) -> list[str]:
    """One line per variable that looks like ours but is not read by anything.

    Every SCHOOLGATE_ name must be known. The providers' prefixes are shared with their
    own libraries (the twilio library reads TWILIO_REGION, for one), so there only a
    near miss of a name we read is refused ("TWILIO_AUTH_TOKN")."""
    known = known_variables()
    problems = []
    for name in sorted({n.upper() for source in sources for n in source}):
        prefix = next((p for p in known if name.startswith(p)), None)
        if prefix is None or name in known[prefix]:
            continue
        tails = {n[len(prefix):]: n for n in known[prefix]}  # the prefix is no evidence
        close = difflib.get_close_matches(name[len(prefix):], tails, n=1, cutoff=0.75)
        if close:
            problems.append(f"{name} is not a setting: did you mean {tails[close[0]]}?")
        elif prefix == "SCHOOLGATE_":
            problems.append(f"{name} is not a setting (the settings are listed in "
                            ".env.example)")
    return problems


def _value_problem(error: Mapping[str, object], model: str) -> str:
    """'SCHOOLGATE_WORKER_BATCH_SIZE: Input should be a valid integer (got 'many')'."""
    loc = error.get("loc", ())
    location = [str(part) for part in (loc if isinstance(loc, tuple) else ())]
    prefix = next((p for p, m in _GROUPS if m.__name__ == model), "SCHOOLGATE_")
    name = prefix + "_".join(location).upper()
    given = error.get("input")
    shown = "" if given is None or isinstance(given, dict) else f" (got {str(given)[:60]!r})"
    return f"{name}: {error.get('msg', 'not a valid value')}{shown}"
