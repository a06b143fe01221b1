"""Evidence downloaded under its original name (RFC 6266, RFC 8187), on SQLite and PostgreSQL: a
hostile name never reaches the header as it is (no path, quote, CR/LF, control character)."""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from evidex.evidence.models import EvidenceFile
from evidex.parties.roles import Role
from tests.api.test_api import new_request

DATA = b"mailbox export"


def upload_named(api, rid: str, name: str) -> str:
    ca = api.as_("RS", Role.central_authority)
    r = api.client.post(f"/api/v1/requests/{rid}/evidence", headers=ca,
                        json={"name": name, "size": len(DATA), "sha256": hashlib.sha256(DATA).hexdigest()})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    assert api.client.put(f"/api/v1/evidence/{eid}/chunks/0", content=DATA,
                          headers={**ca, "Content-Type": "application/octet-stream"}).status_code == 200
    assert api.client.post(f"/api/v1/evidence/{eid}/complete", headers=ca).status_code == 200
    return str(eid)


def parse(header: str) -> tuple[str, str]:
    """(filename, filename*) of an attachment disposition, as a strict client reads them."""
    assert header.isascii() and "\r" not in header and "\n" not in header
    kind, plain, star = header.split("; ")
    assert kind == "attachment" and plain.startswith('filename="') and plain.endswith('"')
    assert star.startswith("filename*=UTF-8''")
    value = plain[len('filename="'):-1]
    assert '"' not in value and "\\" not in value
    return value, unquote(star[len("filename*=UTF-8''"):], encoding="utf-8", errors="strict")


@pytest.mark.parametrize(("name", "plain", "utf8"), [
    ("mailbox.mbox", "mailbox.mbox", "mailbox.mbox"),
    ("ž.pdf", "z.pdf", "ž.pdf"),
    ("Izveštaj o saobraćaju.csv", "Izvestaj o saobracaju.csv", "Izveštaj o saobraćaju.csv"),
    ("../../etc/passwd", "etc_passwd", "etc_passwd"),
    ("..\\..\\boot.ini", "boot.ini", "boot.ini"),
    ('a"b', "a_b", "a_b"),
    ("x\r\nSet-Cookie: s=1", "x_Set-Cookie_ s_1", "x__Set-Cookie_ s=1"),
    ("invoice\u202efdp.exe", "invoice_fdp.exe", "invoice_fdp.exe"),  # a right-to-left override hides .exe
])
def test_evidence_is_downloaded_under_its_name_made_safe(api, name, plain, utf8):
    rid = new_request(api)["id"]
    eid = upload_named(api, rid, name)
    got = api.client.get(f"/api/v1/evidence/{eid}/content", headers=api.as_("RS", Role.central_authority))
    assert got.status_code == 200 and got.content == DATA
    assert parse(got.headers["Content-Disposition"]) == (plain, utf8)


def test_a_long_name_keeps_its_extension_and_an_empty_one_falls_back_to_the_id(api):
    rid = new_request(api)["id"]
    ca = api.as_("RS", Role.central_authority)
    long_id = upload_named(api, rid, "ш" * 296 + ".pdf")
    plain, utf8 = parse(api.client.get(f"/api/v1/evidence/{long_id}/content", headers=ca).headers["Content-Disposition"])
    assert utf8 == "ш" * 146 + ".pdf" and len(utf8) == 150 and plain == f"{long_id}.pdf"
    latin_id = upload_named(api, rid, "a" * 290 + ".tar.gz")
    plain, utf8 = parse(api.client.get(f"/api/v1/evidence/{latin_id}/content", headers=ca)
                        .headers["Content-Disposition"])
    assert plain == utf8 == "a" * 147 + ".gz"
    for hostile in ("\r\n", " .. ", "///"):
        eid = upload_named(api, rid, hostile)
        assert parse(api.client.get(f"/api/v1/evidence/{eid}/content", headers=ca)
                     .headers["Content-Disposition"]) == (eid, eid)
    # A file received from another node may carry a name no upload here would accept: none at all.
    with api.sessionmaker() as db:
        db.execute(sa.update(EvidenceFile).where(EvidenceFile.id == uuid.UUID(eid)).values(name=""))
        db.commit()
    assert parse(api.client.get(f"/api/v1/evidence/{eid}/content", headers=ca)
                 .headers["Content-Disposition"]) == (eid, eid)
