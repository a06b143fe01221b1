"""POST /api/v1/requests/{id}/evidence-packages in a state whose data may not go (requests/data/
lifecycle.yaml data_sending): 409, naming the state, the reason and its article; nothing signed or
queued. Then, once the request is executed, the same call sends. On SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from evidex.evidence.models import EvidenceFile, EvidencePackage
from evidex.exchange.models import OutboxMessage
from evidex.parties.roles import Role
from evidex.requests.models import Request
from tests.web.site import Site
from tests.web.test_evidence_package_form import node_site  # noqa: F401  (the fixture: RS's node, a request from ME)
from tests.web.test_evidence_pages import upload_by_form


def manifests(site: Site, rid: uuid.UUID) -> int:
    with site.sessionmaker() as db:
        conversation = db.get(Request, rid).conversation_id
        return len(db.execute(sa.select(OutboxMessage).where(OutboxMessage.type == "evidence_manifest",
                                                             OutboxMessage.conversation_id == conversation)).all())


def test_the_api_refuses_to_send_data_in_a_state_the_law_does_not_allow(node_site: tuple[Site, uuid.UUID]) -> None:  # noqa: F811
    site, rid = node_site
    site.sign_in("RS", Role.central_authority)  # the page's upload, to have a sealed file
    assert upload_by_form(site, rid, "relay.log", b"a log").status_code == 303
    api = site.api_headers("RS", Role.central_authority)
    with site.sessionmaker() as db:
        eid = str(db.execute(sa.select(EvidenceFile.id).where(EvidenceFile.request_id == rid)).scalar_one())

    def send() -> Any:
        return site.client.post(f"/api/v1/requests/{rid}/evidence-packages", json={"evidence_ids": [eid]}, headers=api)

    r = send()
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == ("no data is sent to ME while the request is 'Received': it has only been received: "
                                  "whether it is executed is decided first (ETS185 Art 25(4))")

    def step(event: str, **body: object) -> Any:
        return site.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": event, **body}, headers=api)

    assert step("acknowledge").status_code == 200
    # ME and RS have an MLA treaty: Art 27(5) does not apply (27(1)); the treaty's grounds do (25(4)).
    assert step("postpone", reasons="Our own investigation first", grounds=["ETS185 Art 27(5)"]).status_code == 422
    assert step("postpone", reasons="Our own investigation first", grounds=["ETS185 Art 25(4)"]).status_code == 200
    r = send()
    assert r.status_code == 409 and r.json()["detail"].endswith(
        "while the request is 'Postponed': its execution is postponed (ETS185 Art 27(5))")
    with site.sessionmaker() as db:
        assert db.execute(sa.select(EvidencePackage).where(EvidencePackage.request_id == rid)).all() == []
    assert manifests(site, rid) == 0
    assert step("start_execution").status_code == 200  # the postponement ends: the data may go (ETS185 Art 31(2))
    r = send()
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "sending" and manifests(site, rid) == 1
