"""large inbox bodies in files: inbox.body_file, inbox.body nullable

A received payload over 64 KiB is stored in a file of the node's spool folder (exchange/spool.py),
named by inbox.body_file; inbox.body holds the smaller ones as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body_file', sa.String(length=64), nullable=True))
        batch_op.alter_column('body', existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    inbox = sa.table('inbox', sa.column('body_file', sa.String))
    spooled = op.get_bind().execute(sa.select(sa.func.count()).select_from(inbox)
                                    .where(inbox.c.body_file.is_not(None))).scalar_one()
    if spooled:
        raise RuntimeError(f"{spooled} received message(s) keep their payload in the spool folder; revision 0010 "
                           "cannot hold them: downgrade refused, nothing changed")
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.alter_column('body', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('body_file')
