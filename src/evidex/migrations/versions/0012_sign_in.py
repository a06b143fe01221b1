"""sign-in and API tokens: TOTP steps, rate limits, token scopes (issue 12)

users.totp_secret widened for sealed secrets, users.totp_last_step (a TOTP code works once);
api_tokens.scope, created_by, last_used_at, and an expiry for every token (tokens without one get
90 days from the upgrade); rate_limits, the login rate-limit windows shared by every process.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import evidex.core.db

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rate_limits',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('window_start', evidex.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limits')),
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=255),
                              existing_nullable=True)
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    # Tokens made before expiry existed: 90 days from now, time enough to replace them.
    tokens = sa.table('api_tokens', sa.column('expires_at', evidex.core.db.UTCDateTime(timezone=True)))
    op.get_bind().execute(sa.update(tokens).where(tokens.c.expires_at.is_(None))
                          .values(expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=90)))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=evidex.core.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.add_column(sa.Column('scope', sa.String(length=10), server_default='write', nullable=False))
        batch_op.add_column(sa.Column('created_by', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', evidex.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    users = sa.table('users', sa.column('totp_secret', sa.String))
    sealed = op.get_bind().execute(sa.select(sa.func.count()).select_from(users)
                                   .where(users.c.totp_secret.like('tot1:%'))).scalar_one()
    if sealed:
        raise RuntimeError(f"{sealed} user(s) have sealed TOTP secrets that revision 0011 cannot hold (64 "
                           "characters, plaintext): downgrade refused, nothing changed")
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('created_by')
        batch_op.drop_column('scope')
        batch_op.alter_column('expires_at', existing_type=evidex.core.db.UTCDateTime(timezone=True), nullable=True)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.alter_column('totp_secret', existing_type=sa.String(length=255), type_=sa.String(length=64),
                              existing_nullable=True)
    op.drop_table('rate_limits')
