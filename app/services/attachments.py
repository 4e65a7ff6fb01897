"""Storing and serving uploaded files.

A file is accepted only when its extension is allowed, its size is within the
limit and its first bytes match what the extension claims. Files live under
UPLOAD_DIR with a random name; they are only ever served through a view that
checks the reader may see the ticket.
"""

import hashlib
import secrets
from pathlib import Path, PurePath

from flask import current_app

from app.extensions import db
from app.models import Attachment, Ticket, User
from app.services.errors import DomainError, ValidationError

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "txt": "text/plain",
    "log": "text/plain",
    "csv": "text/csv",
    "zip": "application/zip",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
TEXT_EXTENSIONS = {"txt", "log", "csv"}
ZIP_MAGIC = b"PK\x03\x04"
# Legacy Office files (.doc, .xls) are OLE2 compound documents.
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class FileTooLarge(DomainError):
    status = 413
    code = "file_too_large"


def _looks_like(extension: str, head: bytes) -> bool:
    if extension == "pdf":
        return head.startswith(b"%PDF-")
    if extension == "png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if extension in ("jpg", "jpeg"):
        return head.startswith(b"\xff\xd8\xff")
    if extension == "gif":
        return head.startswith((b"GIF87a", b"GIF89a"))
    if extension == "webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if extension in ("zip", "docx", "xlsx"):
        return head.startswith(ZIP_MAGIC)
    if extension in ("doc", "xls"):
        return head.startswith(OLE_MAGIC)
    if extension in TEXT_EXTENSIONS:
        return b"\x00" not in head
    return False


def safe_filename(name: str) -> str:
    """Keep the user's file name for display, without any path or control characters."""
    name = PurePath((name or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"/\\|?*')
    return name.strip()[:255] or "arquivo"


def check_upload(
    filename: str, data: bytes, allowed: frozenset[str] | None = None, max_bytes: int | None = None
) -> str:
    """Validate an upload and return its extension; raise with a Portuguese message.

    `allowed` and `max_bytes` default to the ticket attachment settings (the
    live chat passes its own, stricter lists)."""
    config = current_app.config
    allowed = allowed if allowed is not None else config["ATTACHMENT_ALLOWED_EXTENSIONS"]
    extension = Path(filename).suffix.lower().lstrip(".")
    if extension not in allowed or extension not in CONTENT_TYPES:
        names = ", ".join(sorted(allowed))
        raise ValidationError(f"Tipo de arquivo não permitido. Aceitos: {names}.", field="file")
    limit = max_bytes or config["ATTACHMENT_MAX_BYTES"]
    if len(data) > limit:
        raise FileTooLarge(f"O arquivo excede o limite de {limit // (1024 * 1024)} MB.", field="file")
    if not data:
        raise ValidationError("O arquivo está vazio.", field="file")
    if not _looks_like(extension, data[:64]):
        raise ValidationError("O conteúdo do arquivo não corresponde à extensão.", field="file")
    return extension


def save_attachment(
    ticket: Ticket,
    uploader: User | None,
    filename: str,
    data: bytes,
    comment_id: int | None = None,
    *,
    chat_message_id: int | None = None,
    allowed: frozenset[str] | None = None,
    max_bytes: int | None = None,
    uploader_id: int | None = None,
) -> Attachment:
    filename = safe_filename(filename)
    extension = check_upload(filename, data, allowed, max_bytes)
    storage_key = f"{ticket.tenant_id}/{secrets.token_hex(16)}.{extension}"
    path = storage_path(storage_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    attachment = Attachment(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        comment_id=comment_id,
        chat_message_id=chat_message_id,
        uploaded_by_id=uploader_id or uploader.id,
        filename=filename,
        content_type=CONTENT_TYPES[extension],
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=storage_key,
    )
    db.session.add(attachment)
    return attachment


def storage_path(storage_key: str) -> Path:
    root = Path(current_app.config["UPLOAD_DIR"]).resolve()
    path = (root / storage_key).resolve()
    if root not in path.parents:
        raise ValidationError("Caminho de arquivo inválido.")
    return path
