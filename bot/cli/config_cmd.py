"""`schoolgate config check`: the settings in effect, with every secret hidden."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli import JsonOpt, app, get_settings, out, print_json

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from bot.config import Settings

config_app = typer.Typer(help="The settings in effect.", no_args_is_help=True)
app.add_typer(config_app, name="config")

#: words that mark a setting as a secret: its value is never printed
SECRET_WORDS = ("token", "password", "secret", "api_key", "auth", "credentials")


def effective(settings: Settings, defaults: bool = False) -> dict[str, Any]:
    """Every setting by its variable name, secrets shown only as set or not set; with
    `defaults`, what each would be with nothing set."""
    from pydantic_settings import BaseSettings

    groups = {"sms": "TWILIO_", "email": "SMTP_", "imap": "IMAP_", "telegram": "TELEGRAM_"}
    shown: dict[str, Any] = {}

    def add(prefix: str, model: BaseSettings) -> None:
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            if isinstance(value, BaseSettings):
                continue
            if defaults:
                value = field.get_default(call_default_factory=True)
            if any(word in name for word in SECRET_WORDS):
                value = "(set, hidden)" if value else "(not set)"
            elif "url" in name and isinstance(value, str) and "@" in value:
                from sqlalchemy.engine import make_url

                value = make_url(value).render_as_string(hide_password=True)
            shown[prefix + name.upper()] = value if value is None or isinstance(
                value, bool | int | float) else str(value)

    add("SCHOOLGATE_", settings)
    for attribute, prefix in groups.items():
        add(prefix, getattr(settings, attribute))
    return shown


@config_app.command("check")
def config_check(
    as_json: JsonOpt = False,
    all_settings: Annotated[bool, typer.Option("--all", help="Show defaults too.")] = False,
) -> None:
    """Check the settings (a typo or a bad value is one line) and print those in effect."""
    settings = get_settings()  # refuses misspelt names and bad values, naming them
    shown = effective(settings)
    defaults = effective(settings, defaults=True)
    if not all_settings:
        shown = {k: v for k, v in shown.items() if v != defaults.get(k)}
    if as_json:
        print_json(shown)
        return
    out.print("configuration is valid" + ("" if all_settings else
                                          "; settings that differ from the defaults:"))
    for name, value in shown.items():
        out.print(f"  {name}={value}", highlight=False, markup=False)
