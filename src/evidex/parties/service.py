"""Users: creation with argon2 password hashes and TOTP secrets, lookup, authentication."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, cast

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from evidex.audit import service as audit
from evidex.core import ratelimit
from evidex.core.db import command, lock_row, recorded, transaction
from evidex.core.errors import Conflict, Forbidden, Invalid, InvalidInput, NotFound, TooManyRequests
from evidex.core.secretbox import SecretBox
from evidex.parties.models import ApiToken, User
from evidex.parties.roles import PEOPLE_ROLES, Principal, Role

# Parameters of new hashes, by Settings.password_hash_profile: RFC 9106's second recommendation (64 MiB,
# 3 passes; argon2-cffi's default), or its cheapest for test suites (production refuses it).
PASSWORD_HASH_PROFILES = {"rfc9106_low_memory": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}
_profile = "rfc9106_low_memory"
_hasher = PasswordHasher.from_parameters(PASSWORD_HASH_PROFILES[_profile])
MIN_PASSWORD = 12


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def principal_of(user: User) -> Principal:
    return Principal(user_id=user.id, username=user.username, party=user.party, role=Role(user.role),
                     provider=user.provider)


def create_user(db: Session, *, username: str, display_name: str, party: str, role: Role, now: dt.datetime,
                password: str | None = None, provider: str | None = None, with_totp: bool = True,
                is_system: bool = False, totp_box: SecretBox | None = None) -> User:
    """A person gets a TOTP secret, sealed under `totp_box` (the API and the command line always pass
    the node's; without one — tests, demo data — it is sealed at its first use)."""
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
                totp_secret=_new_totp_secret(totp_box) if with_totp and not is_system else None,
                is_active=True, created_at=now)
    db.add(user)
    db.flush()
    return user


def _new_totp_secret(box: SecretBox | None) -> str:
    plain = pyotp.random_base32()
    return box.seal(plain) if box is not None else plain


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, made once (warm_up() at start): unknown, inactive, system and
    locked users are verified against it, so the answer takes as long as for a real account."""
    return _hasher.hash(secrets.token_urlsafe(24))


def use_password_profile(profile: str) -> None:
    """Hash new passwords in this process with `profile` (Settings.password_hash_profile)."""
    global _hasher, _profile
    if profile != _profile:
        _hasher, _profile = PasswordHasher.from_parameters(PASSWORD_HASH_PROFILES[profile]), profile
        _dummy_hash.cache_clear()


def warm_up(profile: str = "rfc9106_low_memory") -> None:
    use_password_profile(profile)
    _dummy_hash()


def _same_work_as_a_password_check(password: str) -> None:
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), password)


SESSION_PREFIX = "evs_"
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
TOKEN_PREFIX = "evx_"
TOKEN_SCOPES = ("read", "write")  # read: safe methods only; neither gives more than the owner's role
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at of a token is written at most this often
AUDIT_USERNAME = 80  # a username given at a failed login is audited truncated to this


class AuthError(Exception):
    """Authentication failed (HTTP 401); the message never says which part was wrong."""


class SecondFactorEnrolmentDue(AuthError):
    """The password was right, but an administrator reset the second factor: enrol a new one first."""


def totp_secret(user: User, box: SecretBox) -> str | None:
    """The user's TOTP secret in clear (for enrolment and `evidex users totp`)."""
    return box.open(user.totp_secret) if user.totp_secret else None


def verify_totp(db: Session, *, user: User, code: str | None, now: dt.datetime, box: SecretBox) -> bool:
    """The code of the current step (or one step either side, for clock drift) and later than the
    last step accepted: a code never works twice, nor an older one (RFC 6238 §5.2). The step is
    claimed by one conditional UPDATE, so two requests racing with one code cannot both pass."""
    if not user.totp_secret or not code:
        return False
    plain = box.open(user.totp_secret)
    if not box.is_current(user.totp_secret):  # a legacy plaintext secret (or an old key's) is sealed on use
        user.totp_secret = box.seal(plain)
    totp = pyotp.TOTP(plain)
    current = totp.timecode(now)
    steps = [s for s in (current + 1, current, current - 1) if hmac.compare_digest(totp.generate_otp(s), str(code))]
    if not steps:
        return False
    claimed = db.execute(sa.update(User).where(
        User.id == user.id, sa.or_(User.totp_last_step.is_(None), User.totp_last_step < steps[0]))
        .values(totp_last_step=steps[0]).returning(User.id).execution_options(synchronize_session=False)).first()
    if claimed is not None:  # the loaded user says so too (an enrolment after a reset is then complete)
        set_committed_value(user, "totp_last_step", steps[0])
    return claimed is not None


def _anonymous(party: str) -> Principal:
    """The actor of what an unauthenticated caller did (a failed login): the node records it."""
    return Principal(user_id=None, username="anonymous", party=party, role=Role.system)


@command
def check_login_rate(db: Session, *, username: str, client: str, now: dt.datetime, per_account: int,
                     per_address: int, window_seconds: int) -> None:
    """Count a login attempt for its account and its client address; TooManyRequests beyond either
    limit, and the attempt still counts. Both counts are made before either is judged, so an
    address over its limit still counts."""
    over: list[TooManyRequests] = []
    for key, limit in ((f"login:address:{client}", per_address), (f"login:account:{username.lower()}", per_account)):
        try:
            ratelimit.hit(db, key=key, limit=limit, window_seconds=window_seconds, now=now)
        except TooManyRequests as e:
            over.append(e)
    if over:
        raise recorded(db, max(over, key=lambda e: e.retry_after))


def sign_in(db: Session, *, username: str, password: str, totp_code: str | None, client: str, now: dt.datetime,
            session_minutes: int, totp_box: SecretBox, node_party: str, per_account: int, per_address: int,
            window_seconds: int, locale: str | None = None) -> tuple[str, dt.datetime, User]:
    """A sign-in: the attempt counted (and limited) in a transaction of its own, so the counters are
    shared at once and not held during the password check; then the check (`login`) in another.
    `locale`: the language chosen before signing in, which becomes the person's own if they have none."""
    check_login_rate(db, username=username, client=client, now=now, per_account=per_account,
                     per_address=per_address, window_seconds=window_seconds)
    with transaction(db):
        token, expires, user = login(db, username=username, password=password, totp_code=totp_code, now=now,
                                     session_minutes=session_minutes, totp_box=totp_box, node_party=node_party,
                                     client=client)
        if locale is not None and user.locale is None:
            user.locale = locale
    return token, expires, user


@command
def login(db: Session, *, username: str, password: str, totp_code: str | None, now: dt.datetime,
          session_minutes: int, totp_box: SecretBox, node_party: str,
          client: str | None = None) -> tuple[str, dt.datetime, User]:
    """Password plus second factor (TOTP) for people; systems use API tokens, never passwords.
    Every outcome is audited; a failure is committed with its count and audit entry (the count
    locks the account) before AuthError reaches the caller."""
    from evidex.parties.models import UserSession

    user = db.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    reason: str | None = None
    if user is None:
        reason = "unknown_user"
    elif not user.is_active or user.is_system or not user.password_hash:
        reason = "not_a_person_who_may_sign_in"
    elif user.locked_until is not None and now < user.locked_until:
        reason = "locked"
    if reason is not None or user is None:
        _same_work_as_a_password_check(password)  # no timing difference tells whether the account exists
    elif not check_password(user, password):
        reason = "wrong_password"
    elif user.second_factor_enrolment_due and not user.totp_secret:
        reason = "second_factor_enrolment_due"
    elif user.totp_secret and not verify_totp(db, user=user, code=totp_code, now=now, box=totp_box):
        reason = "wrong_or_used_second_factor"
    audit_base: dict[str, Any] = {"username": username[:AUDIT_USERNAME], "client": client}
    if reason is not None or user is None:
        if user is not None and reason in ("wrong_password", "wrong_or_used_second_factor"):
            _count_failure(db, user=user, now=now, node_party=node_party, details=audit_base)
        audit.record(db, actor=_anonymous(node_party), action="auth.login_failed", object_type="user",
                     object_id=str(user.id) if user is not None else None, at=now,
                     details={**audit_base, "reason": reason})
        if reason == "second_factor_enrolment_due":  # told only to whoever knows the password
            raise recorded(db, SecondFactorEnrolmentDue("your second factor was reset: enrol a new one with your "
                                                        "password, then sign in with its code"))
        raise recorded(db, AuthError("invalid username, password or second factor"))
    user.failed_logins, user.locked_until = 0, None
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + dt.timedelta(minutes=session_minutes)
    db.add(UserSession(user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=expires))
    audit.record(db, actor=principal_of(user), action="auth.login", object_type="user", object_id=str(user.id),
                 at=now, details={"client": client, "expires_at": expires.isoformat()})
    return token, expires, user


def _count_failure(db: Session, *, user: User, now: dt.datetime, node_party: str, details: dict[str, Any]) -> None:
    """One atomic UPDATE … RETURNING: concurrent failures each count, and exactly the one that
    reaches MAX_FAILED_LOGINS locks the account (and starts the count again)."""
    reached = User.failed_logins + 1 >= MAX_FAILED_LOGINS
    count, locked_until = db.execute(
        sa.update(User).where(User.id == user.id).values(
            failed_logins=sa.case((reached, 0), else_=User.failed_logins + 1),
            locked_until=sa.case((reached, now + LOCKOUT), else_=User.locked_until))
        .returning(User.failed_logins, User.locked_until).execution_options(synchronize_session=False)).one()
    if count == 0:
        audit.record(db, actor=_anonymous(node_party), action="auth.lockout", object_type="user",
                     object_id=str(user.id), at=now,
                     details={**details, "failures": MAX_FAILED_LOGINS, "locked_until": locked_until})


@dataclass(frozen=True)
class Credential:
    """What a bearer token stands for: its user, its kind and (API tokens) its id and scope."""

    user: User
    kind: str  # "session" | "api_token"
    token_id: uuid.UUID
    scope: str  # "write" for sessions
    stale_use: bool = False  # an API token whose last_used_at is older than TOUCH_EVERY


def resolve_token(db: Session, *, token: str, now: dt.datetime) -> Credential:
    """The active user behind a session token or an API token, or AuthError."""
    from evidex.parties.models import UserSession

    h = hash_token(token)
    cred: Credential | None = None
    # One query per request: the credential and its user together (this runs before every API call).
    if token.startswith(SESSION_PREFIX):
        found = db.execute(sa.select(UserSession.id, UserSession.revoked_at, UserSession.expires_at, User)
                           .join(User, User.id == UserSession.user_id)
                           .where(UserSession.token_hash == h)).one_or_none()
        if found is not None and found[1] is None and found[2] > now:
            cred = Credential(found[3], "session", found[0], "write")
    elif token.startswith(TOKEN_PREFIX):
        row = db.execute(sa.select(ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.scope,
                                   ApiToken.last_used_at, User)
                         .join(User, User.id == ApiToken.user_id)
                         .where(ApiToken.token_hash == h)).one_or_none()
        if row is not None and row[1] is None and row[2] > now:
            cred = Credential(row[5], "api_token", row[0], row[3],
                              stale_use=row[4] is None or row[4] <= now - TOUCH_EVERY)
    if cred is None or not cred.user.is_active:
        raise AuthError("invalid or expired credentials")
    return cred


def touch_token(db: Session, *, token_id: uuid.UUID, now: dt.datetime) -> None:
    """Record a token's use, at most once a minute (concurrent requests write it once)."""
    db.execute(sa.update(ApiToken).where(
        ApiToken.id == token_id, sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_EVERY))
        .values(last_used_at=now).execution_options(synchronize_session=False))


def authenticate(db: Session, *, token: str, now: dt.datetime) -> Credential:
    """The credential behind a bearer token (`resolve_token`), its last use recorded: written at most
    once a minute per token (not on every read), and committed at once in a transaction of its own."""
    cred = resolve_token(db, token=token, now=now)
    if cred.stale_use:
        with transaction(db):
            touch_token(db, token_id=cred.token_id, now=now)
    return cred


@command
def logout(db: Session, *, token: str, actor: Principal, now: dt.datetime) -> None:
    """Revoke the credential used: a session, or an API token (which then never works again)."""
    from evidex.parties.models import UserSession

    if token.startswith(TOKEN_PREFIX):
        api_token = db.execute(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token))).scalar_one_or_none()
        if api_token is not None and api_token.revoked_at is None:
            api_token.revoked_at = now
            audit.record(db, actor=actor, action="token.revoke", object_type="api_token", object_id=str(api_token.id),
                         at=now, details={"via": "logout"})
        return
    session = db.execute(sa.select(UserSession).where(UserSession.token_hash == hash_token(token))).scalar_one_or_none()
    if session is not None and session.revoked_at is None:
        session.revoked_at = now
        audit.record(db, actor=actor, action="auth.logout", object_type="user", object_id=str(actor.user_id), at=now)


# --------------------------------------------------------------------------- API tokens
def issue_api_token(db: Session, *, user: User, name: str, now: dt.datetime, expires_at: dt.datetime,
                    scope: str = "write", created_by: Principal | None = None) -> tuple[str, ApiToken]:
    """A new token; only its hash is stored, the token is shown once. Audited (by the node when
    `created_by` is None: the command line)."""
    if scope not in TOKEN_SCOPES:
        raise Invalid(f"scope must be one of {', '.join(TOKEN_SCOPES)}")
    if expires_at <= now:
        raise Invalid("a token must expire in the future")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), created_at=now, expires_at=expires_at,
                   scope=scope, created_by=created_by.username if created_by else None)
    db.add(row)
    db.flush()
    audit.record(db, actor=created_by or Principal.system(user.party), action="token.create", object_type="api_token",
                 object_id=str(row.id), at=now,
                 details={"user": user.username, "role": user.role, "name": name, "scope": scope,
                          "expires_at": expires_at.isoformat()})
    return token, row


@command
def create_api_token(db: Session, *, actor: Principal, user_id: uuid.UUID | None, name: str, scope: str,
                     expires_at: dt.datetime, totp_code: str | None, now: dt.datetime,
                     totp_box: SecretBox) -> tuple[str, ApiToken]:
    """A token for oneself, or (an administrator) for a system user of its Party. A token acting as
    an administrator needs the creator's current second factor."""
    creator = db.get(User, actor.user_id) if actor.user_id is not None else None
    if creator is None:
        raise Forbidden("only a user can mint API tokens")
    owner = creator if user_id is None or user_id == creator.id else db.get(User, user_id)
    if owner is None or owner.party != actor.party:
        raise NotFound("no such user")
    if owner is not creator:
        if actor.role is not Role.administrator:
            raise Forbidden("only an administrator mints tokens for other users")
        if not owner.is_system:
            raise Forbidden("a person mints their own tokens")
    require_second_factor_for(db, creator=creator, role=Role(owner.role), totp_code=totp_code, now=now, box=totp_box)
    return issue_api_token(db, user=owner, name=name, now=now, expires_at=expires_at, scope=scope, created_by=actor)


def require_second_factor_for(db: Session, *, creator: User, role: Role, totp_code: str | None, now: dt.datetime,
                              box: SecretBox) -> None:
    """A credential that acts as an administrator is minted only with the creator's current TOTP code."""
    if role is not Role.administrator:
        return
    if not verify_totp(db, user=creator, code=totp_code, now=now, box=box):
        raise Forbidden("a token acting as an administrator needs your current second-factor code (totp_code), "
                        "not used before")


def _visible_tokens(actor: Principal) -> sa.ColumnElement[bool]:
    """Own tokens; an administrator sees every token of its Party's users."""
    if actor.role is Role.administrator:
        return User.party == actor.party
    return ApiToken.user_id == actor.user_id


def list_tokens(db: Session, *, actor: Principal, include_revoked: bool = False) -> list[tuple[ApiToken, str]]:
    q = sa.select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).where(_visible_tokens(actor))
    if not include_revoked:
        q = q.where(ApiToken.revoked_at.is_(None))
    return [(t, name) for t, name in db.execute(q.order_by(ApiToken.created_at, ApiToken.id)).all()]


@command
def revoke_token(db: Session, *, actor: Principal, token_id: uuid.UUID, now: dt.datetime) -> ApiToken:
    row = db.execute(sa.select(ApiToken).join(User, User.id == ApiToken.user_id)
                     .where(ApiToken.id == token_id, _visible_tokens(actor))).scalar_one_or_none()
    if row is None:
        raise NotFound("no such token")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(db, actor=actor, action="token.revoke", object_type="api_token", object_id=str(row.id), at=now,
                     details={"name": row.name})
    return row


def current_user(db: Session, *, actor: Principal) -> User:
    """The user acting (for `/auth/me`); a system principal without a user is not found."""
    user = db.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None or user.party != actor.party:
        raise NotFound("no such user")
    return user


@dataclass(frozen=True)
class NewUser:
    """A user just created, with what is shown once: a person's TOTP secret, a system's first API token."""

    user: User
    totp_secret: str | None
    api_token: str | None


@command
def add_user(db: Session, *, actor: Principal, username: str, display_name: str, role: Role, now: dt.datetime,
             totp_box: SecretBox, token_expires_at: dt.datetime, password: str | None = None,
             provider: str | None = None, is_system: bool = False, totp_code: str | None = None) -> NewUser:
    """An administrator creates a user of its own Party, audited. A system user gets its first API
    token at once; one acting as an administrator only with the creator's current second factor."""
    if is_system:
        creator = db.get(User, actor.user_id) if actor.user_id is not None else None
        if creator is None:
            raise Forbidden("only a user can create system users")
        require_second_factor_for(db, creator=creator, role=role, totp_code=totp_code, now=now, box=totp_box)
    user = create_user(db, username=username, display_name=display_name, party=actor.party, role=role, now=now,
                       password=password, provider=provider, is_system=is_system, totp_box=totp_box)
    token = None
    if is_system:
        token, _ = issue_api_token(db, user=user, name="initial", now=now, created_by=actor,
                                   expires_at=token_expires_at)
    audit.record(db, actor=actor, action="user.create", object_type="user", object_id=str(user.id), at=now,
                 details={"username": user.username, "role": user.role})
    return NewUser(user, totp_secret(user, totp_box), token)


@command
def add_user_as_operator(db: Session, *, party: str, username: str, display_name: str, role: Role, now: dt.datetime,
                         totp_box: SecretBox, token_expires_at: dt.datetime, password: str | None = None,
                         provider: str | None = None, is_system: bool = False) -> NewUser:
    """The node's operator (`evidex users create`) creates a user of the node's Party, audited as the
    node via the command line: a person gets a TOTP secret, a system its first API token."""
    user = create_user(db, username=username, display_name=display_name, party=party, role=role, now=now,
                       password=password, provider=provider, is_system=is_system, totp_box=totp_box)
    token = issue_api_token(db, user=user, name="initial", now=now, expires_at=token_expires_at)[0] \
        if is_system else None
    audit.record(db, actor=Principal.system(party), action="user.create", object_type="user", object_id=str(user.id),
                 at=now, details={"username": username, "role": role.value, "via": "cli"})
    return NewUser(user, totp_secret(user, totp_box), token)


LOCALE_TAG = re.compile(r"^[a-z]{2,3}(?:-[A-Z][a-z]{3})?$")  # en, fr, cnr, sr-Cyrl (BCP 47 language[-Script])


@command
def set_locale(db: Session, *, actor: Principal, locale: str, now: dt.datetime) -> User:
    """The language `actor` reads the web application in (kept for their next sign-in)."""
    if not LOCALE_TAG.match(locale):
        raise InvalidInput(f"not a language tag: {locale[:20]!r}")
    user = current_user(db, actor=actor)
    user.locale = locale
    return user


def list_users(db: Session, *, party: str) -> list[User]:
    return list(db.execute(sa.select(User).where(User.party == party).order_by(User.username)).scalars())


def get_user(db: Session, *, actor: Principal, user_id: uuid.UUID) -> User:
    """A user of `actor`'s Party, for its administrator; another Party's user is not found."""
    if actor.role is not Role.administrator:
        raise Forbidden("users are administered by an administrator of their Party")
    user = db.execute(sa.select(User).where(User.id == user_id, User.party == actor.party)).scalar_one_or_none()
    if user is None:
        raise NotFound("no such user")
    return user


def username_of(db: Session, user_id: uuid.UUID) -> str:
    return db.execute(sa.select(User.username).where(User.id == user_id)).scalar_one()


# --------------------------------------------------------------------------- administration of users
MAX_REASON = 500


def _reason(reason: str | None, *, required: bool, what: str) -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise Invalid(f"a reason is required to {what}")
    if len(text) > MAX_REASON:
        raise Invalid(f"the reason is longer than {MAX_REASON} characters")
    return text or None


def _administered(db: Session, *, actor: Principal, user: uuid.UUID | str) -> User:
    """The user (by id or username) an administrator of the same Party acts on, its row locked until
    the commit; another Party's user is not found."""
    if actor.role is not Role.administrator:
        raise Forbidden("users are administered by an administrator of their Party")
    which = User.id == user if isinstance(user, uuid.UUID) else User.username == user
    target = db.execute(sa.select(User).where(which, User.party == actor.party).with_for_update()).scalar_one_or_none()
    if target is None:
        raise NotFound("no such user")
    if db.get_bind().dialect.name == "sqlite":  # no row locks: take the write lock, then read again
        lock_row(db, User.id, target.id)
        db.refresh(target)
    return target


def _revoke_credentials(db: Session, *, user: User, now: dt.datetime, tokens: bool) -> dict[str, int]:
    from evidex.parties.models import UserSession

    def revoke(model: type[UserSession] | type[ApiToken]) -> int:
        done = db.execute(sa.update(model).where(model.user_id == user.id, model.revoked_at.is_(None))
                          .values(revoked_at=now).execution_options(synchronize_session=False))
        return cast("sa.CursorResult[Any]", done).rowcount or 0

    revoked = {"sessions": revoke(UserSession)}
    if tokens:
        revoked["api_tokens"] = revoke(ApiToken)
    return revoked


@command
def unlock_user(db: Session, *, actor: Principal, user: uuid.UUID | str, now: dt.datetime,
                reason: str | None = None) -> User:
    """End a lockout after repeated failed sign-ins at once (the failure count starts again)."""
    why = _reason(reason, required=False, what="unlock")
    target = _administered(db, actor=actor, user=user)
    if target.locked_until is not None or target.failed_logins:
        audit.record(db, actor=actor, action="user.unlock", object_type="user", object_id=str(target.id), at=now,
                     details={"username": target.username, "reason": why, "failed_logins": target.failed_logins,
                              "locked_until": target.locked_until.isoformat() if target.locked_until else None})
        target.failed_logins, target.locked_until = 0, None
    return target


@command
def deactivate_user(db: Session, *, actor: Principal, user: uuid.UUID | str, reason: str | None,
                    now: dt.datetime) -> User:
    """Deactivate a user: no sign-in, and every session and API token of theirs revoked at once.
    Refused for oneself and for the Party's last active administrator (a person), so the node keeps
    someone who can administer it."""
    why = _reason(reason, required=True, what="deactivate a user")
    target = _administered(db, actor=actor, user=user)
    if target.id == actor.user_id:
        raise Forbidden("you cannot deactivate yourself; ask another administrator")
    if not target.is_active:
        return target
    if target.role == Role.administrator and not target.is_system:
        others = db.execute(sa.select(User.id).where(
            User.party == target.party, User.role == Role.administrator.value, User.is_active.is_(True),
            User.is_system.is_(False), User.id != target.id).with_for_update()).all()
        if not others:
            raise Conflict(f"{target.username} is the last active administrator of {target.party}")
    target.is_active, target.deactivated_at, target.deactivated_by = False, now, actor.username
    revoked = _revoke_credentials(db, user=target, now=now, tokens=True)
    audit.record(db, actor=actor, action="user.deactivate", object_type="user", object_id=str(target.id), at=now,
                 details={"username": target.username, "reason": why, "revoked": revoked})
    return target


@command
def reactivate_user(db: Session, *, actor: Principal, user: uuid.UUID | str, now: dt.datetime,
                    reason: str | None = None) -> User:
    """Let a deactivated user sign in again. Their old sessions and tokens stay revoked."""
    why = _reason(reason, required=False, what="reactivate a user")
    target = _administered(db, actor=actor, user=user)
    if not target.is_active:
        target.is_active, target.deactivated_at, target.deactivated_by = True, None, None
        audit.record(db, actor=actor, action="user.reactivate", object_type="user", object_id=str(target.id),
                     at=now, details={"username": target.username, "reason": why})
    return target


@command
def reset_second_factor(db: Session, *, actor: Principal, user: uuid.UUID | str, reason: str | None,
                        now: dt.datetime) -> User:
    """Forget a person's TOTP secret (a lost or compromised device): their sessions are revoked and
    they sign in again only after enrolling a new second factor with their password."""
    why = _reason(reason, required=True, what="reset a second factor")
    target = _administered(db, actor=actor, user=user)
    if target.is_system:
        raise Invalid("a system user has no second factor (it uses API tokens)")
    if target.id == actor.user_id:
        raise Forbidden("you cannot reset your own second factor; ask another administrator")
    target.totp_secret, target.totp_last_step = None, None
    target.second_factor_reset_at, target.second_factor_reset_by = now, actor.username
    revoked = _revoke_credentials(db, user=target, now=now, tokens=False)
    audit.record(db, actor=actor, action="user.second_factor_reset", object_type="user", object_id=str(target.id),
                 at=now, details={"username": target.username, "reason": why, "revoked": revoked})
    return target


@command
def enrol_second_factor(db: Session, *, username: str, password: str, now: dt.datetime, totp_box: SecretBox,
                        node_party: str, client: str, per_account: int, per_address: int,
                        window_seconds: int) -> tuple[str, User]:
    """After a reset, a person enrols a new TOTP secret with their password (returned in clear, once);
    until a code of it is accepted at sign-in they may enrol again (a new secret replaces it). Counted,
    limited and audited like a sign-in: a wrong password counts towards the lockout."""
    check_login_rate(db, username=username, client=client, now=now, per_account=per_account,
                     per_address=per_address, window_seconds=window_seconds)  # refused: the attempt still counts
    user = db.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    reason: str | None = None
    if user is None or not user.is_active or user.is_system or not user.password_hash:
        reason = "not_a_person_who_may_sign_in"
    elif user.locked_until is not None and now < user.locked_until:
        reason = "locked"
    if reason is not None or user is None:
        _same_work_as_a_password_check(password)
    elif not check_password(user, password):
        reason = "wrong_password"
    elif not user.second_factor_enrolment_due:
        reason = "no_enrolment_due"
    details: dict[str, Any] = {"username": username[:AUDIT_USERNAME], "client": client}
    if reason is not None or user is None:
        if user is not None and reason == "wrong_password":
            _count_failure(db, user=user, now=now, node_party=node_party, details=details)
        audit.record(db, actor=_anonymous(node_party), action="auth.second_factor_enrol_failed", object_type="user",
                     object_id=str(user.id) if user is not None else None, at=now, details={**details, "reason": reason})
        if reason == "no_enrolment_due":  # told only to whoever knows the password
            raise recorded(db, Conflict("no second-factor enrolment is due for this account"))
        raise recorded(db, AuthError("invalid username or password"))
    plain = pyotp.random_base32()
    user.totp_secret, user.totp_last_step = totp_box.seal(plain), None
    audit.record(db, actor=principal_of(user), action="auth.second_factor_enrol", object_type="user",
                 object_id=str(user.id), at=now, details={"client": client})
    return plain, user


@command
def change_password(db: Session, *, actor: Principal, current_password: str, new_password: str, now: dt.datetime,
                    node_party: str, keep_session: str | None = None) -> User:
    """A person changes their own password: the current one is asked again (a session left open on a shared
    screen is not enough), a wrong one counts towards the lockout like a failed sign-in; the new one
    follows the node's rule (MIN_PASSWORD characters, not the username, not the current one). Every
    other session of the person ends (`keep_session`, the token of the session that asked, stays);
    API tokens stay: they are credentials of their own, revoked one by one."""
    from evidex.parties.models import UserSession

    user = db.execute(sa.select(User).where(User.id == actor.user_id).with_for_update()).scalar_one_or_none()
    if user is None or not user.is_active or user.is_system or not user.password_hash:
        raise Forbidden("this account has no password to change")
    if db.get_bind().dialect.name == "sqlite":  # no row locks: take the write lock, then read again
        lock_row(db, User.id, user.id)
        db.refresh(user)
    if not check_password(user, current_password):
        _count_failure(db, user=user, now=now, node_party=node_party, details={"username": user.username,
                                                                              "client": "password change"})
        audit.record(db, actor=actor, action="user.password_change_failed", object_type="user",
                     object_id=str(user.id), at=now, details={"reason": "wrong_password"})
        raise recorded(db, Invalid("the current password is not right",
                                   [{"field": "current_password", "code": "wrong_password"}]))
    problem: tuple[str, str] | None = None
    if len(new_password) < MIN_PASSWORD:
        problem = ("too_short", f"the new password is too short: at least {MIN_PASSWORD} characters")
    elif new_password.strip().casefold() == user.username.casefold():
        problem = ("username", "the new password must not be the username")
    elif check_password(user, new_password):
        problem = ("unchanged", "the new password must differ from the current one")
    if problem is not None:
        raise Invalid(problem[1], [{"field": "new_password", "code": problem[0]}])
    user.password_hash = _hasher.hash(new_password)
    kept = hash_token(keep_session) if keep_session else None
    ended = db.execute(sa.update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None),
        *([UserSession.token_hash != kept] if kept else [])).values(revoked_at=now)
        .execution_options(synchronize_session=False))
    audit.record(db, actor=actor, action="user.password_changed", object_type="user", object_id=str(user.id), at=now,
                 details={"username": user.username,
                          "other_sessions_ended": cast("sa.CursorResult[Any]", ended).rowcount or 0})
    return user
