"""Requests RS received and answered through the API, so that their histories give every letter of the
lifecycle (requests/data/lifecycle.yaml `letters`): an acknowledgement, a postponement and conditions on a
request for mutual assistance from SI, a refusal of another, and a preservation for ME confirmed and
renewed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from evidex.parties.roles import Role
from tests.factories import document
from tests.web.site import Site

REFUSAL_REASONS = "Die Auskunft würde die nationale Sicherheit gefährden — razlozi su dati u prilogu."
POSTPONEMENT_REASONS = "Execution now would prejudice the proceedings KT-RS 4411/2026 before the Higher Court."
CONDITION_TEXT = "The data may be used only in proceeding VTK-KTR-1127/2026 and not passed on."
PRESERVED_ON = "2026-11-20"


@dataclass(frozen=True)
class Answered:
    """Requests RS received and answered: their ids, and the event number of each letter kind."""

    mla: str  # acknowledged, postponed, then conditions proposed
    refused: str
    preservation: str
    letters: dict[str, tuple[str, int]]  # letter kind -> (request id, event number)
    headers: dict[str, str]  # RS's central authority, through the API


def incoming(node: Site, kind: str, requesting: str, headers: dict[str, str], **changes: Any) -> str:
    r = node.client.post("/api/v1/cases", json={"reference": f"IN-{uuid.uuid4().hex[:6]}", "title": "Received"},
                         headers=headers)
    assert r.status_code == 201, r.text
    doc = {**document(kind, requesting, "RS"), **changes}
    r = node.client.post("/api/v1/requests", json={"case_id": r.json()["id"], "document": doc, "direction": "incoming"},
                         headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def step(node: Site, rid: str, headers: dict[str, str], event: str, **body: Any) -> None:
    r = node.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": event, **body}, headers=headers)
    assert r.status_code == 200, r.text


def answer(node: Site) -> Answered:
    ca = node.api_headers("RS", Role.central_authority)
    mla = incoming(node, "mutual_assistance", "SI", ca)
    step(node, mla, ca, "acknowledge")  # event 2
    step(node, mla, ca, "postpone", grounds=["ETS185 Art 27(5)"], reasons=POSTPONEMENT_REASONS)  # 3
    step(node, mla, ca, "start_execution")  # 4
    step(node, mla, ca, "propose_conditions", conditions=[{"kind": "use_limitation", "text": CONDITION_TEXT}])  # 5
    refused = incoming(node, "mutual_assistance", "SI", ca)
    step(node, refused, ca, "acknowledge")
    step(node, refused, ca, "refuse", grounds=["ETS185 Art 27(4)(b)", "ETS185 Art 25(4)"], reasons=REFUSAL_REASONS)
    preservation = incoming(node, "preservation", "ME", ca)
    step(node, preservation, ca, "acknowledge")
    step(node, preservation, ca, "preserve", preserved_on=PRESERVED_ON)  # 3
    step(node, preservation, ca, "renew")  # 4
    return Answered(mla=mla, refused=refused, preservation=preservation, headers=ca, letters={
        "acknowledgement": (mla, 2), "postponement": (mla, 3), "conditions": (mla, 5), "refusal": (refused, 3),
        "preservation": (preservation, 3), "renewal": (preservation, 4)})
