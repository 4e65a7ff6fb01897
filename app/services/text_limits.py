"""Text longer than its column holds is refused with a message, on every database.

PostgreSQL refuses a value longer than its VARCHAR(n) with an error (a 500), while SQLite
stores it whole. Services check the lengths people usually hit (a ticket's subject...); this
hook is the floor under all of them: before any flush, each new or changed row's bounded text
columns are measured, and an overlong one is a ValidationError naming the field.
"""

from __future__ import annotations

from sqlalchemy import Enum, String, event, inspect
from sqlalchemy.orm import Session

from app.services.errors import ValidationError

# How a message names the columns people type into; others go by their column name.
FIELD_LABELS = {
    "name": "nome",
    "subject": "assunto",
    "email": "e-mail",
    "apelido": "apelido",
    "cnpj": "CNPJ",
    "hostname": "nome do computador",
    "reason": "motivo",
}

_limits_by_mapper: dict = {}


def bounded_columns(mapper) -> list[tuple[str, str, int]]:
    """(attribute, column name, length) of each VARCHAR(n) column of a mapped class (cached)."""
    limits = _limits_by_mapper.get(mapper)
    if limits is None:
        limits = [
            (mapper.get_property_by_column(column).key, column.name, column.type.length)
            for column in mapper.columns
            if isinstance(column.type, String)
            and not isinstance(column.type, Enum)
            and column.type.length
            and column.table is mapper.local_table
        ]
        _limits_by_mapper[mapper] = limits
    return limits


def overlong_field(instance) -> tuple[str, int] | None:
    """(column, length) of the first text value longer than its column allows, else None."""
    state = inspect(instance)
    for key, column, length in bounded_columns(state.mapper):
        value = state.dict.get(key)
        if isinstance(value, str) and len(value) > length:
            return column, length
    return None


@event.listens_for(Session, "before_flush")
def _refuse_overlong_text(session, _flush_context, _instances):
    for instance in (*session.new, *session.dirty):
        found = overlong_field(instance)
        if found is not None:
            column, length = found
            label = FIELD_LABELS.get(column, column)
            raise ValidationError(f"Texto longo demais em {label}: máximo {length} caracteres.", field=column)
