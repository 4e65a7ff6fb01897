"""Small request-parsing helpers shared by the staff pages and the portal."""

from flask import request


def uploaded_files(field: str = "files") -> list[tuple[str, bytes]]:
    """The files of a multipart form as (name, bytes); empty file inputs are skipped."""
    return [(f.filename, f.read()) for f in request.files.getlist(field) if f and f.filename]


def uploaded_files_with_types(field: str = "files") -> list[tuple[str, bytes, str]]:
    """Like uploaded_files, with the MIME type the client declared."""
    return [(f.filename, f.read(), f.mimetype) for f in request.files.getlist(field) if f and f.filename]
