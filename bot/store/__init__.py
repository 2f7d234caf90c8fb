"""Storage: typed models, engine set-up and migrations."""

from bot.store.db import (
    is_postgres,
    make_engine,
    make_session_factory,
    reading,
    transaction,
)
from bot.store.migrate import upgrade

__all__ = ["is_postgres", "make_engine", "make_session_factory", "reading", "transaction",
           "upgrade"]
