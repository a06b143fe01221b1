"""account administration: who deactivated a user and when, who reset a second factor and when
(issue 13, API)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import evidex.core.db

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_at', evidex.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deactivated_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('second_factor_reset_at', evidex.core.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('second_factor_reset_by', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('second_factor_reset_by')
        batch_op.drop_column('second_factor_reset_at')
        batch_op.drop_column('deactivated_by')
        batch_op.drop_column('deactivated_at')
