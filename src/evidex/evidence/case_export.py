"""CASE/UCO export (JSON-LD) of a request's evidence: the files with their hashes, a provenance
record per file, the custody events as investigative actions with their performers, and the
binding conditions of transfer embedded in the export (ETS185 Art 28(2); CETS224 Art 14(2))."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from evidex.audit import service as audit
from evidex.cases import service as cases
from evidex.cases.models import Case
from evidex.core.db import command
from evidex.core.errors import NotFound
from evidex.evidence import service as evidence
from evidex.evidence.models import CustodyEvent, EvidenceFile
from evidex.parties.roles import Principal
from evidex.requests.models import Request, RequestCondition

CONTEXT = {
    "kb": "http://example.org/kb/",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def _dt(value: Any) -> dict[str, str]:
    return {"@type": "xsd:dateTime", "@value": value.isoformat()}


def build_case(db: Session, *, party: str, request_id: uuid.UUID) -> dict[str, Any]:
    found = db.execute(sa.select(Request, Case).join(Case, Case.id == Request.case_id)
                       .where(Request.id == request_id, Request.party == party)).one_or_none()
    if found is None:
        raise NotFound("request not found")
    req, case = found
    conditions = [f"{c.kind}: {c.text}" + (f" ({c.article})" if c.article else "")
                  for c in db.execute(sa.select(RequestCondition).where(
                      RequestCondition.request_id == req.id, RequestCondition.binding.is_(True))).scalars()]
    files = list(db.execute(sa.select(EvidenceFile).where(EvidenceFile.request_id == req.id)
                            .order_by(EvidenceFile.created_at)).scalars())
    graph: list[dict[str, Any]] = []
    identities: dict[str, str] = {}

    def identity(name: str, party_code: str) -> str:
        key = f"{party_code}:{name}"
        if key not in identities:
            identities[key] = f"kb:identity-{uuid.uuid5(uuid.NAMESPACE_URL, key)}"
            graph.append({"@id": identities[key], "@type": "uco-identity:Identity",
                          "uco-core:name": f"{name} ({party_code})"})
        return identities[key]

    inv_id = f"kb:investigation-{req.id}"
    objects: list[dict[str, str]] = []
    description = (f"{req.request_type} request {req.requesting_party}→{req.requested_party}; "
                   f"binding conditions: {'; '.join(conditions) or 'none recorded'}")
    for ev in files:
        file_id = f"kb:file-{ev.id}"
        facets: list[dict[str, Any]] = [{
            "@id": f"kb:file-facet-{ev.id}", "@type": "uco-observable:FileFacet",
            "uco-observable:fileName": ev.name,
            "uco-observable:sizeInBytes": {"@type": "xsd:integer", "@value": str(ev.declared_size)},
        }]
        if ev.sha256:
            facets.append({"@id": f"kb:content-data-facet-{ev.id}", "@type": "uco-observable:ContentDataFacet",
                           "uco-observable:hash": [{"@id": f"kb:hash-{ev.id}", "@type": "uco-types:Hash",
                                                    "uco-types:hashMethod": "SHA256",
                                                    "uco-types:hashValue": {"@type": "xsd:hexBinary",
                                                                            "@value": ev.sha256}}]})
        graph.append({"@id": file_id, "@type": "uco-observable:File", "uco-core:hasFacet": facets})
        prov_id = f"kb:provenance-record-{ev.id}"
        graph.append({"@id": prov_id, "@type": "case-investigation:ProvenanceRecord",
                      "case-investigation:exhibitNumber": f"{req.id}/{ev.id}",
                      "uco-core:description": f"{ev.status}; {description}",
                      "uco-core:object": [{"@id": file_id}]})
        objects += [{"@id": file_id}, {"@id": prov_id}]
        for c in db.execute(sa.select(CustodyEvent).where(CustodyEvent.evidence_id == ev.id)
                            .order_by(CustodyEvent.seq)).scalars():
            action_id = f"kb:investigative-action-{uuid.uuid5(ev.id, str(c.seq))}"  # ids end with a UUID (UCO)
            graph.append({
                "@id": action_id, "@type": "case-investigation:InvestigativeAction",
                "uco-core:name": c.event,
                "uco-core:description": f"custody event {c.seq} (chain hash {c.hash}); before {c.hash_before}, "
                                        f"after {c.hash_after}",
                "uco-action:startTime": _dt(c.at), "uco-action:endTime": _dt(c.at),
                "uco-action:performer": {"@id": identity(c.actor, c.party)},
                "uco-action:object": [{"@id": file_id}],
                "uco-action:result": [{"@id": prov_id}],
            })
            objects.append({"@id": action_id})
    # Investigators know the case by its reference (ETS185 Art 25(1): the specific investigation);
    # the request's uuid stays, in the @id and the description, to find the record in evidex.
    graph.insert(0, {"@id": inv_id, "@type": "case-investigation:Investigation",
                     "uco-core:name": f"{case.reference}: {case.title}",
                     "uco-core:description": f"case {case.reference} ({case.title}), evidex request {req.id}: "
                                             f"{description}",
                     "uco-core:object": objects})
    return {"@context": CONTEXT, "@graph": graph}


@command
def export_case(db: Session, *, actor: Principal, vault: evidence.Vault, request_id: uuid.UUID, target: str,
                now: dt.datetime, write: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], int]:
    """The CASE/UCO document of a request `actor` may see, for `target` (a file, a download): the
    export is first recorded as a custody event of each sealed file, so the document shows it too,
    and audited, in one transaction. `write` keeps the document before the commit: an export that
    could not be written is not recorded. Returns the document and how many files were recorded."""
    evidence.may_open(actor)  # it hands over the files' records: who may open them (evidence.OPENERS)
    req = cases.get_request(db, actor=actor, request_id=request_id, audit_read=False)  # same visibility
    n = evidence.record_export(db, actor=actor, vault=vault, request_id=req.id, target=target, now=now)
    doc = build_case(db, party=actor.party, request_id=req.id)
    audit.record(db, actor=actor, action="evidence.export_case", object_type="request", object_id=str(req.id),
                 at=now, details={"out": target, "files": n})
    if write is not None:
        write(doc)
    return doc, n
