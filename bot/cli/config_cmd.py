"""`schoolgate config check`: the settings in effect, with every secret hidden;
`schoolgate config template`: the commented `.env.example`, for a wheel user who has no
repository to copy it from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli import JsonOpt, app, get_settings, out, print_json

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from bot.config import Settings

config_app = typer.Typer(help="The settings in effect.", no_args_is_help=True)
app.add_typer(config_app, name="config")

#: words that mark a setting as a secret even if it were a plain string by mistake
SECRET_WORDS = ("token", "password", "secret", "api_key", "auth", "credentials", "dsn")
#: the template, shipped in the package; tests keep it equal to the repository's .env.example
TEMPLATE = Path(__file__).parents[1] / "data" / "env.example"


def effective(settings: Settings, defaults: bool = False) -> dict[str, Any]:
    """Every setting by its variable name, secrets shown only as set or not set; with
    `defaults`, what each would be with nothing set."""
    from pydantic import SecretStr
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
            if isinstance(value, SecretStr) or any(word in name for word in SECRET_WORDS):
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


@config_app.command("template")
def config_template() -> None:
    """Print the commented settings template (.env.example): `schoolgate config template >
    .env`, then fill in what you use."""
    import sys

    sys.stdout.write(TEMPLATE.read_text(encoding="utf-8"))
