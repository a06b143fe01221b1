"""federation payloads as bytes: outbox_bodies, outbox.size, inbox.body

The outbox and inbox held payloads as JSON, encoded again at every attempt and on receipt; they
now hold the canonical bytes the SHA-256 in the receipts is taken over, the outbox's apart from its
row (which changes at each attempt).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _canonical(payload: Any) -> bytes:
    if isinstance(payload, str):  # a JSON column read back as text
        payload = json.loads(payload)
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('size', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('body', sa.LargeBinary(), nullable=True))

    bind = op.get_bind()
    outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('payload', sa.JSON),
                      sa.column('size', sa.Integer))
    waiting: list[tuple[int, bytes]] = []
    for row_id, payload in bind.execute(sa.select(outbox.c.id, outbox.c.payload)).all():
        body = _canonical(payload)
        waiting.append((row_id, body))
        bind.execute(sa.update(outbox).where(outbox.c.id == row_id).values(size=len(body)))
    inbox = sa.table('inbox', sa.column('msg_id', sa.String), sa.column('payload', sa.JSON),
                     sa.column('body', sa.LargeBinary))
    for msg_id, payload in bind.execute(sa.select(inbox.c.msg_id, inbox.c.payload)).all():
        bind.execute(sa.update(inbox).where(inbox.c.msg_id == msg_id).values(body=_canonical(payload)))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('payload')
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.alter_column('body', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('payload')

    # Created after the outbox is rebuilt (SQLite rebuilds a table to drop a column, and dropping the
    # old one would cascade into a table that already referred to it).
    op.create_table('outbox_bodies',
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_outbox_bodies_outbox_id_outbox'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('outbox_id', name=op.f('pk_outbox_bodies'))
    )
    bodies = sa.table('outbox_bodies', sa.column('outbox_id', sa.Integer), sa.column('body', sa.LargeBinary))
    for row_id, body in waiting:
        bind.execute(sa.insert(bodies).values(outbox_id=row_id, body=body))


def downgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
    bind = op.get_bind()
    inbox = sa.table('inbox', sa.column('msg_id', sa.String), sa.column('payload', sa.JSON),
                     sa.column('body', sa.LargeBinary))
    for msg_id, body in bind.execute(sa.select(inbox.c.msg_id, inbox.c.body)).all():
        bind.execute(sa.update(inbox).where(inbox.c.msg_id == msg_id).values(payload=json.loads(body)))
    outbox = sa.table('outbox', sa.column('id', sa.Integer), sa.column('payload', sa.JSON))
    bodies = sa.table('outbox_bodies', sa.column('outbox_id', sa.Integer), sa.column('body', sa.LargeBinary))
    for row_id, body in bind.execute(sa.select(bodies.c.outbox_id, bodies.c.body)).all():
        bind.execute(sa.update(outbox).where(outbox.c.id == row_id).values(payload=json.loads(body)))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('size')
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.alter_column('payload', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('body')
    op.drop_table('outbox_bodies')
