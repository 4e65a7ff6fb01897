"""Painel: partial index of the open tickets without a first response

The Painel's "Sem primeira resposta" counts open tickets created over a day ago that nobody
has answered. first_response_at is in no index, so PostgreSQL read every open ticket's row
(46 000 at 1 000 000 tickets: 27 ms with a warm visibility map, 170 ms without). Those not
yet answered are a handful; this index holds only them, and the count reads it alone.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 17:43:08.085076

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

OPEN_UNANSWERED = "tickets.first_response_at IS NULL AND tickets.status IN ('PENDING', 'IN_PROGRESS', 'PAUSED')"


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(
            'ix_tickets_open_unanswered',
            ['tenant_id', 'created_at'],
            unique=False,
            postgresql_where=sa.text(OPEN_UNANSWERED),
            sqlite_where=sa.text(OPEN_UNANSWERED),
        )


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_open_unanswered')
