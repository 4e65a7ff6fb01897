"""What Alembic's autogenerate compares. Shared by migrations/env.py and the schema test."""

# Objects created by hand-written SQL in migrations, which the models cannot describe
# (PostgreSQL-only expression indexes); autogenerate must not try to drop them.
HAND_WRITTEN_INDEXES = frozenset({"ix_tickets_search"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "index" and name in HAND_WRITTEN_INDEXES)
