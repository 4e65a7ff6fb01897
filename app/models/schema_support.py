"""What Alembic's autogenerate compares. Shared by migrations/env.py and the schema test."""

import re

# Objects created by hand-written SQL in migrations, which the models cannot describe
# (PostgreSQL-only expression indexes); autogenerate must not try to drop them.
HAND_WRITTEN_INDEXES = frozenset(
    {
        "ix_tickets_search",
        # migration 0021: the ticket list's creation-day indexes
        "ix_tickets_tenant_created_day_updated",
        "ix_tickets_tenant_created_day_reference",
        "ix_tickets_tenant_created_day_priority",
    }
)

# The time partitions of PostgreSQL's telemetry tables (app/services/partitions.py): tables the
# daily job creates and drops, which the models describe only through their parent.
PARTITION_TABLE = re.compile(r"^(?P<table>metric_samples|inventory_snapshots)_(?:p(?P<start>\d{8})|default)$")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "index" and name in HAND_WRITTEN_INDEXES:
        return False
    return not (type_ == "table" and reflected and PARTITION_TABLE.match(name or ""))
