"""Routes for this provider; filled in by the channel work (issue 7)."""

from fastapi import APIRouter

router = APIRouter()
