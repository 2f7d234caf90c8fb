"""Set-up in the browser, for admin and office: the roster, staff accounts and password
links, the school's policy, holidays, absences and cover, a family's contact details,
saved messages and the school's own glossary. Each page is one module here; the engines
are the command line's own (roster import, policy checks, term-dates reading)."""

from __future__ import annotations

from fastapi import APIRouter

from bot.web.staff.setup import (
    absences,
    accounts,
    family_edit,
    glossary,
    holidays,
    index,
    policy,
    roster,
    saved,
)

router = APIRouter()
for _module in (index, roster, accounts, absences, policy, holidays, family_edit, saved,
                glossary):
    router.include_router(_module.router)
