"""ticket list: per-status indexes that serve the filter and the newest-first order together

The list narrowed to a company and a status (issue #24) took 67 ms at 1 000 000 tickets:
(tenant_id, company_id, status) finds the rows but not in created_at order, so PostgreSQL
either read every match and sorted it or walked the whole table's created_at index discarding
the rest, and chose by estimates a skewed table fools. Each index below ends in
(created_at, id), the list's default order with its keyset tiebreak, so a page is the first 26
entries of one index range; the list reads several statuses (or none chosen) as one such range
per status (ticket_filters.page_query). Four indexes replace four, so writes pay no more:

- ix_tickets_tenant_status_created_id replaces ix_tickets_tenant_status_created
  (tenant_id, status, created_at): id added, so the keyset condition and the tiebreak are read
  from the index instead of sorted after it.
- ix_tickets_tenant_company_status_created replaces ix_tickets_tenant_company_status
  (tenant_id, company_id, status), its prefix: a company's tickets, by status, newest first.
- ix_tickets_tenant_assignee_status_created replaces ix_tickets_tenant_assignee_status, its
  prefix: an agent's (or nobody's, assignee_id IS NULL) tickets, by status, newest first.
- ix_tickets_queue_status_created replaces ix_tickets_queue_id (queue_id), its prefix: a queue's
  tickets, by status, newest first. A queue belongs to one tenant, so tenant_id would add nothing;
  leading with queue_id the index still serves the queue's foreign key, as the old one did.

The other sorts (número, atualização, prioridade) keep their (tenant_id, column, id) indexes: one
per filter and sort would be twelve more indexes on every write, for orders that, filtered, read
only the filter's own rows.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 04:45:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

NEW = (
    ('ix_tickets_tenant_status_created_id', ['tenant_id', 'status', 'created_at', 'id']),
    ('ix_tickets_tenant_company_status_created', ['tenant_id', 'company_id', 'status', 'created_at', 'id']),
    ('ix_tickets_tenant_assignee_status_created', ['tenant_id', 'assignee_id', 'status', 'created_at', 'id']),
    ('ix_tickets_queue_status_created', ['queue_id', 'status', 'created_at', 'id']),
)
OLD = (
    ('ix_tickets_tenant_status_created', ['tenant_id', 'status', 'created_at']),
    ('ix_tickets_tenant_company_status', ['tenant_id', 'company_id', 'status']),
    ('ix_tickets_tenant_assignee_status', ['tenant_id', 'assignee_id', 'status']),
    ('ix_tickets_queue_id', ['queue_id']),
)


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        for name, columns in NEW:
            batch_op.create_index(name, columns, unique=False)
        for name, _columns in OLD:
            batch_op.drop_index(name)


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        for name, columns in OLD:
            batch_op.create_index(name, columns, unique=False)
        for name, _columns in NEW:
            batch_op.drop_index(name)
