"""Users: creation with argon2 password hashes and TOTP secrets, lookup, authentication."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from evidex.core.errors import Conflict, Invalid
from evidex.parties.models import ApiToken, User
from evidex.parties.roles import PEOPLE_ROLES, Principal, Role

_hasher = PasswordHasher()
MIN_PASSWORD = 12


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, party=user.party, role=Role(user.role),
                     provider=user.provider)


def create_user(db: Session, *, username: str, display_name: str, party: str, role: Role, now: dt.datetime,
                password: str | None = None, provider: str | None = None, with_totp: bool = True,
                is_system: bool = False) -> User:
    if role not in PEOPLE_ROLES:
        raise Invalid(f"role {role} cannot be given to a user")
    if role is Role.service_provider and not provider:
        raise Invalid("a service_provider user needs the provider organisation it acts for")
    if password is not None and len(password) < MIN_PASSWORD:
        raise Invalid(f"password too short: at least {MIN_PASSWORD} characters")
    if db.execute(sa.select(User.id).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, display_name=display_name, party=party, role=role.value, provider=provider,
                is_system=is_system, password_hash=_hasher.hash(password) if password else None,
                totp_secret=pyotp.random_base32() if with_totp and not is_system else None,
                is_active=True, created_at=now)
    db.add(user)
    db.flush()
    return user


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_api_token(db: Session, *, user: User, name: str, now: dt.datetime,
                    expires_at: dt.datetime | None = None) -> str:
    """A new token for a system; only its hash is stored, the token is shown once."""
    token = "evx_" + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), created_at=now, expires_at=expires_at))
    db.flush()
    return token


SESSION_PREFIX = "evs_"
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
TOKEN_PREFIX = "evx_"


class AuthError(Exception):
    """Authentication failed (HTTP 401); the message never says which part was wrong."""


def login(db: Session, *, username: str, password: str, totp_code: str | None, now: dt.datetime,
          session_minutes: int) -> tuple[str, dt.datetime, User]:
    """Password plus second factor (TOTP) for people; systems use API tokens, never passwords."""
    from evidex.parties.models import UserSession

    user = db.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    if user is not None and user.locked_until is not None and now < user.locked_until:
        raise AuthError("invalid username, password or second factor")  # locked: the same answer, no hint
    ok = user is not None and user.is_active and not user.is_system and check_password(user, password)
    if ok and user is not None and user.totp_secret:
        ok = bool(totp_code) and pyotp.TOTP(user.totp_secret).verify(str(totp_code), for_time=now, valid_window=1)
    if not ok or user is None:
        if user is not None:  # repeated failures lock the account for a while (recorded by the caller's commit)
            user.failed_logins = (user.failed_logins or 0) + 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.failed_logins, user.locked_until = 0, now + LOCKOUT
        raise AuthError("invalid username, password or second factor")
    user.failed_logins, user.locked_until = 0, None
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + dt.timedelta(minutes=session_minutes)
    db.add(UserSession(user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=expires))
    db.flush()
    return token, expires, user


def resolve_token(db: Session, *, token: str, now: dt.datetime) -> User:
    """The active user behind a session token or an API token, or AuthError."""
    from evidex.parties.models import UserSession

    h = hash_token(token)
    user: User | None = None
    # One query per request: the credential and its user together (this runs before every API call).
    if token.startswith(SESSION_PREFIX):
        found = db.execute(sa.select(UserSession.revoked_at, UserSession.expires_at, User)
                           .join(User, User.id == UserSession.user_id)
                           .where(UserSession.token_hash == h)).one_or_none()
        if found is not None and found[0] is None and found[1] > now:
            user = found[2]
    elif token.startswith(TOKEN_PREFIX):
        row = db.execute(sa.select(ApiToken.revoked_at, ApiToken.expires_at, User)
                           .join(User, User.id == ApiToken.user_id)
                           .where(ApiToken.token_hash == h)).one_or_none()
        if row is not None and row[0] is None and (row[1] is None or row[1] > now):
            user = row[2]
    if user is None or not user.is_active:
        raise AuthError("invalid or expired credentials")
    return user


def logout(db: Session, *, token: str, now: dt.datetime) -> None:
    from evidex.parties.models import UserSession

    row = db.execute(sa.select(UserSession).where(UserSession.token_hash == hash_token(token))).scalar_one_or_none()
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


def list_users(db: Session, *, party: str) -> list[User]:
    return list(db.execute(sa.select(User).where(User.party == party).order_by(User.username)).scalars())
