"""The unit of work the services own (core/db.py): commit at the end, roll back on an error, nested
blocks join the outermost, a recorded refusal is kept. What another connection sees, on SQLite and
PostgreSQL (each test its own database: it commits)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from evidex.core.db import command, make_engine, make_sessionmaker, recorded, transaction
from evidex.core.errors import Conflict, Invalid
from evidex.core.ratelimit import RateWindow

AT = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def sessions(own_database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(own_database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def write(db: Session, key: str) -> None:
    db.add(RateWindow(key=key, window_start=AT, hits=1))
    db.flush()


def seen(sessions: sessionmaker[Session]) -> set[str]:
    """The keys another connection sees: what was committed."""
    with sessions() as other:
        return set(other.execute(sa.select(RateWindow.key)).scalars())


@command
def add(db: Session, *, key: str, fail: Exception | None = None) -> str:
    write(db, key)
    if fail is not None:
        raise fail
    return key


def test_a_command_commits_when_it_returns(sessions):
    with sessions() as db:
        assert add(db, key="a") == "a"
    assert seen(sessions) == {"a"}


def test_a_command_that_raises_leaves_nothing_written(sessions):
    with sessions() as db:
        write(db, "before")  # the session's work before the command is part of its transaction
        with pytest.raises(Invalid):
            add(db, key="b", fail=Invalid("refused"))
        assert db.execute(sa.select(RateWindow.key)).scalars().all() == []  # rolled back here too
    assert seen(sessions) == set()


def test_nested_commands_are_one_transaction(sessions):
    with sessions() as db:
        with transaction(db):
            add(db, key="inner-1")
            assert seen(sessions) == set()  # the inner command joined: nothing committed yet
            add(db, key="inner-2")
        assert seen(sessions) == {"inner-1", "inner-2"}
    with sessions() as db, pytest.raises(Conflict), transaction(db):
        add(db, key="inner-3")
        add(db, key="inner-4", fail=Conflict("the second fails"))
    assert seen(sessions) == {"inner-1", "inner-2"}  # the first inner command went with the second


def test_a_recorded_refusal_is_kept_and_any_other_error_is_not(sessions):
    with sessions() as db, pytest.raises(Invalid), transaction(db):
        write(db, "count")
        raise recorded(db, Invalid("refused, and the attempt counts"))
    assert seen(sessions) == {"count"}
    with sessions() as db, pytest.raises(Conflict), transaction(db):
        write(db, "not-kept")
        recorded(db, Invalid("a refusal that was not raised"))
        raise Conflict("another error")
    assert seen(sessions) == {"count"}
    with sessions() as db, pytest.raises(Invalid), transaction(db):  # refused inside, kept by the outermost
        write(db, "outer")
        with transaction(db):
            write(db, "inner")
            raise recorded(db, Invalid("refused inside"))
    assert seen(sessions) == {"count", "outer", "inner"}


def test_a_recorded_refusal_needs_a_transaction(sessions):
    with sessions() as db, pytest.raises(RuntimeError, match="outside a transaction"):
        recorded(db, Invalid("nobody would commit this"))


def test_a_failed_commit_leaves_the_session_usable(sessions):
    with sessions() as db:
        add(db, key="same")
        db.expunge_all()
        with pytest.raises(sa.exc.IntegrityError), transaction(db):
            db.add(RateWindow(key="same", window_start=AT, hits=2))  # the key again: refused at the commit's flush
        assert add(db, key="next") == "next"
    assert seen(sessions) == {"same", "next"}
