"""signed audit heads and federation junk summaries (issue 12)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from evidex.core.db import UTCDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _in_transaction() -> None:
    """SQLite (pysqlite) runs DDL outside a transaction unless one is open: a write that changes
    nothing opens it, so a later failure in the same migration run (a refused downgrade further
    down) takes these tables' creation or removal back with it."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE alembic_version SET version_num = version_num")


def upgrade() -> None:
    _in_transaction()
    op.create_table(
        'audit_signatures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('signed_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('alg', sa.String(length=16), nullable=False),
        sa.Column('kid', sa.String(length=100), nullable=False),
        sa.Column('token', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_signatures')),
    )
    with op.batch_alter_table('audit_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_signatures_seq'), ['seq'], unique=False)
    op.create_table(
        'federation_junk',
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('minute', UTCDateTime(timezone=True), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('summarised', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('address', 'minute', name=op.f('pk_federation_junk')),
    )


def downgrade() -> None:
    _in_transaction()
    op.drop_table('federation_junk')
    with op.batch_alter_table('audit_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_signatures_seq'))
    op.drop_table('audit_signatures')
