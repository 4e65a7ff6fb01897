"""SQLite's side of what PostgreSQL does for the ticket search.

PostgreSQL searches tickets with its full-text search, whose configuration (`chamados_pt`,
migration 0002) removes accents with the unaccent extension: "atualizacao" finds
"Atualização". SQLite has neither, and its lower() folds only ASCII letters. Every SQLite
connection gets `search_fold(text)`, the same folding done in Python (accents removed, case
folded), so the SQLite search compares folded text with a folded term and finds what
PostgreSQL finds for a word typed with or without accents, in any case.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import event
from sqlalchemy.engine import Engine

FOLD_FUNCTION = "search_fold"


def search_fold(value: str | None) -> str | None:
    """Lower case without accents: "Atualização" -> "atualizacao", "ÇÃO" -> "cao"."""
    if value is None:
        return None
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def install_search_fold(engine: Engine) -> None:
    """Register search_fold() on every connection of a SQLite engine."""

    @event.listens_for(engine, "connect")
    def _register(dbapi_connection, record):
        dbapi_connection.create_function(FOLD_FUNCTION, 1, search_fold, deterministic=True)
