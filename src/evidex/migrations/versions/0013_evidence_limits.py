"""evidence limits and the spool ledger: evidence_files.last_chunk_at, spool_files (issue 12)

evidence_files.last_chunk_at: an upload's last chunk (abandoned uploads are swept after
EVIDEX_UPLOAD_IDLE_HOURS); spool_files: which peer each spool file belongs to and its size, for the
per-peer spool quota (files spooled before this revision are not in it and do not count).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import evidex.core.db

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_chunk_at', evidex.core.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table('spool_files',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('peer', sa.String(length=2), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('written_at', evidex.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_spool_files'))
    )
    with op.batch_alter_table('spool_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spool_files_peer'), ['peer'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('spool_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spool_files_peer'))
    op.drop_table('spool_files')
    with op.batch_alter_table('evidence_files', schema=None) as batch_op:
        batch_op.drop_column('last_chunk_at')
