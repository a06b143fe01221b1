"""next due deadline and the document's reference on the request's row, indexes for a desk's list (issue 14)

The list of requests ranked every open deadline on each call to find each request's next one, and
read the whole table to sort it: over a second for a page of 50 among 10,000 requests. The request's
row now keeps its next due deadline (`next_due_on`, `next_due_name`: the earliest open or overdue one
with a date, by name on the same day), which the services keep in the transaction that changes its
deadlines; indexes give each order of the list (last changed, next due, urgent first, created) by the
Party. The search on references read and parsed every document for its case_reference: the row keeps
a copy (`document_case_reference`). Upgrade fills the columns from the deadlines and the documents;
downgrade drops the indexes and the columns.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = ("open", "overdue")  # cases.service.OPEN_DEADLINE at this revision
INDEXES = {  # name -> columns (a leading "-": descending), as requests/models.py declares them
    "ix_requests_party_changed": ("party", "-updated_at", "id"),
    "ix_requests_party_due": ("party", "next_due_on", "created_at", "id"),
    "ix_requests_party_urgency": ("party", "-urgent", "next_due_on", "created_at", "id"),
    "ix_requests_party_created": ("party", "created_at", "id"),
}

requests = sa.table('requests', sa.column('id', sa.Uuid), sa.column('next_due_on', sa.Date),
                    sa.column('next_due_name', sa.String), sa.column('document', sa.JSON),
                    sa.column('document_case_reference', sa.Text))
deadlines = sa.table('deadlines', sa.column('request_id', sa.Uuid), sa.column('name', sa.String),
                     sa.column('due_on', sa.Date), sa.column('status', sa.String))


def _next(column: sa.ColumnClause[object]) -> sa.ScalarSelect[object]:
    """The request's next due deadline's `column` (its date or its name), as the services compute it."""
    return (sa.select(column).where(deadlines.c.request_id == requests.c.id, deadlines.c.status.in_(OPEN),
                                    deadlines.c.due_on.is_not(None))
            .order_by(deadlines.c.due_on, deadlines.c.name).limit(1).scalar_subquery())


# Plain ADD/DROP COLUMN, not a batch copy of the table: both databases do it in place (SQLite since 3.35).
def upgrade() -> None:
    op.add_column("requests", sa.Column("next_due_on", sa.Date(), nullable=True))
    op.add_column("requests", sa.Column("next_due_name", sa.String(60), nullable=True))
    op.add_column("requests", sa.Column("document_case_reference", sa.Text(), nullable=True))
    op.execute(sa.update(requests).values(next_due_on=_next(deadlines.c.due_on), next_due_name=_next(deadlines.c.name))
               .where(sa.exists().where(deadlines.c.request_id == requests.c.id)))
    _copy_references()
    for name, columns in INDEXES.items():
        op.create_index(name, "requests", [sa.text(f"{c[1:]} DESC") if c.startswith("-") else c for c in columns])


def _copy_references() -> None:
    """Each document's case_reference, where it is a string (as cases.service keeps it), in batches."""
    bind = op.get_bind()
    last = None
    while True:
        q = sa.select(requests.c.id, requests.c.document).order_by(requests.c.id).limit(500)
        rows = bind.execute(q if last is None else q.where(requests.c.id > last)).all()
        if not rows:
            return
        given = [{"rid": rid, "given": doc.get("case_reference")} for rid, doc in rows
                 if isinstance(doc, dict) and isinstance(doc.get("case_reference"), str)]
        if given:
            bind.execute(sa.update(requests).where(requests.c.id == sa.bindparam("rid"))
                         .values(document_case_reference=sa.bindparam("given")), given)
        last = rows[-1][0]


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "requests")
    op.drop_column("requests", "document_case_reference")
    op.drop_column("requests", "next_due_name")
    op.drop_column("requests", "next_due_on")
