"""Engine, sessions and the portable column types every model uses (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from evidex.core.errors import EvidexError

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores it naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: evidex stores only timezone-aware UTC datetimes")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout."""
    try:
        sa_url = sa.make_url(url)
    except sa.exc.ArgumentError as e:
        raise EvidexError(f"not a database URL: {url!r} (e.g. sqlite:///path/evidex.db or "
                          "postgresql://user@host:5432/evidex)") from e
    if sa_url.get_backend_name() not in ("sqlite", "postgresql"):
        raise EvidexError(f"unsupported database {sa_url.get_backend_name()!r}: use SQLite or PostgreSQL")
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    elif sa_url.get_backend_name() == "postgresql" and sa_url.drivername == "postgresql":
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(sa_url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=5000")
            if sa_url.database and sa_url.database != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


def lock_row(db: Session, key: Any, value: Any) -> None:
    """Hold the lock on one row (`key` a model's key column) until this transaction ends, before
    reading what a new row must follow (the head of a chain). PostgreSQL: SELECT … FOR UPDATE.
    SQLite has no row locks and a transaction takes its write lock only at its first write: a write
    that changes nothing takes it now, so what is read next is the latest and stays so."""
    if db.get_bind().dialect.name == "sqlite":
        db.execute(sa.update(key.class_).where(key == value).values({key.key: key})
                   .execution_options(synchronize_session=False))
    else:
        db.execute(sa.select(key).where(key == value).with_for_update())


# --------------------------------------------------------------------------- the unit of work
# Services own the transaction: each command (and each read that is logged) commits inside the
# service that does it, so the API, the web UI, the CLI and the worker call it alike and never
# commit or roll back themselves. The session's `info` carries how deep the blocks are nested and
# which refusals must be kept.
_DEPTH = "evidex.transaction_depth"
_KEPT = "evidex.kept_refusals"
P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E", bound=BaseException)


@contextmanager
def transaction(db: Session) -> Iterator[Session]:
    """One unit of work: when the block ends, what the session wrote in its current transaction
    (before the block too) is committed; if the block raises, it is rolled back — unless the error
    was `recorded`. Inside another block it joins that one, and the outermost ends the transaction:
    a command made of commands (a received batch, the demo) is still one transaction."""
    depth: int = db.info.get(_DEPTH, 0)
    db.info[_DEPTH] = depth + 1
    try:
        yield db
    except BaseException as e:
        if depth == 0:
            _end(db, commit=any(k is e for k in db.info.get(_KEPT, ())))
        raise
    else:
        if depth == 0:
            _end(db, commit=True)
    finally:
        db.info[_DEPTH] = depth
        if depth == 0:
            db.info.pop(_KEPT, None)


def _end(db: Session, *, commit: bool) -> None:
    if not commit:
        db.rollback()
        return
    try:
        db.commit()
    except BaseException:
        db.rollback()  # a commit that failed leaves the session unusable until rolled back
        raise


def command(fn: Callable[Concatenate[Session, P], R]) -> Callable[Concatenate[Session, P], R]:
    """A service function that is one unit of work (`transaction`): it commits when it returns and
    rolls back what it wrote when it raises; called from another command, it joins it."""

    @functools.wraps(fn)
    def run(db: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with transaction(db):
            return fn(db, *args, **kwargs)

    return run


def recorded(db: Session, error: E) -> E:
    """`error`, marked as a refusal whose record is kept: when it ends the unit of work, what was
    written (a failed sign-in's count and audit entry, a rejected file's status) is committed, not
    rolled back. Any other error still rolls everything back. `raise recorded(db, AuthError(...))`."""
    if not db.info.get(_DEPTH):
        raise RuntimeError("recorded() outside a transaction: nothing would commit the record")
    db.info.setdefault(_KEPT, []).append(error)
    return error
