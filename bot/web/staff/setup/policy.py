"""The school's policy as a page: one field per setting of the typed policy
(scheduler.policy SETTINGS, so a setting added there appears here with no edit), its
help text (`about`) and default, checked exactly as `schoolgate policy set` checks it,
with the problem named on its field. Admins change it; the office reads it. Audited
per setting, as the command line does."""

from __future__ import annotations

import typing
from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from bot.store.audit import audit
from bot.web.staff.access import ADMIN, role_of
from bot.web.staff.deps import ctx_of, redirect, require, transaction
from bot.web.staff.security import Me
from bot.web.staff.setup.common import ADMIN_ONLY, SETUP, setup_page
from scheduler.policy import (
    DEFAULT,
    SETTINGS,
    PolicyError,
    SchoolPolicy,
    overrides,
    policy_as_dict,
    policy_from_texts,
    school_policy,
    text_value,
)

router = APIRouter()


def _input(attr: str) -> dict[str, Any]:
    """How a setting is typed, from its field's type and default."""
    default = getattr(DEFAULT, attr)
    hint = typing.get_type_hints(SchoolPolicy).get(attr)
    if typing.get_origin(hint) is typing.Literal:
        return {"type": "select", "choices": [str(c) for c in typing.get_args(hint)]}
    if isinstance(default, bool):
        return {"type": "select", "choices": ["true", "false"]}
    if isinstance(default, time):
        return {"type": "time"}
    if isinstance(default, int):
        return {"type": "number", "step": "1"}
    if isinstance(default, float):
        return {"type": "number", "step": "any"}
    if isinstance(default, date) or attr == "term_start":
        return {"type": "date"}
    return {"type": "text"}


def _label(key: str) -> str:
    words = key.replace(".", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


def _fields(policy: SchoolPolicy, given: dict[str, str] | None = None) -> list[dict[str, Any]]:
    values, defaults = policy_as_dict(policy), policy_as_dict(DEFAULT)
    out = []
    for s in SETTINGS:
        shown = text_value(values[s.key])
        kind = _input(s.attr)
        if kind["type"] == "date" and shown == "none":
            shown = ""
        out.append({"key": s.key, "id": "p-" + s.key.replace(".", "-"), "label": _label(s.key),
                    "about": s.about, "default": text_value(defaults[s.key]),
                    "value": given[s.key] if given and s.key in given else shown, **kind})
    return out


@router.get("/setup/policy")
def policy_page(request: Request, me: Annotated[Me, Depends(require(*SETUP))],
                done: str = "") -> Response:
    """Every setting with its value, help and default; a form for admins."""
    with transaction(request) as s:
        school = ctx_of(request).school(s)
        try:
            policy, broken = school_policy(school), None
        except PolicyError as exc:
            policy, broken = DEFAULT, str(exc)
        return setup_page(request, "setup_policy.html", me, fields=_fields(policy),
                          broken=broken, editable=role_of(me) == ADMIN,
                          notice="Saved." if done else None)


@router.post("/setup/policy")
async def policy_save(request: Request,
                      me: Annotated[Me, Depends(require(*ADMIN_ONLY))]) -> Response:
    """Check every setting of the form; store the policy only when all are acceptable."""
    form = await request.form()
    texts = {s.key: str(form.get(s.key, "")) for s in SETTINGS if s.key in form}
    with transaction(request) as s:
        school = ctx_of(request).school(s)
        try:
            before = policy_as_dict(school_policy(school))
        except PolicyError:
            before = {}
        policy, problems = policy_from_texts(school.policy, texts)
        if policy is None:
            shown = _fields(DEFAULT, texts)
            return setup_page(request, "setup_policy.html", me, code=400, fields=shown,
                              problems=problems, editable=True, broken=None)
        school.policy = overrides(policy)
        after = policy_as_dict(policy)
        for key in (k for k in after if before.get(k) != after[k]):
            audit(s, me.actor, "policy_set", "school", school.id, key=key,
                  value=text_value(after[key]))
    return redirect("/setup/policy?done=1")
