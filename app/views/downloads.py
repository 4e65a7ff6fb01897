"""Sending a stored attachment: the one place that sets how files are served."""

from flask import send_file

from app.models import Attachment
from app.services.attachments import storage_path

# Shown in the browser; anything else is downloaded.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"}


def send_attachment(attachment: Attachment, inline: bool = True):
    response = send_file(
        storage_path(attachment.storage_key),
        mimetype=attachment.content_type,
        as_attachment=not (inline and attachment.content_type in INLINE_TYPES),
        download_name=attachment.filename,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
