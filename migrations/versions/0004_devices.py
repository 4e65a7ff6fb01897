"""devices: tokens, presence, inventory, metrics, alerts, usb policy, links

Revision ID: b0c1d16b5acd
Revises: 0138fdcbfa5b
Create Date: 2026-11-22 00:01:55.592356

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'b0c1d16b5acd'
down_revision = '0138fdcbfa5b'
branch_labels = None
depends_on = None


def upgrade():
    # Reviewed: server defaults added so existing machines rows take the new NOT NULL columns.
    op.create_table('inventory_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('inventory', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_inventory_snapshots_machine_id_machines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_snapshots'))
    )
    with op.batch_alter_table('inventory_snapshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inventory_snapshots_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_inventory_snapshots_machine_created', ['machine_id', 'created_at'], unique=False)

    op.create_table('machine_links',
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_machine_links_machine_id_machines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_machine_links_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('machine_id', 'user_id', name=op.f('pk_machine_links'))
    )
    with op.batch_alter_table('machine_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machine_links_user_id'), ['user_id'], unique=False)

    op.create_table('machine_presence',
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_machine_presence_machine_id_machines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('machine_id', name=op.f('pk_machine_presence'))
    )
    with op.batch_alter_table('machine_presence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machine_presence_last_seen_at'), ['last_seen_at'], unique=False)

    op.create_table('machine_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=60), nullable=True),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_machine_tokens_machine_id_machines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machine_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_machine_tokens_token_hash'))
    )
    with op.batch_alter_table('machine_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machine_tokens_machine_id'), ['machine_id'], unique=False)

    op.create_table('metric_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cpu_percent', sa.Double(), nullable=True),
    sa.Column('memory_percent', sa.Double(), nullable=True),
    sa.Column('disk_free_percent', sa.Double(), nullable=True),
    sa.Column('uptime_seconds', sa.Integer(), nullable=True),
    sa.Column('logged_user', sa.String(length=120), nullable=True),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_metric_samples_machine_id_machines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_samples'))
    )
    with op.batch_alter_table('metric_samples', schema=None) as batch_op:
        batch_op.create_index('ix_metric_samples_machine_taken', ['machine_id', 'taken_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_metric_samples_taken_at'), ['taken_at'], unique=False)

    op.create_table('usb_policies',
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('mode', sa.Enum('ALLOW', 'BLOCK', 'READ_ONLY', name='usbpolicymode', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('PENDING', 'APPLIED', 'FAILED', 'EXPIRED', name='usbpolicystatus', native_enum=False, length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_usb_policies_machine_id_machines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_usb_policies_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('machine_id', name=op.f('pk_usb_policies'))
    )
    with op.batch_alter_table('usb_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usb_policies_status'), ['status'], unique=False)

    op.create_table('machine_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('severity', sa.Enum('info', 'warning', 'critical', name='alertseverity', native_enum=False, length=20), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], name=op.f('fk_machine_alerts_machine_id_machines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_machine_alerts_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_machine_alerts_ticket_id_tickets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_machine_alerts'))
    )
    with op.batch_alter_table('machine_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machine_alerts_machine_id'), ['machine_id'], unique=False)
        batch_op.create_index('ix_machine_alerts_tenant_opened', ['tenant_id', 'opened_at'], unique=False)
        batch_op.create_index('uq_machine_alerts_open_kind', ['machine_id', 'kind'], unique=True, postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))

    with op.batch_alter_table('machines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('serial_numbers', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('mac_addresses', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('os_name', sa.String(length=120), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('os_version', sa.String(length=60), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('os_build', sa.String(length=60), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('os_arch', sa.String(length=20), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('source', sa.String(length=30), nullable=False, server_default='agente Chamados'))
        batch_op.add_column(sa.Column('assigned_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('persona', sa.Enum('collaborator', 'manager', name='persona', native_enum=False, length=20), nullable=False, server_default='collaborator'))
        batch_op.add_column(sa.Column('is_active', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('inventory_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
        batch_op.create_index(batch_op.f('ix_machines_assigned_user_id'), ['assigned_user_id'], unique=False)
        batch_op.create_index('ix_machines_tenant_fingerprint', ['tenant_id', 'fingerprint'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_machines_assigned_user_id_users'), 'users', ['assigned_user_id'], ['id'])

    # ### end Alembic commands ###


def downgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table('machines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_machines_assigned_user_id_users'), type_='foreignkey')
        batch_op.drop_index('ix_machines_tenant_fingerprint')
        batch_op.drop_index(batch_op.f('ix_machines_assigned_user_id'))
        batch_op.drop_column('updated_at')
        batch_op.drop_column('inventory_hash')
        batch_op.drop_column('is_active')
        batch_op.drop_column('persona')
        batch_op.drop_column('assigned_user_id')
        batch_op.drop_column('source')
        batch_op.drop_column('os_arch')
        batch_op.drop_column('os_build')
        batch_op.drop_column('os_version')
        batch_op.drop_column('os_name')
        batch_op.drop_column('mac_addresses')
        batch_op.drop_column('serial_numbers')
        batch_op.drop_column('fingerprint')

    with op.batch_alter_table('machine_alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_machine_alerts_open_kind', postgresql_where=sa.text('resolved_at IS NULL'), sqlite_where=sa.text('resolved_at IS NULL'))
        batch_op.drop_index('ix_machine_alerts_tenant_opened')
        batch_op.drop_index(batch_op.f('ix_machine_alerts_machine_id'))

    op.drop_table('machine_alerts')
    with op.batch_alter_table('usb_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usb_policies_status'))

    op.drop_table('usb_policies')
    with op.batch_alter_table('metric_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metric_samples_taken_at'))
        batch_op.drop_index('ix_metric_samples_machine_taken')

    op.drop_table('metric_samples')
    with op.batch_alter_table('machine_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_machine_tokens_machine_id'))

    op.drop_table('machine_tokens')
    with op.batch_alter_table('machine_presence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_machine_presence_last_seen_at'))

    op.drop_table('machine_presence')
    with op.batch_alter_table('machine_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_machine_links_user_id'))

    op.drop_table('machine_links')
    with op.batch_alter_table('inventory_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_snapshots_machine_created')
        batch_op.drop_index(batch_op.f('ix_inventory_snapshots_created_at'))

    op.drop_table('inventory_snapshots')
    # ### end Alembic commands ###
