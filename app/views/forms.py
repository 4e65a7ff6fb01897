"""Small request-parsing helpers shared by the staff pages and the portal."""

from flask import request

from app.services.numbers import record_number


def query_number(name: str, default: int | None = None) -> int | None:
    """A whole number from the query string (a page, a keyset cursor); `default` when the
    parameter is missing or is no number a row could have (see services/numbers.py)."""
    number = record_number(request.args.get(name))
    return default if number is None else number


def form_number(name: str) -> int | None:
    """An id chosen in a form (a queue, a company, a person); None when empty or invalid."""
    return record_number(request.form.get(name))


def uploaded_files(field: str = "files") -> list[tuple[str, bytes]]:
    """The files of a multipart form as (name, bytes); empty file inputs are skipped."""
    return [(f.filename, f.read()) for f in request.files.getlist(field) if f and f.filename]


def uploaded_files_with_types(field: str = "files") -> list[tuple[str, bytes, str]]:
    """Like uploaded_files, with the MIME type the client declared."""
    return [(f.filename, f.read(), f.mimetype) for f in request.files.getlist(field) if f and f.filename]
