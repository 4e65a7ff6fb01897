"""What Alembic's autogenerate compares. Shared by migrations/env.py and the schema test."""

import re

# Migration 0021's indexes on PostgreSQL, per list sort: (tenant_id, UTC day of creation, sort
# column, id), for each sort but creation's own (services/ticket_pages.py reads a range with them).
CREATED_DAY_INDEXES = {
    "atualizado": "ix_tickets_tenant_created_day_updated",
    "referencia": "ix_tickets_tenant_created_day_reference",
    "prioridade": "ix_tickets_tenant_created_day_priority",
}

# Objects created by hand-written SQL in migrations, which the models cannot describe
# (PostgreSQL-only expression indexes); autogenerate must not try to drop them.
HAND_WRITTEN_INDEXES = frozenset({"ix_tickets_search", *CREATED_DAY_INDEXES.values()})

# The time partitions of PostgreSQL's telemetry tables (app/services/partitions.py): tables the
# daily job creates and drops, which the models describe only through their parent.
PARTITION_TABLE = re.compile(r"^(?P<table>metric_samples|inventory_snapshots)_(?:p(?P<start>\d{8})|default)$")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "index" and name in HAND_WRITTEN_INDEXES:
        return False
    return not (type_ == "table" and reflected and PARTITION_TABLE.match(name or ""))
