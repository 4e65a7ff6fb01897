"""ticket list: a creation range sorted otherwise, read day by day (PostgreSQL)

A creation range sorted by atualização, número or prioridade was read whole and sorted: a month
at 5 000 000 tickets is 200 000 rows, ~120 ms, and it grows with how many tickets a month holds.
These indexes (tenant_id, UTC day of creation, sort column, id) let the list read each day's first
page in order and merge them (ticket_pages._page_of_a_range_day_by_day): ~26 rows a day, however
dense the range. PostgreSQL only: SQLite keeps the read-and-sort, which its sizes never notice.

On a large table each index takes a while to build (a few seconds each at 5 000 000 tickets here),
holding a write lock on tickets meanwhile: run this upgrade in a quiet hour.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 11:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

# Must be the expression of ticket_pages.created_day (PostgreSQL stores it as
# timezone('UTC'::text, created_at)::date, which is what the query sends).
CREATED_DAY = "((created_at AT TIME ZONE 'UTC')::date)"
INDEXES = {
    "ix_tickets_tenant_created_day_updated": "updated_at, id",
    "ix_tickets_tenant_created_day_reference": "reference, id",
    "ix_tickets_tenant_created_day_priority": "priority_rank, id",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON tickets (tenant_id, {CREATED_DAY}, {columns})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
