"""receipt timeouts indexed and worker duties (issue 13, structure)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE, never a batch copy: SQLite would rebuild `outbox` by dropping it, and the drop
# deletes its rows' bodies (outbox_bodies, ON DELETE CASCADE).


def upgrade() -> None:
    # Every message already sent counts as awaiting: the worker's next receipt-timeout pass reads each
    # once, records what is overdue and clears the mark of those whose receipts are all in.
    op.add_column('outbox', sa.Column('awaiting_receipt', sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_index('ix_outbox_awaiting_receipt', 'outbox', ['awaiting_receipt', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_awaiting_receipt', table_name='outbox')
    if op.get_bind().dialect.name == "sqlite":  # SQLite 3.35+ drops a column in place
        op.execute("ALTER TABLE outbox DROP COLUMN awaiting_receipt")
    else:
        op.drop_column('outbox', 'awaiting_receipt')
