"""What the set-up pages share: who may use them, the page helper, form errors."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from bot.web.staff.access import ADMIN, OFFICE
from bot.web.staff.deps import page
from bot.web.staff.security import Me

#: the set-up pages are for these roles; some (staff accounts, policy, glossary) admin only
SETUP = (ADMIN, OFFICE)
ADMIN_ONLY = (ADMIN,)


def setup_page(request: Request, name: str, me: Me, code: int = 200,
               **values: Any) -> HTMLResponse:
    """A set-up page under the one "Set-up" entry of the navigation."""
    return page(request, name, me, code=code, nav="setup", **values)
