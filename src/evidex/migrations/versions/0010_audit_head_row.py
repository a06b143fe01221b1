"""the audit chain's head row exists from the start

Writers lock the head row to append to the chain (FOR UPDATE on PostgreSQL); before the first
entry there was no row to lock, and two first entries at once both tried to create it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    head = sa.table('audit_head', sa.column('id', sa.Integer), sa.column('seq', sa.Integer),
                    sa.column('hash', sa.String))
    bind = op.get_bind()
    if bind.execute(sa.select(head.c.id).where(head.c.id == 1)).first() is None:
        bind.execute(sa.insert(head).values(id=1, seq=0, hash=GENESIS))


def downgrade() -> None:
    head = sa.table('audit_head', sa.column('id', sa.Integer), sa.column('seq', sa.Integer))
    op.get_bind().execute(sa.delete(head).where(head.c.id == 1, head.c.seq == 0))  # only an unused head
