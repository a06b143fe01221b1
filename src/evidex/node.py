"""build_node(settings): the one place where settings become a node — its database, its law (the
rulebook and the Party profiles of EVIDEX_PARTIES_FILE or the shipped examples), its evidence vault,
its spool of received payloads and its federation identity.

`evidex serve` (api/app.py), `evidex worker`, every CLI command, the demos and the tests build a node
here, so that no two of them can disagree on which profiles (time zones, retention periods) apply.
What a command does not use is never opened: the identity, the vault and the spool are built on
first use (a command that needs no identity does not ask for its passphrase).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.errors import InvalidInput
from evidex.core.faults import NO_FAULTS, Faults
from evidex.core.migrate import require_migrated
from evidex.core.settings import Settings

if TYPE_CHECKING:
    from evidex.audit.heads import HeadKey
    from evidex.cases.service import Law
    from evidex.evidence.service import Vault
    from evidex.exchange.keys import NodeIdentity
    from evidex.exchange.spool import Spool
    from evidex.workers.loop import NodeWorker


class FromSettings:
    """Marker: the identity is the one in EVIDEX_NODE_DIR (None if `evidex node init` made none)."""


FROM_SETTINGS = FromSettings()


class Node:
    """One evidex node, built from its settings. Use `build_node`."""

    def __init__(self, settings: Settings, engine: Engine, law: Law | None,
                 identity: NodeIdentity | FromSettings | None) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine)
        self._law = law
        self._identity = identity

    @functools.cached_property
    def law(self) -> Law:
        """The rulebook, the lifecycle and the Party profiles (EVIDEX_PARTIES_FILE, else the shipped ones)."""
        from evidex.cases.service import Law
        from evidex.rules import load_parties

        if self._law is not None:
            return self._law
        return Law(parties=load_parties(self.settings.parties_file)) if self.settings.parties_file else Law()

    @functools.cached_property
    def identity(self) -> NodeIdentity | None:
        """The federation identity; one on disk that cannot be opened is refused (never unsigned records)."""
        from evidex.exchange import keys

        if isinstance(self._identity, FromSettings):
            return keys.load_configured(self.settings)
        return self._identity

    @functools.cached_property
    def announcing_law(self) -> Law:
        """The law with the federation's outbox hooked to each transition and audited read, and a send
        judged by whether evidex reaches the other Party's node (when the node has an identity): what
        the API and the applier of received messages work with. Without an identity evidex delivers
        to no one: every request is sent outside evidex."""
        from evidex.exchange import flows

        if self.identity is None or self.law.announce is not None:
            return self.law
        return flows.federated(self.law, self.identity)

    @functools.cached_property
    def vault(self) -> Vault:
        """The evidence vault: custody signed by the node's identity, retention from the Party profiles."""
        return self.vault_signed_by(self.identity)

    def vault_signed_by(self, signer: NodeIdentity | None) -> Vault:
        """A vault whose custody events `signer` signs (None: for work that records none, e.g. rewrap)."""
        from evidex.evidence.service import build_vault

        return build_vault(self.settings, signer, self.law.retention_days())

    @functools.cached_property
    def spool(self) -> Spool:
        """Payloads received from other nodes, sealed at rest; per-peer quota."""
        from evidex.exchange.spool import Spool

        return Spool.of_node(self.settings)

    def worker(self, clock: Callable[[], dt.datetime], interval: float, faults: Faults = NO_FAULTS) -> NodeWorker:
        """The node's worker loop (deadlines, outbox, packages, retention, sweeps, audit heads), with the
        same law, vault, spool and identity as the API."""
        from evidex.workers.loop import NodeWorker

        return NodeWorker(self.sessions, clock, self.law.party_timezones(), interval, node=self.identity,
                          vault=self.vault, spool=self.spool, faults=faults, party=self.settings.node_party,
                          audit_key=self.audit_key, audit_sign_every=dt.timedelta(minutes=self.settings.audit_sign_minutes),
                          rulebook=self.law.rulebook)

    @property
    def audit_key(self) -> HeadKey:
        """What the node signs its audit heads with (its identity key, else the HMAC of its secret)."""
        return audit_signing_key(self.settings, self.identity)

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.dispose()


def build_node(settings: Settings, *, engine: Engine | None = None, law: Law | None = None,
               identity: NodeIdentity | FromSettings | None = FROM_SETTINGS, migrated: bool = True,
               threads: int = 0) -> Node:
    """The node of these settings. `engine`, `law` and `identity` replace what the settings would give
    (tests, the demo's partner node); `migrated=False` for the commands that create or inspect the
    schema; `threads` sizes PostgreSQL's pool for an API serving that many requests at once.
    Refuses (NotMigrated) a database that is not at the latest schema."""
    if engine is None:
        # PostgreSQL: a connection for each request thread, and some for the workers beside them.
        pool = {"pool_size": 2 * threads + 4, "max_overflow": 8} \
            if threads and settings.database_url.startswith("postgres") else {}
        engine = make_engine(settings.database_url, pool_pre_ping=True, **pool)
    if migrated:
        try:
            require_migrated(engine)
        except BaseException:
            engine.dispose()
            raise
    return Node(settings, engine, law, identity)


def audit_signing_key(settings: Settings, identity: NodeIdentity | None) -> HeadKey:
    """What a node signs its audit heads with: its identity's Ed25519 key, else the HMAC of its secret."""
    from evidex.audit import heads

    return heads.signing_key(identity, settings.secret_key.get_secret_value())


def audit_verification_keys(settings: Settings, earlier_documents: Iterable[dict[str, Any]] = ()) -> dict[str, HeadKey]:
    """What checks the node's signed audit heads: the public signing key of its node.json (no passphrase
    needed), of `earlier_documents` (node documents before a key rotation), and the HMAC keys of its
    current and previous secrets."""
    from evidex.audit.heads import public_keys
    from evidex.exchange.keys import PUBLIC_FILE

    docs = list(earlier_documents)
    path = settings.node_dir / PUBLIC_FILE
    if path.exists():
        try:
            docs.insert(0, json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise InvalidInput(f"{path}: not a node document ({e})") from e
    secrets = [settings.secret_key.get_secret_value(), *(s.get_secret_value() for s in settings.previous_secret_keys)]
    return public_keys(docs, secrets)
