"""An evidence package between two real node processes (RS and ME, HTTPS on loopback, each with
its own database): ME produces a file for RS's preservation request and, once executing it (not
before: ETS185 Art 30(1)), sends it; RS's node verifies it against the manifest signed by ME's node
and answers with a signed receipt. And the same with a byte changed at ME: the mismatch is
reported on both sides and the file is never sealed at RS."""

from __future__ import annotations

import hashlib
import os

import pytest

from evidex.demo.federation import introduce
from evidex.parties.roles import Role
from tests.e2e.test_federation import Node, wait_for
from tests.exchange.conftest import _drop, _url
from tests.factories import document as example_document
from tests.faulty_node import command as faulty

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)

MiB = 1024 * 1024


def start_pair(tmp_path, me_faults: tuple[str, ...], kind: str = "sqlite", made: list[str] | None = None):
    rs, me = Node("RS", tmp_path), Node("ME", tmp_path)
    for n in (rs, me):
        n.env["EVIDEX_DATABASE_URL"] = _url(kind, tmp_path, n.party, made if made is not None else [])
    introduce(rs, me)
    rs.add_users(("rs-247", Role.contact_24_7), ("rs-247-b", Role.contact_24_7))
    me.add_users(("me-247", Role.contact_24_7))
    if me_faults:
        me.command = faulty(*me_faults)
    for n in (rs, me):
        n.start()
    return rs, me


@pytest.fixture(params=[("sqlite", "intact"), ("sqlite", "corrupted at ME"), ("postgresql", "intact")],
                ids=lambda p: "-".join(p))
def pair(request, tmp_path):
    kind, state = request.param
    made: list[str] = []
    rs, me = start_pair(tmp_path, ("package_corrupt",) if state != "intact" else (), kind, made)
    yield rs, me, state == "intact"
    for n in (rs, me):
        n.stop()
    _drop(made)


def test_a_package_crosses_real_nodes_and_is_verified(pair):
    rs, me, intact = pair
    a, b = rs.login("rs-247"), rs.login("rs-247-b")
    case = a.post("/api/v1/cases", json={"reference": "VTK-PKG-1", "title": "Ransomware"}).json()
    rid = a.post("/api/v1/requests", json={"case_id": case["id"],
                                           "document": example_document("preservation", "RS", "ME")}).json()["id"]
    for who, event in ((a, "check"), (b, "approve"), (a, "send")):
        assert who.post(f"/api/v1/requests/{rid}/transitions", json={"event": event}).status_code == 200
    m = me.login("me-247")
    (got,) = wait_for(lambda: m.get("/api/v1/requests?direction=incoming").json()["items"], "the request at ME")
    # ME's 24/7 contact produces the data (a resumable upload through ME's API) and sends them.
    data = os.urandom(2 * MiB + 999)
    ev = m.post(f"/api/v1/requests/{got['id']}/evidence", json={"name": "logs.tar", "size": len(data),
                                                                "sha256": hashlib.sha256(data).hexdigest()}).json()
    for i in range(3):
        r = m.put(f"/api/v1/evidence/{ev['id']}/chunks/{i}", content=data[i * MiB:(i + 1) * MiB],
                  headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
    assert m.post(f"/api/v1/evidence/{ev['id']}/complete").json()["status"] == "sealed"
    # Received only, the preservation is not being executed: no traffic data go yet (ETS185 Art 30(1)).
    early = m.post(f"/api/v1/requests/{got['id']}/evidence-packages", json={"evidence_ids": [ev["id"]]})
    assert early.status_code == 409 and "'Received'" in early.json()["detail"] and "ETS185 Art 30(1)" in early.text
    for event in ("acknowledge", "start_execution"):
        assert m.post(f"/api/v1/requests/{got['id']}/transitions", json={"event": event}).status_code == 200
    sent = m.post(f"/api/v1/requests/{got['id']}/evidence-packages", json={"evidence_ids": [ev["id"]]})
    assert sent.status_code == 201, sent.text
    pid = sent.json()["id"]
    assert sent.json()["status"] == "sending" and sent.json()["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    # RS's node receives, verifies against the signed manifest, and settles the package.
    settled = "received" if intact else "mismatch"
    at_rs = wait_for(lambda: [p for p in a.get(f"/api/v1/requests/{rid}/evidence-packages").json()
                              if p["status"] == settled], f"the package to be {settled} at RS", seconds=60)
    assert len(at_rs) == 1 and at_rs[0]["id"] == pid and at_rs[0]["direction"] == "incoming"
    file_at_rs = at_rs[0]["files"][0]["evidence_id"]
    content = a.get(f"/api/v1/evidence/{file_at_rs}/content")
    if intact:
        assert content.status_code == 200 and content.content == data
        custody = a.get(f"/api/v1/evidence/{file_at_rs}/custody").json()
        assert custody["intact"] and [e["event"] for e in custody["events"]] == ["received", "verified", "opened"]
        assert all(e["party"] == "RS" for e in custody["events"])
    else:
        assert content.status_code == 409  # rejected: never sealed, never served
        assert at_rs[0]["problems"] and "manifest says" in at_rs[0]["problems"][0]
        notes = a.get("/api/v1/notifications").json()["items"]
        assert any(n["kind"] == "evidence_mismatch" for n in notes)
    # ME learns the verdict through RS's signed receipt.
    at_me = wait_for(lambda: (p := m.get(f"/api/v1/evidence-packages/{pid}").json())["status"] == settled and p,
                     f"the package to be {settled} at ME", seconds=60)
    assert [(r["issuer"], r["positive"]) for r in at_me["receipts"]] == [("RS", intact)]
    custody_me = m.get(f"/api/v1/evidence/{ev['id']}/custody").json()
    assert custody_me["intact"] and [e["event"] for e in custody_me["events"]] == ["produced", "sealed", "sent"]
    if not intact:
        assert any(n["kind"] == "evidence_mismatch" for n in m.get("/api/v1/notifications").json()["items"])
    assert rs.cli("audit", "verify").returncode == 0 and me.cli("audit", "verify").returncode == 0
