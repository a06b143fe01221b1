from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from evidex.core.db import Base, UTCDateTime


class Case(Base):
    """A specific criminal investigation or proceeding (ETS185 Art 25(1); CETS224 Art 2(1)(a))."""

    __tablename__ = "cases"
    __table_args__ = (sa.UniqueConstraint("party", "reference"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    party: Mapped[str] = mapped_column(sa.String(2), index=True)
    reference: Mapped[str] = mapped_column(sa.String(120))
    title: Mapped[str] = mapped_column(sa.String(300))
    created_by: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
