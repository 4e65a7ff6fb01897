"""One check for every form and query string: no NUL characters.

Nobody types a NUL, PostgreSQL cannot store one in text (the insert fails, which was a 500),
and on SQLite it would be stored and cut strings short later. So a request carrying one is
refused before any view reads it, with the field named and its value not repeated. JSON
bodies have their own reader (app/services/api_input.py).
"""

from __future__ import annotations

import re

from flask import Flask, request

from app.views.errors import error_response

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# A field's name goes into the message only if it looks like one of ours.
_NAMEABLE = re.compile(r"[A-Za-z0-9_.\[\]-]{1,40}")


def field_with_nul() -> str | None:
    """The name of the first query or form field whose name or value holds a NUL, else None."""
    if b"%00" in request.query_string:
        found = _first_with_nul(request.args)
        if found is not None:
            return found
    if request.mimetype in FORM_TYPES:
        found = _first_with_nul(request.form)
        if found is None:
            found = next(
                (name for name, f in request.files.items(multi=True) if "\x00" in (f.filename or "")), None
            )
        return found
    return None


def _first_with_nul(values) -> str | None:
    for name, value in values.items(multi=True):
        # A part whose Content-Disposition werkzeug cannot read has no name (None).
        if "\x00" in (name or "") or "\x00" in value:
            return name
    return None


def register(app: Flask) -> None:
    @app.before_request
    def _refuse_nul_characters():
        name = field_with_nul()
        if name is None:
            return None
        label = f"«{name}»" if _NAMEABLE.fullmatch(name) else "enviado"
        return error_response(
            422,
            "invalid_character",
            f"O campo {label} contém um caractere inválido (NUL). Corrija o texto e envie de novo.",
        )
