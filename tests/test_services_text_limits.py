import pytest

from app.extensions import db
from app.models import Company, Queue
from app.services.errors import ValidationError
from app.services.text_limits import bounded_columns, overlong_field


def test_text_longer_than_its_column_is_refused_before_the_database_sees_it(tenant):
    """PostgreSQL answers an overlong VARCHAR with an error (a 500); SQLite stores it whole."""
    db.session.add(Company(tenant_id=tenant.id, name="N" * 161, apelido="longa"))
    with pytest.raises(ValidationError) as refused:
        db.session.commit()
    assert refused.value.field == "name"
    assert refused.value.message == "Texto longo demais em nome: máximo 160 caracteres."
    db.session.rollback()
    db.session.add(Company(tenant_id=tenant.id, name="N" * 160, apelido="no-limite"))
    db.session.commit()  # the limit itself is fine


def test_a_changed_row_is_measured_too(queue):
    queue.name = "F" * 1000
    assert overlong_field(queue) is not None
    with pytest.raises(ValidationError):
        db.session.flush()
    db.session.rollback()


def test_only_bounded_text_columns_are_measured():
    columns = {column for _key, column, _length in bounded_columns(db.inspect(Queue))}
    assert "name" in columns and "id" not in columns and "tenant_id" not in columns
