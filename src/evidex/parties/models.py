"""Users of a node, their API tokens and sessions."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from evidex.core.db import Base, UTCDateTime


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    party: Mapped[str] = mapped_column(sa.String(2), index=True)
    role: Mapped[str] = mapped_column(sa.String(40))
    provider: Mapped[str | None] = mapped_column(sa.String(200))  # service provider organisation
    is_system: Mapped[bool] = mapped_column(sa.Boolean, default=False)  # an integrating system, not a person
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    # Sealed under a key derived from the node secret (core/secretbox.py); a legacy plaintext value
    # (no sealed prefix) still works and is sealed at its next use.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    # The last TOTP time step accepted: a code (or an earlier one) never works twice (RFC 6238 §5.2).
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # after repeated failures
    # Set by an administrator (audited with the reason); a deactivated user neither signs in nor uses a token.
    deactivated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deactivated_by: Mapped[str | None] = mapped_column(sa.String(80))
    # The last reset of the second factor. Until a code of the newly enrolled secret is accepted
    # (totp_last_step is cleared by the reset), the user enrols again: no sign-in without it.
    second_factor_reset_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    second_factor_reset_by: Mapped[str | None] = mapped_column(sa.String(80))
    # The language the person reads the web application in (a tag of web/i18n.py LOCALES); None: the
    # browser's Accept-Language decides.
    locale: Mapped[str | None] = mapped_column(sa.String(16))

    @property
    def second_factor_enrolment_due(self) -> bool:
        return self.second_factor_reset_at is not None and self.totp_last_step is None


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # SHA-256; the token is never stored
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # every token expires
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scope: Mapped[str] = mapped_column(sa.String(10), default="write", server_default="write")  # read | write
    created_by: Mapped[str | None] = mapped_column(sa.String(80))  # username of who minted it (None: the CLI)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # updated at most once a minute


class UserSession(Base):
    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
