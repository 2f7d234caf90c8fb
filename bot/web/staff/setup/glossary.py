"""The school's own glossary (admin): the words the plain-words check should catch, with
what to say instead, kept in the school's glossary file (bot.language.school_glossary).
List, add (a term and its plain words), delete; audited. With no file set
(SCHOOLGATE_GLOSSARY_FILE) the page says so and adds nothing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from bot.errors import ConfigurationError, InvalidInputError
from bot.language.plain import check_text
from bot.language.school_glossary import add_term, delete_term, school_terms
from bot.store.audit import audit
from bot.web.staff.deps import ctx_of, redirect, require, transaction
from bot.web.staff.security import Me
from bot.web.staff.setup.common import ADMIN_ONLY, setup_page

router = APIRouter()


def _page(request: Request, me: Me, code: int = 200, **extra: Any) -> Response:
    path = ctx_of(request).settings.glossary_file
    terms, broken = [], None
    if path is not None:
        try:
            terms = school_terms(path)
        except ConfigurationError as exc:
            broken = str(exc)
    return setup_page(request, "setup_glossary.html", me, code=code, path=path, terms=terms,
                      broken=broken, **extra)


@router.get("/setup/glossary")
def glossary_page(request: Request, me: Annotated[Me, Depends(require(*ADMIN_ONLY))],
                  done: str = "") -> Response:
    """The school's terms, and the form to add one."""
    return _page(request, me, notice={"added": "Added: the check catches it from now on.",
                                      "deleted": "Deleted."}.get(done))


@router.post("/setup/glossary")
def glossary_add(request: Request, me: Annotated[Me, Depends(require(*ADMIN_ONLY))],
                 term: Annotated[str, Form()] = "", plain: Annotated[str, Form()] = ""
                 ) -> Response:
    """Add a term and its plain words."""
    path = ctx_of(request).settings.glossary_file
    if path is None:
        return _page(request, me, 400, errors={"term": "No glossary file is set up."})
    try:
        add_term(path, term, plain)
    except InvalidInputError as exc:
        errors = dict(part.split(": ", 1) for part in str(exc).split("; ") if ": " in part)
        return _page(request, me, 400, errors={k: v[:1].upper() + v[1:] + "."
                                               for k, v in errors.items()},
                     form={"term": term, "plain": plain})
    # the check reads the file again: prove the term is caught before saying so
    caught = any(hit.term.lower() == " ".join(term.split()).lower()
                 for hit in check_text(term, path).jargon)
    with transaction(request) as s:
        audit(s, me.actor, "glossary_term_added", "glossary", None, caught=caught)
    return redirect("/setup/glossary?done=added")


@router.post("/setup/glossary/delete")
def glossary_delete(request: Request, me: Annotated[Me, Depends(require(*ADMIN_ONLY))],
                    category: Annotated[str, Form()] = "",
                    term: Annotated[str, Form()] = "") -> Response:
    """Delete one term from the school's file."""
    path = ctx_of(request).settings.glossary_file
    if path is not None and delete_term(path, category, term):
        with transaction(request) as s:
            audit(s, me.actor, "glossary_term_deleted", "glossary", None)
    return redirect("/setup/glossary?done=deleted")
