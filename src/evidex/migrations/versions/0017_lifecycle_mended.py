"""lifecycle mended: one preservation deadline, emergency review (issue 13, lifecycle)

A preservation had two deadlines for one period (ETS185 Art 29(7)): `preservation_minimum` (the rules
engine's estimate from receipt) and `preservation_expiry` (the period actually running once
preserved). They become one, `preservation_minimum`. Where a request has both, the row of the period
actually running survives under that name, with its due date and its marks (reminded, overdue,
status); the estimate's notifications stay with the request, detached from the deadline they were
about (a notification of the same kind on the surviving row would otherwise stop its own reminder).
The emergency review (`four_eyes_review` deadlines, `review_due` notifications) needs no new column.

Downgrade: the surviving row of a preserved request is named `preservation_expiry` again; the code of
0016 recreates the estimate `preservation_minimum` itself at the request's next change.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ONE = "preservation_minimum"
RUNNING = "preservation_expiry"

deadlines = sa.table('deadlines', sa.column('id', sa.Uuid), sa.column('request_id', sa.Uuid),
                     sa.column('name', sa.String))
notifications = sa.table('notifications', sa.column('deadline_id', sa.Uuid))
requests = sa.table('requests', sa.column('id', sa.Uuid), sa.column('preserved_until', sa.Date))


def upgrade() -> None:
    bind = op.get_bind()
    estimate = deadlines.alias('estimate')
    pairs = bind.execute(
        sa.select(deadlines.c.id, estimate.c.id)
        .select_from(deadlines.outerjoin(estimate, sa.and_(estimate.c.request_id == deadlines.c.request_id,
                                                           estimate.c.name == ONE)))
        .where(deadlines.c.name == RUNNING)).all()
    for running_id, estimate_id in pairs:
        if estimate_id is not None:
            bind.execute(sa.update(notifications).where(notifications.c.deadline_id == estimate_id)
                         .values(deadline_id=None))
            bind.execute(sa.delete(deadlines).where(deadlines.c.id == estimate_id))
        bind.execute(sa.update(deadlines).where(deadlines.c.id == running_id).values(name=ONE))


def downgrade() -> None:
    bind = op.get_bind()
    preserved = sa.select(requests.c.id).where(requests.c.preserved_until.is_not(None))
    bind.execute(sa.update(deadlines).where(deadlines.c.name == ONE, deadlines.c.request_id.in_(preserved))
                 .values(name=RUNNING))
