"""Evidence through the API, on SQLite and PostgreSQL: an upload interrupted and resumed, a wrong
declared hash rejected, a flipped byte in storage detected on read, a custody chain tampered and
detected."""

from __future__ import annotations

import hashlib
import json
import os
import uuid

import sqlalchemy as sa

from evidex.evidence.models import CustodyEvent, EvidenceFile
from evidex.parties.roles import Role
from tests.api.test_api import document, new_request
from tests.factories import transition_body

MiB = 1024 * 1024


def start(api, rid, data: bytes, sha: str | None = None, who=("RS", Role.central_authority)):
    r = api.client.post(f"/api/v1/requests/{rid}/evidence", headers=api.as_(*who),
                        json={"name": "mailbox.mbox", "size": len(data), "sha256": sha or hashlib.sha256(data).hexdigest()})
    assert r.status_code == 201, r.text
    return r.json()


def put(api, eid, index, piece, who=("RS", Role.central_authority)):
    return api.client.put(f"/api/v1/evidence/{eid}/chunks/{index}", content=piece,
                          headers={**api.as_(*who), "Content-Type": "application/octet-stream"})


def upload(api, rid, data: bytes, sha: str | None = None):
    ev = start(api, rid, data, sha)
    for i in range(max(1, -(-len(data) // MiB))):
        assert put(api, ev["id"], i, data[i * MiB:(i + 1) * MiB]).status_code == 200
    return ev["id"], api.client.post(f"/api/v1/evidence/{ev['id']}/complete", headers=api.as_("RS", Role.central_authority))


def test_interrupted_upload_resumes_and_seals(api):
    rid = new_request(api)["id"]
    data = os.urandom(3 * MiB + 12345)
    ev = start(api, rid, data)
    assert put(api, ev["id"], 0, data[:MiB]).status_code == 200
    # The connection drops during chunk 1; the client asks where to resume.
    state = api.client.get(f"/api/v1/evidence/{ev['id']}", headers=api.as_("RS", Role.central_authority)).json()
    assert state["chunks_received"] == 1 and state["status"] == "uploading"
    r = put(api, ev["id"], 2, data[2 * MiB:3 * MiB])
    assert r.status_code == 409 and "chunk 1" in r.json()["detail"]
    assert put(api, ev["id"], 0, data[:MiB]).status_code == 200  # a resent chunk is harmless
    assert put(api, ev["id"], 0, os.urandom(MiB)).status_code == 409  # other bytes for a stored chunk are not
    for i in (1, 2, 3):
        assert put(api, ev["id"], i, data[i * MiB:(i + 1) * MiB]).status_code == 200
    done = api.client.post(f"/api/v1/evidence/{ev['id']}/complete", headers=api.as_("RS", Role.central_authority))
    assert done.status_code == 200 and done.json()["status"] == "sealed"
    assert done.json()["sha256"] == hashlib.sha256(data).hexdigest()
    got = api.client.get(f"/api/v1/evidence/{ev['id']}/content", headers=api.as_("RS", Role.central_authority))
    assert got.status_code == 200 and got.content == data
    custody = api.client.get(f"/api/v1/evidence/{ev['id']}/custody", headers=api.as_("RS", Role.central_authority)).json()
    assert custody["intact"] and [e["event"] for e in custody["events"]] == ["produced", "sealed", "opened"]


def test_a_wrong_declared_hash_is_rejected(api):
    rid = new_request(api)["id"]
    eid, r = upload(api, rid, os.urandom(5000), sha="0" * 64)
    assert r.status_code == 422 and "not the declared" in r.json()["detail"]
    state = api.client.get(f"/api/v1/evidence/{eid}", headers=api.as_("RS", Role.central_authority)).json()
    assert state["status"] == "rejected"
    assert api.client.get(f"/api/v1/evidence/{eid}/content", headers=api.as_("RS", Role.central_authority)).status_code == 409


def test_a_flipped_byte_in_storage_is_detected_on_read(api):
    rid = new_request(api)["id"]
    data = os.urandom(2 * MiB + 7)
    eid, r = upload(api, rid, data)
    assert r.status_code == 200
    with api.sessionmaker() as db:
        name = db.execute(sa.select(EvidenceFile.storage_name).where(EvidenceFile.id == uuid.UUID(eid))).scalar_one()
    vault = api.client.app.state.vault
    path = vault.storage._path(name)
    blob = bytearray(path.read_bytes())
    blob[28 + MiB + 16 + 500] ^= 0x80  # a byte in chunk 1
    path.write_bytes(bytes(blob))
    got = api.client.get(f"/api/v1/evidence/{eid}/content", headers=api.as_("RS", Role.central_authority))
    assert got.status_code == 409 and "chunk 1" in got.json()["detail"]


def test_tampered_custody_chain_is_detected(api):
    rid = new_request(api)["id"]
    eid, _ = upload(api, rid, b"subscriber records")
    with api.sessionmaker() as db:
        db.execute(sa.update(CustodyEvent).where(CustodyEvent.evidence_id == uuid.UUID(eid), CustodyEvent.seq == 1)
                   .values(actor="someone-else"))
        db.commit()
    custody = api.client.get(f"/api/v1/evidence/{eid}/custody", headers=api.as_("RS", Role.central_authority)).json()
    assert custody["intact"] is False and "custody event 1 (produced)" in custody["problems"][0]


def test_another_party_cannot_see_evidence(api):
    rid = new_request(api)["id"]
    eid, _ = upload(api, rid, b"traffic data")
    si = api.as_("SI", Role.central_authority)
    for path in (f"/api/v1/evidence/{eid}", f"/api/v1/evidence/{eid}/content", f"/api/v1/evidence/{eid}/custody"):
        assert api.client.get(path, headers=si).status_code == 404
    assert api.client.put(f"/api/v1/evidence/{eid}/chunks/0", content=b"x", headers=si).status_code == 404
    for path, body in ((f"/api/v1/evidence/{eid}/onward-transfers", {"recipient": "Moldova", "purpose": "p"}),
                       (f"/api/v1/evidence/{eid}/retention", {"retain_until": "2030-01-01T00:00:00Z", "reason": "r"}),
                       (f"/api/v1/evidence/{eid}/dispose", {"reason": "r"})):
        assert api.client.post(path, json=body, headers=si).status_code == 404  # a role allowed to, elsewhere
    assert api.client.get(f"/api/v1/evidence-packages/{uuid.uuid4()}", headers=si).status_code == 404


def test_a_file_is_opened_only_by_the_roles_that_work_the_request(api):
    """The data-protection officer and the administrator see a file's record and custody (retention,
    access records), not its content; refused by role before the lookup, so any id answers the same."""
    rid = new_request(api)["id"]
    eid, _ = upload(api, rid, b"subscriber records")
    for role in (Role.data_protection_officer, Role.administrator):
        who = api.as_("RS", role)
        assert api.client.get(f"/api/v1/evidence/{eid}/custody", headers=who).status_code == 200
        assert api.client.get(f"/api/v1/requests/{rid}/custody", headers=who).status_code == 200
        for some in (eid, uuid.uuid4()):
            r = api.client.get(f"/api/v1/evidence/{some}/content", headers=who)
            assert r.status_code == 403 and "does not open evidence" in r.json()["detail"], role
    assert api.client.get(f"/api/v1/evidence/{eid}/content", headers=api.as_("SI", Role.data_protection_officer)
                          ).status_code == 403  # another Party's: the same answer, nothing revealed
    with api.sessionmaker() as db:  # nothing was opened
        assert not db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == uuid.UUID(eid),
                                                            CustodyEvent.event == "opened")).first()
    assert api.client.get(f"/api/v1/evidence/{eid}/content", headers=api.as_("RS", Role.competent_authority)
                          ).status_code == 200


def test_disposal_erases_the_key_and_keeps_a_verifiable_chain(api):
    rid = new_request(api)["id"]
    data = os.urandom(3000)
    eid, _ = upload(api, rid, data)
    ca, dpo = api.as_("RS", Role.central_authority), api.as_("RS", Role.data_protection_officer)
    assert api.client.post(f"/api/v1/evidence/{eid}/dispose", json={"reason": "x"},
                           headers=api.as_("RS", Role.competent_authority)).status_code == 403
    r = api.client.post(f"/api/v1/evidence/{eid}/dispose", json={"reason": "Retention period ended"}, headers=dpo)
    assert r.status_code == 200 and r.json()["status"] == "disposed"
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()  # the manifest remains
    assert api.client.get(f"/api/v1/evidence/{eid}/content", headers=ca).status_code == 409
    with api.sessionmaker() as db:
        ev = db.get(EvidenceFile, uuid.UUID(eid))
        assert ev.wrapped_key is None and not api.client.app.state.vault.storage.exists(ev.storage_name)
    custody = api.client.get(f"/api/v1/evidence/{eid}/custody", headers=ca).json()
    assert custody["intact"] and custody["events"][-1]["event"] == "disposed"


def test_case_export_is_accepted_by_case_validate(api, database_url, tmp_path):
    import json
    import shutil
    import subprocess
    import sys

    from tests.conftest import run_cli

    rid = new_request(api)["id"]
    upload(api, rid, b"subscriber: Jane Roe, +381 60 000 0000")
    eid, _ = upload(api, rid, os.urandom(2000))
    api.client.get(f"/api/v1/evidence/{eid}/content", headers=api.as_("RS", Role.central_authority))
    out = tmp_path / "case.json"
    r = run_cli("evidence", "export-case", rid, "--out", str(out), env={"EVIDEX_DATABASE_URL": database_url})
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    types = [o["@type"] for o in doc["@graph"]]
    assert types.count("uco-observable:File") == 2 and "case-investigation:Investigation" in types
    # produced, sealed ×2, opened, and the export itself ×2 (a custody event of each file)
    assert types.count("case-investigation:InvestigativeAction") == 7
    assert sorted(o["uco-core:name"] for o in doc["@graph"] if o["@type"].endswith("InvestigativeAction")) == \
        ["exported", "exported", "opened", "produced", "produced", "sealed", "sealed"]
    assert "Conditions" not in r.stderr and "2 file(s) recorded as exported" in r.stdout
    # The investigation is named by its case (reference and title), the request's uuid kept as identifier.
    from evidex.cases.models import Case
    from evidex.requests.models import Request as RequestRow

    with api.sessionmaker() as db:
        case = db.execute(sa.select(Case).join(RequestRow, RequestRow.case_id == Case.id)
                          .where(RequestRow.id == uuid.UUID(rid))).scalar_one()
    (inv,) = [o for o in doc["@graph"] if o["@type"] == "case-investigation:Investigation"]
    assert inv["uco-core:name"] == f"{case.reference}: Phishing" and case.reference.startswith("K-")
    assert inv["@id"] == f"kb:investigation-{rid}" and rid in inv["uco-core:description"]
    validator = shutil.which("case_validate") or str(__import__("pathlib").Path(sys.executable).parent / "case_validate")
    v = subprocess.run([validator, str(out)], capture_output=True, text=True, timeout=120)
    assert v.returncode == 0 and "Conforms: True" in v.stdout, v.stdout[:3000] + v.stderr[-2000:]


def test_binding_conditions_are_shown_with_every_access(api):
    req = new_request(api)
    rid = req["id"]
    ca, ca2 = api.as_("RS", Role.central_authority), api.as_("RS", Role.central_authority, "-2")
    for who, ev in ((ca, "check"), (ca2, "approve"), (ca, "send_outside")):
        assert api.client.post(f"/api/v1/requests/{rid}/transitions", json=transition_body(ev),
                               headers=who).status_code == 200
    api.client.post(f"/api/v1/requests/{rid}/transitions", headers=ca, json={
        "event": "record_conditions", "conditions": [{"kind": "use_limitation", "text": "Само за предмет VTK-1"}]})
    assert api.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": "accept_conditions"},
                           headers=ca).status_code == 200
    eid, _ = upload(api, rid, b"traffic data")
    state = api.client.get(f"/api/v1/evidence/{eid}", headers=ca).json()
    assert state["conditions"] == ["use_limitation: Само за предмет VTK-1 (ETS185 Art 28(2)(b))"]
    got = api.client.get(f"/api/v1/evidence/{eid}/content", headers=ca)
    import json as _json

    assert _json.loads(got.headers["X-Evidex-Conditions"]) == state["conditions"]


def test_custody_events_are_signed_by_the_node_and_a_rewritten_chain_is_caught(api):
    import dataclasses

    from evidex.evidence.service import custody_hash
    from evidex.exchange import keys

    app = api.client.app
    app.state.vault = dataclasses.replace(app.state.vault, signer=keys.generate("RS", "https://127.0.0.1"))
    rid = new_request(api)["id"]
    eid, _ = upload(api, rid, b"a disk image, in miniature")
    ca = api.as_("RS", Role.central_authority)
    custody = api.client.get(f"/api/v1/evidence/{eid}/custody", headers=ca).json()
    assert custody["intact"], custody["problems"]
    # A forger with database access rewrites an event and recomputes every hash after it; the chain links
    # again, but the node's signatures no longer match.
    with api.sessionmaker() as db:
        rows = db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == uuid.UUID(eid))
                          .order_by(CustodyEvent.seq)).scalars().all()
        prev = "0" * 64
        for e in rows:
            if e.seq == 1:
                e.actor = "someone-else"
            e.prev_hash = prev
            e.hash = custody_hash(e.evidence_id, e.seq, e.event, e.actor, e.party, e.at, e.hash_before, e.hash_after,
                                  e.details, e.prev_hash)
            prev = e.hash
        db.commit()
    custody = api.client.get(f"/api/v1/evidence/{eid}/custody", headers=ca).json()
    assert not custody["intact"]
    assert all("not signed by this node" in p for p in custody["problems"]) and len(custody["problems"]) == 2


def test_onward_transfer_needs_the_supplying_partys_recorded_authorisation(api):
    """CETS224 Art 14(10): data RS received from SI go on to a third State only with SI's authorisation."""
    rid = new_request(api)["id"]  # RS → SI: what is stored on it was supplied by SI
    data = b"subscriber: Jane Roe"
    eid, _ = upload(api, rid, data)
    ca = api.as_("RS", Role.central_authority)
    ask = {"recipient": "Republic of Moldova", "purpose": "Joint investigation MD-2026-77"}
    r = api.client.post(f"/api/v1/evidence/{eid}/onward-transfers", json=ask, headers=ca)
    assert r.status_code == 403 and "CETS224 Art 14(10)" in r.json()["detail"] and "SI" in r.json()["detail"]
    grant = {"recipient": "Republic of Moldova", "purpose": "Joint investigation MD-2026-77",
             "reference": "SI Ministry of Justice letter 2026/4411"}
    assert api.client.post(f"/api/v1/requests/{rid}/onward-authorisations", json=grant,
                           headers=api.as_("RS", Role.contact_24_7)).status_code == 403  # not this role
    rec = api.client.post(f"/api/v1/requests/{rid}/onward-authorisations", json=grant, headers=ca)
    assert rec.status_code == 201 and rec.json()["granted_by"] == "SI"
    assert [a["reference"] for a in api.client.get(f"/api/v1/requests/{rid}/onward-authorisations",
                                                   headers=ca).json()] == [grant["reference"]]
    other = api.client.post(f"/api/v1/evidence/{eid}/onward-transfers", headers=ca,
                            json={"recipient": "Another State", "purpose": "x"})
    assert other.status_code == 403  # the authorisation names its recipient
    copy = api.client.post(f"/api/v1/evidence/{eid}/onward-transfers", json={**ask, "recipient": "republic of moldova"},
                           headers=ca)
    assert copy.status_code == 200 and copy.content == data
    assert json.loads(copy.headers["X-Evidex-Authorisation"]) == grant["reference"]
    events = api.client.get(f"/api/v1/evidence/{eid}/custody", headers=ca).json()["events"]
    assert events[-1]["event"] == "copied" and events[-1]["details"]["authorisation"] == grant["reference"]
    # RS's own data (an incoming request it answers) need no other Party's authorisation.
    incoming = api.client.post("/api/v1/requests", headers=ca, json={
        "case_id": new_request(api)["case_id"], "direction": "incoming",
        "document": document("mutual_assistance", "SI", "RS")})
    assert incoming.status_code == 201, incoming.text
    r = api.client.post(f"/api/v1/requests/{incoming.json()['id']}/onward-authorisations", json=grant, headers=ca)
    assert r.status_code == 409 and "needs no other Party's authorisation" in r.json()["detail"]


def test_retention_warns_then_disposes_unless_extended(api):
    """CETS224 Art 14(5): the Party's retention period (RS: 365 days) runs from sealing; a month before
    it ends the users are told to review; a reviewed file is kept longer; an unreviewed one is disposed of."""
    import datetime as dt

    from evidex.privacy.service import sweep_retention

    rid = new_request(api)["id"]
    eid, r = upload(api, rid, b"traffic data kept for a year")
    keep_id, _ = upload(api, rid, b"data still needed")
    ca, dpo = api.as_("RS", Role.central_authority), api.as_("RS", Role.data_protection_officer)
    sealed = dt.datetime.fromisoformat(r.json()["sealed_at"])
    end = dt.datetime.fromisoformat(r.json()["retain_until"])
    assert end == sealed + dt.timedelta(days=365)
    vault = api.client.app.state.vault

    def sweep(at):
        with api.sessionmaker() as db:
            return sweep_retention(db, vault=vault, now=at)

    sweep(end - dt.timedelta(days=40))
    sweep(end - dt.timedelta(days=10))
    sweep(end - dt.timedelta(days=9))  # warned once per file, however often the worker passes
    notes = [n for n in api.client.get("/api/v1/notifications?limit=200", headers=ca).json()["items"]
             if n["kind"] == "retention_review" and n["request_id"] == rid]
    assert len(notes) == 2 and all(n["article"] == "CETS224 Art 14(5)" for n in notes)
    api.clock.now = end - dt.timedelta(days=5)  # a year on: people log in afresh
    ca, dpo = api.as_("RS", Role.central_authority, "-review"), api.as_("RS", Role.data_protection_officer, "-review")
    until = (end + dt.timedelta(days=180)).isoformat()
    assert api.client.post(f"/api/v1/evidence/{keep_id}/retention", headers=api.as_("RS", Role.competent_authority),
                           json={"retain_until": until, "reason": "trial set for 2027"}).status_code == 403
    ext = api.client.post(f"/api/v1/evidence/{keep_id}/retention", headers=dpo,
                          json={"retain_until": until, "reason": "trial set for 2027"})
    assert ext.status_code == 200 and dt.datetime.fromisoformat(ext.json()["retain_until"]) > end
    assert api.client.post(f"/api/v1/evidence/{keep_id}/retention", headers=dpo,
                           json={"retain_until": "2020-01-01T00:00:00Z", "reason": "x"}).status_code == 422
    sweep(end + dt.timedelta(hours=1))
    gone = api.client.get(f"/api/v1/evidence/{eid}", headers=ca).json()
    kept = api.client.get(f"/api/v1/evidence/{keep_id}", headers=ca).json()
    assert (gone["status"], kept["status"]) == ("disposed", "sealed")
    custody = api.client.get(f"/api/v1/evidence/{eid}/custody", headers=ca).json()
    assert custody["intact"] and custody["events"][-1]["event"] == "disposed"
    assert "CETS224 Art 14(5)" in custody["events"][-1]["details"]["reason"]
    assert custody["events"][-1]["actor"] == "system"


def test_packages_need_a_federation_identity(api):
    rid = new_request(api)["id"]
    eid, _ = upload(api, rid, b"x")
    r = api.client.post(f"/api/v1/requests/{rid}/evidence-packages", json={"evidence_ids": [eid]},
                        headers=api.as_("RS", Role.central_authority))
    assert r.status_code == 409 and "federation identity" in r.json()["detail"]
    assert api.client.get(f"/api/v1/requests/{rid}/evidence-packages",
                          headers=api.as_("RS", Role.central_authority)).json() == []


def test_the_request_shows_one_custody_timeline_of_all_its_files(api):
    rid = new_request(api)["id"]
    first, _ = upload(api, rid, b"subscriber records")
    api.clock.now = api.clock.now + __import__("datetime").timedelta(minutes=5)
    second, _ = upload(api, rid, b"traffic data")
    ca = api.as_("RS", Role.central_authority)
    api.clock.now = api.clock.now + __import__("datetime").timedelta(minutes=5)
    api.client.get(f"/api/v1/evidence/{first}/content", headers=ca)
    timeline = api.client.get(f"/api/v1/requests/{rid}/custody", headers=ca).json()
    assert timeline["intact"] and [(e["file_name"], e["event"]) for e in timeline["events"]] == [
        ("mailbox.mbox", "produced"), ("mailbox.mbox", "sealed"), ("mailbox.mbox", "produced"),
        ("mailbox.mbox", "sealed"), ("mailbox.mbox", "opened")]
    assert [e["evidence_id"] for e in timeline["events"]] == [first, first, second, second, first]
    with api.sessionmaker() as db:
        row = db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == uuid.UUID(second))
                         .order_by(CustodyEvent.seq)).scalars().first()
        row.actor = "someone-else"
        db.commit()
    broken = api.client.get(f"/api/v1/requests/{rid}/custody", headers=ca).json()
    assert not broken["intact"] and broken["problems"][0].startswith("mailbox.mbox: custody event 1")
    assert api.client.get(f"/api/v1/requests/{rid}/custody", headers=api.as_("SI", Role.central_authority)
                          ).status_code == 404
