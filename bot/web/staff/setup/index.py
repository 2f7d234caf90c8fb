"""The "Set-up" page: what can be set up here, by role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from bot.web.staff.deps import require
from bot.web.staff.security import Me
from bot.web.staff.setup.common import SETUP, setup_page

router = APIRouter()


@router.get("/setup")
def setup_home(request: Request, me: Annotated[Me, Depends(require(*SETUP))]) -> Response:
    """Links to each set-up page this person may use."""
    return setup_page(request, "setup_index.html", me)
