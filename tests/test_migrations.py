"""`evidex db upgrade` on a new database of each kind; an unmigrated database is refused."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from evidex.core.db import make_engine
from evidex.core.migrate import NotMigrated, head_revision, require_migrated
from tests.conftest import run_cli
from tests.dbfixtures import postgres_database

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new' / 'evidex.db'}"
        return
    with postgres_database("evidex_mig", migrate=False) as url:
        yield url


def migrate(engine: sa.Engine, revision: str, down: bool = False) -> None:
    """Upgrade (or downgrade) the database to `revision` with alembic, in one transaction."""
    from alembic import command

    from evidex.core.migrate import alembic_config

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_upgrade_status_and_refusal(empty_url):
    env = {"EVIDEX_DATABASE_URL": empty_url}
    engine = make_engine(empty_url)
    with pytest.raises(NotMigrated, match="evidex db upgrade"):
        require_migrated(engine)
    r = run_cli("audit", "verify", env=env)
    assert r.returncode == 2 and "evidex db upgrade" in r.stderr and "Traceback" not in r.stderr
    assert run_cli("db", "status", env=env).returncode == 1
    r = run_cli("db", "upgrade", env=env)
    assert r.returncode == 0 and f"to {head_revision()}" in r.stdout
    assert "already at the latest" in run_cli("db", "upgrade", env=env).stdout
    assert run_cli("db", "status", env=env).returncode == 0
    require_migrated(engine)
    engine.dispose()


def test_bad_database_url_is_one_line():
    for url, msg in [("nosuchdb://x", "unsupported database"), ("::not a url::", "not a database URL"),
                     ("postgresql://nobody@127.0.0.1:1/none", "database:")]:
        r = run_cli("db", "upgrade", env={"EVIDEX_DATABASE_URL": url})
        assert r.returncode == 2 and msg in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_0009_keeps_federation_payloads_as_their_canonical_bytes(empty_url):
    """Messages waiting in the outbox and stored in the inbox survive the move from JSON columns to
    bytes (and back), byte for byte what their SHA-256 was taken over."""
    from evidex.exchange.envelope import canonical_json

    engine = make_engine(empty_url)

    migrate(engine, "0008")
    payload = {"zeta": "Ž 1", "alpha": [1, {"b": None, "a": "ć"}]}
    stamp = "2026-11-23 10:00:00+00:00"
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO outbox (msg_id, conversation_id, recipient, type, headers, payload, "
                          "payload_sha256, status, attempts, next_attempt_at, created_at) VALUES "
                          "('m-1', 'c-1', 'ME', 'request', '{}', :p, 'x', 'pending', 0, :t, :t)"),
                  {"p": json.dumps(payload), "t": stamp})
        c.execute(sa.text("INSERT INTO inbox (msg_id, sender, type, conversation_id, headers, payload, "
                          "payload_sha256, received_at, delivery_receipt) VALUES "
                          "('m-2', 'ME', 'request', 'c-1', '{}', :p, 'x', :t, 'r')"),
                  {"p": json.dumps(payload), "t": stamp})
    migrate(engine, "head")
    with engine.connect() as c:
        body, size = c.execute(sa.text("SELECT b.body, o.size FROM outbox o JOIN outbox_bodies b "
                                       "ON b.outbox_id = o.id")).one()
        assert bytes(body) == canonical_json(payload) and size == len(canonical_json(payload))
        assert bytes(c.execute(sa.text("SELECT body FROM inbox")).scalar_one()) == canonical_json(payload)
    migrate(engine, "0008", down=True)
    with engine.connect() as c:
        for table in ("outbox", "inbox"):
            stored = c.execute(sa.text(f"SELECT payload FROM {table}")).scalar_one()
            assert (json.loads(stored) if isinstance(stored, str) else stored) == payload
    engine.dispose()


def test_0011_downgrade_refuses_while_payloads_are_in_the_spool(empty_url):
    """Revision 0010 has nowhere for a payload kept in a spool file: the downgrade says so and changes
    nothing; without such rows it goes down and up again."""

    engine = make_engine(empty_url)

    migrate(engine, "head")
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO inbox (msg_id, sender, type, conversation_id, headers, body_file, "
                          "payload_sha256, received_at, delivery_receipt) VALUES "
                          "('m-3', 'ME', 'request', 'c-1', '{}', :f, 'x', '2026-11-23 10:00:00+00:00', 'r')"),
                  {"f": "a" * 64})
    with pytest.raises(RuntimeError, match="spool folder"):
        migrate(engine, "0010", down=True)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT body_file FROM inbox")).scalar_one() == "a" * 64
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM inbox"))
    migrate(engine, "0010", down=True)
    migrate(engine, "head")
    engine.dispose()


def test_migrations_build_exactly_the_models(empty_url):
    """What `evidex db upgrade` builds is what the code's models describe (no forgotten migration)."""
    import importlib
    import pkgutil

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import evidex
    from evidex.core.db import Base
    from evidex.core.migrate import upgrade

    for module in pkgutil.walk_packages(evidex.__path__, "evidex."):
        if module.name.endswith(".models"):
            importlib.import_module(module.name)
    engine = make_engine(empty_url)
    upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_0017_merges_the_two_preservation_deadlines_into_one(empty_url):
    """Where a preservation had both `preservation_minimum` (the estimate) and `preservation_expiry` (the
    period actually running), one row survives under the first name with the running period's date and
    marks; the estimate's notifications stay with the request. Down and up again."""
    import datetime as dt
    import uuid

    from evidex.cases.models import Case
    from evidex.requests.models import Deadline, Notification, Request

    engine = make_engine(empty_url)
    migrate(engine, "0016")
    at = dt.datetime(2027, 1, 20, 9, tzinfo=dt.UTC)
    case, both, only_min, only_exp = (uuid.uuid4() for _ in range(4))
    dl = {k: uuid.uuid4() for k in ("min", "exp", "only_min", "only_exp")}

    def request(rid, preserved_until):
        return dict(id=rid, party="ME", case_id=case, direction="incoming", request_type="preservation",
                    requesting_party="RS", requested_party="ME", status="preserved" if preserved_until else "received",
                    urgent=True, document={}, preserved_until=preserved_until, created_at=at, updated_at=at, version=1)

    def deadline(did, rid, name, due, **marks):
        return dict(id=did, request_id=rid, party="ME", name=name, article="ETS185 Art 29(7)", days=60, due_on=due,
                    remind_on=due - dt.timedelta(days=10), status=marks.pop("status", "open"), created_at=at,
                    updated_at=at, **{"reminded_at": None, "overdue_at": None, **marks})

    with engine.begin() as c:
        c.execute(sa.insert(Case.__table__).values(id=case, party="ME", reference="R-1", title="t", created_at=at))
        c.execute(sa.insert(Request.__table__), [request(both, dt.date(2027, 1, 25)), request(only_min, None),
                                                 request(only_exp, dt.date(2027, 2, 1))])
        c.execute(sa.insert(Deadline.__table__), [
            deadline(dl["min"], both, "preservation_minimum", dt.date(2027, 1, 19), status="overdue", reminded_at=at,
                     overdue_at=at),
            deadline(dl["exp"], both, "preservation_expiry", dt.date(2027, 1, 25), reminded_at=at),
            deadline(dl["only_min"], only_min, "preservation_minimum", dt.date(2027, 1, 19)),
            deadline(dl["only_exp"], only_exp, "preservation_expiry", dt.date(2027, 2, 1))])
        c.execute(sa.insert(Notification.__table__), [
            dict(id=uuid.uuid4(), party="ME", request_id=both, deadline_id=dl[d], kind=kind, message=kind,
                 created_at=at) for d, kind in (("min", "reminder"), ("min", "overdue"), ("exp", "reminder"))])
    migrate(engine, "head")

    def state():
        with engine.connect() as c:
            rows = c.execute(sa.select(Deadline.request_id, Deadline.name, Deadline.due_on, Deadline.status,
                                       Deadline.reminded_at.is_not(None), Deadline.id)).all()
            notes = c.execute(sa.select(Notification.kind, Notification.deadline_id)).all()
        return {(r[0], r[1]): tuple(r[2:]) for r in rows}, sorted(((k, d) for k, d in notes), key=str)

    rows, notes = state()
    assert rows == {(both, "preservation_minimum"): (dt.date(2027, 1, 25), "open", True, dl["exp"]),
                    (only_min, "preservation_minimum"): (dt.date(2027, 1, 19), "open", False, dl["only_min"]),
                    (only_exp, "preservation_minimum"): (dt.date(2027, 2, 1), "open", False, dl["only_exp"])}
    assert sorted(notes, key=str) == sorted([("overdue", None), ("reminder", None), ("reminder", dl["exp"])], key=str)
    migrate(engine, "0016", down=True)
    rows, _ = state()
    assert set(rows) == {(both, "preservation_expiry"), (only_min, "preservation_minimum"),
                         (only_exp, "preservation_expiry")}
    migrate(engine, "head")
    assert {name for _, name in state()[0]} == {"preservation_minimum"}
    engine.dispose()


def test_0019_keeps_each_requests_next_due_deadline_and_document_reference(empty_url):
    """Upgrade fills the request's next due deadline (the earliest open or overdue one with a date, by name
    on the same day) and the document's own case_reference; down and up again."""
    import datetime as dt
    import uuid

    engine = make_engine(empty_url)
    migrate(engine, "0018")
    at = "2027-01-20 09:00:00+00:00"
    case = uuid.uuid4().hex
    rids = {k: uuid.uuid4() for k in ("mixed", "tie", "closed", "none")}
    docs = {"mixed": {"case_reference": "VTK-KTR-1127/26"}, "tie": {"case_reference": None}, "closed": {"x": 1},
            "none": {"case_reference": "KT 5/26"}}
    deadlines = [  # the earliest is met, one has no date, the next is overdue; a tie on a day; one cancelled
        ("mixed", "preservation_minimum", "2027-03-01", "open"), ("mixed", "provider_response", "2027-02-01", "overdue"),
        ("mixed", "registrar_response", "2027-01-25", "met"), ("mixed", "service_on_provider", None, "open"),
        ("tie", "provider_response", "2027-02-10", "open"), ("tie", "four_eyes_review", "2027-02-10", "open"),
        ("closed", "preservation_minimum", "2027-01-01", "cancelled")]
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO cases (id, party, reference, title, created_at) VALUES (:id, 'RS', 'R-1', 't', :at)"),
                  {"id": case, "at": at})
        for name, rid in rids.items():
            c.execute(sa.text("INSERT INTO requests (id, party, case_id, direction, request_type, requesting_party, "
                              "requested_party, status, urgent, document, created_at, updated_at, version) VALUES "
                              "(:id, 'RS', :case, 'outgoing', 'preservation', 'RS', 'ME', 'sent', false, :doc, :at, "
                              ":at, 1)"), {"id": rid.hex, "case": case, "doc": json.dumps(docs[name]), "at": at})
        for name, deadline, due, status in deadlines:
            c.execute(sa.text("INSERT INTO deadlines (id, request_id, party, name, article, due_on, status, created_at, "
                              "updated_at) VALUES (:id, :rid, 'RS', :name, 'ETS185 Art 29(7)', :due, :status, :at, :at)"),
                      {"id": uuid.uuid4().hex, "rid": rids[name].hex, "name": deadline, "due": due, "status": status,
                       "at": at})
    migrate(engine, "head")

    def kept():
        with engine.connect() as c:
            rows = c.execute(sa.text("SELECT id, next_due_on, next_due_name, document_case_reference FROM requests"))
            return {uuid.UUID(str(r[0])): (r[1] if r[1] is None or isinstance(r[1], dt.date)
                                           else dt.date.fromisoformat(r[1]), r[2], r[3]) for r in rows}

    assert kept() == {rids["mixed"]: (dt.date(2027, 2, 1), "provider_response", "VTK-KTR-1127/26"),
                      rids["tie"]: (dt.date(2027, 2, 10), "four_eyes_review", None),
                      rids["closed"]: (None, None, None),
                      rids["none"]: (None, None, "KT 5/26")}
    migrate(engine, "0018", down=True)
    with engine.connect() as c:
        columns = {col["name"] for col in sa.inspect(c).get_columns("requests")}
        indexes = {ix["name"] for ix in sa.inspect(c).get_indexes("requests")}
    assert not {"next_due_on", "next_due_name", "document_case_reference"} & columns
    assert not any(name.startswith(("ix_requests_party_changed", "ix_requests_party_due")) for name in indexes)
    migrate(engine, "head")
    assert kept()[rids["tie"]][:2] == (dt.date(2027, 2, 10), "four_eyes_review")
    engine.dispose()
