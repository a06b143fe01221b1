"""Evidence in the browser: the files of a request (with a plain upload form, enhanced by the resumable
upload script), downloads, each file's custody timeline with its verification, the evidence packages
checked against their signed manifests, and the CASE/UCO export. The same services as
api/routes/evidence.py; the script itself talks to the chunk API (api/deps.py `Uploader`)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response, StreamingResponse

from evidex.api.deps import LawDep, NowDep, SessionDep
from evidex.api.disposition import content_disposition
from evidex.api.edge import FORM_UPLOAD_BYTES
from evidex.cases import service as cases
from evidex.core import crypto
from evidex.core.errors import Conflict, Invalid
from evidex.evidence import case_export, packages
from evidex.evidence import service as evidence
from evidex.evidence.models import EvidenceFile
from evidex.requests.models import Request as RequestRow
from evidex.web import i18n
from evidex.web.i18n import _, lazy
from evidex.web.page import SignedIn, Viewer, error_page, page, principal, redirect, require_role

router = APIRouter(include_in_schema=False)

# A stored file up to this size is read back and checked against its SHA-256 whenever its custody
# page opens (a second or so); a larger one when the officer asks (a link), not on every view.
AUTO_CHECK_BYTES = 64 * 1024 * 1024
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_NAME = 300  # evidence_files.name; the API's EvidenceStart allows the same

FILE_STATES = {
    "uploading": lazy("Uploading"),
    "receiving": lazy("Arriving"),
    "sealed": lazy("Sealed"),
    "rejected": lazy("Rejected"),
    "disposed": lazy("Disposed of"),
    "abandoned": lazy("Abandoned"),
}
FILE_STATE_COLOURS = {"sealed": "green", "uploading": "blue", "receiving": "blue", "rejected": "red",
                      "disposed": "grey", "abandoned": "yellow"}
FILE_STATE_HELP = {
    "rejected": lazy("What arrived did not match the SHA-256 declared for it: it was not sealed."),
    "disposed": lazy("The file was erased at the end of its retention or by decision; its record and custody remain."),
    "abandoned": lazy("No piece arrived for a long time: what had arrived was erased. Upload the file again."),
}
CUSTODY_EVENTS = {
    "produced": lazy("Produced (uploaded)"),
    "sealed": lazy("Sealed"),
    "opened": lazy("Opened (downloaded)"),
    "exported": lazy("Exported (CASE/UCO)"),
    "sent": lazy("Sent to the requesting Party's node"),
    "received": lazy("Received from the producing Party's node"),
    "verified": lazy("Verified against the signed manifest"),
    "copied": lazy("Copied for an onward transfer"),
    "disposed": lazy("Disposed of"),
}
CUSTODY_FINDINGS = {
    "missing_before": lazy("Events are missing before this one."),
    "unlinked": lazy("It does not link to the event before it."),
    "altered": lazy("It was changed after it was written."),
    "unsigned": lazy("Its signature by this node does not verify."),
}
PACKAGE_STATES = {
    "sending": lazy("Sending"),
    "sent": lazy("Sent, awaiting the receipt"),
    "receiving": lazy("Arriving"),
    "received": lazy("Received and verified"),
    "mismatch": lazy("Does not match its manifest"),
}
PACKAGE_STATE_COLOURS = {"sending": "blue", "sent": "blue", "receiving": "blue", "received": "green",
                         "mismatch": "red"}
NOTICES = {
    "uploaded": lazy("The file was uploaded and sealed."),
    "package_sent": lazy("The package is on its way: its signed manifest goes first, the files follow. The "
                         "other node checks each file against the manifest and answers with a signed receipt."),
}


def _vault(request: Request) -> evidence.Vault:
    vault: evidence.Vault = request.app.state.vault
    return vault


def _labels(viewer: Viewer) -> dict[str, Any]:
    """The state and event words of these pages, in the viewer's language."""
    with i18n.using(viewer.locale):
        return {
            "file_states": {k: _(v) for k, v in FILE_STATES.items()},
            "file_state_help": {k: _(v) for k, v in FILE_STATE_HELP.items()},
            "file_state_colours": FILE_STATE_COLOURS,
            "custody_events": {k: _(v) for k, v in CUSTODY_EVENTS.items()},
            "custody_findings": {k: _(v) for k, v in CUSTODY_FINDINGS.items()},
            "package_states": {k: _(v) for k, v in PACKAGE_STATES.items()},
            "package_state_colours": PACKAGE_STATE_COLOURS,
        }


# --------------------------------------------------------------------------- the files of a request
@router.get("/requests/{request_id}/evidence")
def files_page(request_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep,
               notice: str | None = None, evidence_id: uuid.UUID | None = None) -> Response:
    # As the API's evidence records and custody: any signed-in person; the services scope by Party and
    # role (404). Opening a file (download, export) is for evidence.OPENERS.
    return _files_page(request, viewer, db, request_id, notice=notice, uploaded=evidence_id)


def _files_page(request: Request, viewer: Viewer, db: Session, request_id: uuid.UUID, *, notice: str | None = None,
                uploaded: uuid.UUID | None = None, errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None, status_code: int = 200,
                chosen: list[str] | None = None) -> Response:
    actor = principal(viewer)
    vault = _vault(request)
    req = cases.get_request(db, actor=actor, request_id=request_id, audit_read=False)
    files = evidence.list_files(db, actor=actor, request_id=req.id, signer=vault.signer)
    node = request.app.state.node
    sent_or_received = [(p, packages.check_manifest(db, p, node), packages.receipts_of(db, p))
                        for p in packages.for_request(db, actor=actor, request_id=req.id)]
    just_uploaded = next((f.file for f in files if f.file.id == uploaded), None) if notice == "uploaded" else None
    # What may be sent to the requesting Party's node now (packages.create's rules): offered with the
    # files not sent yet ticked, or, after a refused form, those the person had ticked.
    law: cases.Law = request.app.state.law
    sendable = packages.sendable(db, actor=actor, req=req, node=node, lifecycle=law.lifecycle)
    # Or, where only the request's state stops it (lifecycle data_sending), why not, in words.
    held = packages.withheld(db, actor=actor, req=req, node=node, lifecycle=law.lifecycle)
    ticked = set(chosen) if chosen is not None else {str(ev.id) for ev in sendable if ev.package_id is None}
    # The viewer's own unfinished uploads: the script resumes one when the same file is chosen again.
    resumable = [{"id": str(f.file.id), "sha256": f.file.declared_sha256, "size": f.file.declared_size,
                  "name": f.file.name}
                 for f in files if f.file.status == "uploading" and f.file.created_by == actor.user_id]
    with i18n.using(viewer.locale):
        title = _("Evidence")
        banner = _(NOTICES[notice]) if notice == "uploaded" and just_uploaded is not None else None
        sent_banner = _(NOTICES[notice]) if notice == "package_sent" and sent_or_received else None
        script_texts = _upload_texts()
        withheld = _withheld_text(law, req, held, viewer.locale) if held is not None else None
    return page(request, viewer, "evidence/files.html", title=title, req=req, files=files,
                packages=sent_or_received, conditions=evidence.binding_conditions(db, req.id),
                sendable=sendable, ticked=ticked, sent_banner=sent_banner, withheld=withheld,
                can_upload=actor.role in evidence.PRODUCERS, can_open=actor.role in evidence.OPENERS,
                banner=banner, just_uploaded=just_uploaded,
                resumable=json.dumps(resumable), script_texts=json.dumps(script_texts, ensure_ascii=False),
                form_limit=FORM_UPLOAD_BYTES, errors=errors or {}, values=values or {},
                error_list=[{"text": text, "href": f"#{field}"} for field, text in (errors or {}).items()],
                error_count=len(errors or {}), status_code=status_code, **_labels(viewer))


def _withheld_text(law: cases.Law, req: RequestRow, held: packages.DataWithheld, locale: str) -> str:
    """Why the data may not go now, in the viewer's language (call inside i18n.using(locale)): the
    state, the lifecycle data's reason and the article it rests on."""
    reason = law.texts.withheld_reason(held.because, locale) if held.because else held.reason
    if held.article:
        reason = f"{reason} ({held.article})"
    return _("No data can be sent to the node of %(party)s while the request is “%(state)s”: %(reason)s.",
             party=req.requesting_party, state=law.texts.state_label(req.status, locale), reason=reason)


def _upload_texts() -> dict[str, str]:
    """What the upload script says, translated here (the script has no catalog); `%(x)s` filled there."""
    return {
        "hashing": _("Computing the SHA-256 of %(name)s: %(percent)s%%"),
        "starting": _("Starting the upload of %(name)s"),
        "progress": _("%(percent)s%% uploaded (%(done)s of %(total)s)"),
        "resuming": _("Resuming the upload of %(name)s from %(percent)s%%"),
        "sealing": _("All pieces arrived: checking the SHA-256 and sealing"),
        "done": _("Uploaded and sealed. SHA-256 computed by the server: %(sha256)s"),
        "lost": _("The connection was lost at %(percent)s%%. The upload resumes where it stopped: "
                  "nothing already sent is sent again."),
        "retrying": _("Trying again in %(seconds)s seconds"),
        "failed": _("The upload stopped: %(detail)s"),
        "signed_out": _("Your session has ended. Sign in again in another tab, then resume the upload."),
        "mismatch": _("The SHA-256 you entered is not the SHA-256 of the selected file (%(sha256)s). "
                      "Check the file or the value."),
        "choose": _("Select a file to upload"),
    }


@router.post("/requests/{request_id}/evidence")
def upload(request_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep, now: NowDep) -> Response:
    """The upload without the script: the whole file in the form (up to FORM_UPLOAD_BYTES, the edge's
    limit for this route), stored through the chunk API's own steps (evidence.upload_file)."""
    actor = require_role(viewer, *evidence.PRODUCERS)  # start_upload's rule (the API route's service)
    form = request.state.form
    chosen = form.get("file")
    declared = str(form.get("sha256") or "").strip().lower()
    errors: dict[str, str] = {}
    with i18n.using(viewer.locale):
        if not isinstance(chosen, UploadFile) or not chosen.filename:
            errors["file"] = _("Select a file to upload")
        elif (chosen.size or 0) == 0:
            errors["file"] = _("The selected file is empty")
        elif len(_base_name(chosen.filename)) > MAX_NAME:
            errors["file"] = _("The file name is longer than %(max)s characters: rename the file, then upload it",
                               max=MAX_NAME)
        if declared and not HEX64.match(declared):
            errors["sha256"] = _("Enter the SHA-256 as 64 characters from 0 to 9 and a to f, or leave it empty")
    values = {"sha256": declared}
    if errors:
        return _files_page(request, viewer, db, request_id, errors=errors, values=values, status_code=422)
    assert isinstance(chosen, UploadFile) and chosen.filename
    try:
        ev = evidence.upload_file(db, actor=actor, vault=_vault(request), request_id=request_id,
                                  name=_base_name(chosen.filename),
                                  media_type=(chosen.content_type or "application/octet-stream")[:120],
                                  source=chosen.file, declared_sha256=declared or None, now=now)
    except Invalid as e:  # over a limit or quota, or not the declared SHA-256 (then rejected and recorded)
        return _files_page(request, viewer, db, request_id, errors={"file": str(e)}, values=values, status_code=422)
    return redirect(f"/requests/{request_id}/evidence?notice=uploaded&evidence_id={ev.id}")


@router.post("/requests/{request_id}/evidence-packages")
def send_package(request_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep, now: NowDep,
                 law: LawDep) -> Response:
    """The files ticked, in a package to the requesting Party's node: POST /api/v1/requests/{id}/evidence-packages
    (packages.create: a manifest signed by this node, queued in the outbox; the files follow)."""
    actor = require_role(viewer, *evidence.PRODUCERS)  # packages.create's rule
    chosen = [str(v) for v in request.state.form.getlist("evidence_id")]
    with i18n.using(viewer.locale):
        ids: list[uuid.UUID] = []
        for value in chosen:
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                ids = []
                break
        problem, status_code = (None, 200) if ids else (_("Select at least one file to send"), 422)
        field = "send-files"
        if ids:
            try:
                packages.create(db, actor=actor, vault=_vault(request), node=request.app.state.node,
                                request_id=request_id, evidence_ids=ids, now=now, lifecycle=law.lifecycle)
            except packages.DataWithheld as e:  # the request's state (e.g. changed since the page was shown)
                req = cases.get_request(db, actor=actor, request_id=request_id, audit_read=False)
                problem = _("The package was not sent: %(reason)s", reason=_withheld_text(law, req, e, viewer.locale))
                field, status_code = "send-withheld", 409
            except (Invalid, Conflict) as e:  # a file not sealed or not of this request, no identity, no peer
                problem = _("The package was not sent: %(reason)s", reason=str(e))
                status_code = 409 if isinstance(e, Conflict) else 422
        if problem is not None:
            return _files_page(request, viewer, db, request_id, errors={field: problem},
                               status_code=status_code, chosen=chosen)
    return redirect(f"/requests/{request_id}/evidence?notice=package_sent#packages-heading")


def _base_name(name: str) -> str:
    """The name without any folder a browser may send with it (`C:\\fakepath\\x`, `a/b`)."""
    return re.split(r"[\\/]", name)[-1].strip() or "file"


# --------------------------------------------------------------------------- download, export
@router.get("/evidence/{evidence_id}/download")
def download(evidence_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep, now: NowDep) -> Response:
    """The file under its original name (made safe), verified against its SHA-256 before a byte is
    sent, the opening recorded in custody and in the audit log: api/routes/evidence.py `content`."""
    actor = principal(viewer)
    try:
        ev, stream = evidence.open_content(db, actor=actor, vault=_vault(request), evidence_id=evidence_id, now=now)
    except crypto.IntegrityError as e:
        with i18n.using(viewer.locale):
            detail = _("The stored file no longer matches its SHA-256, so it was not sent: %(detail)s. "
                       "Tell your node's administrator and the data protection officer.", detail=str(e))
        return error_page(request, 409, detail)
    conditions = evidence.binding_conditions(db, ev.request_id)
    return StreamingResponse(stream, media_type="application/octet-stream",
                             headers={"X-Evidex-SHA256": ev.sha256 or "",
                                      "X-Evidex-Conditions": json.dumps(conditions),
                                      "Content-Disposition": content_disposition(ev.name, fallback=str(ev.id))})


@router.get("/requests/{request_id}/evidence/case.jsonld")
def export(request_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep, now: NowDep) -> Response:
    """The CASE/UCO record of the request's evidence (as `evidex evidence export-case`): the export
    is a custody event of each sealed file, and audited."""
    actor = principal(viewer)
    doc, _n = case_export.export_case(db, actor=actor, vault=_vault(request), request_id=request_id,
                                      target=f"download by {actor.username} ({actor.party}), web", now=now)
    return JSONResponse(doc, media_type="application/ld+json", headers={
        "Content-Disposition": content_disposition(f"case-uco-{request_id}.jsonld", fallback=str(request_id))})


# --------------------------------------------------------------------------- custody
@router.get("/evidence/{evidence_id}/custody")
def custody_page(evidence_id: uuid.UUID, request: Request, viewer: SignedIn, db: SessionDep,
                 check: bool = False) -> Response:
    """A file's chain of custody, each link verified (api/routes/evidence.py `custody`), and the stored
    file read back against its SHA-256 (small files always, large ones when asked)."""
    actor = principal(viewer)
    vault = _vault(request)
    report = evidence.custody_chain(db, actor=actor, evidence_id=evidence_id, signer=vault.signer)
    ev: EvidenceFile = evidence.get(db, actor=actor, evidence_id=evidence_id)
    checkable = ev.status == "sealed" and ev.sha256 is not None
    stored: dict[str, Any] | None = None
    if checkable and (check or ev.declared_size <= AUTO_CHECK_BYTES):
        try:
            stored = {"problem": evidence.verify_stored(db, actor=actor, vault=vault, evidence_id=ev.id)}
        except Conflict:
            stored = None
    by_seq: dict[int, list[str]] = {}
    labels = _labels(viewer)
    for finding in report.findings:
        by_seq.setdefault(finding.seq, []).append(labels["custody_findings"][finding.kind])
    with i18n.using(viewer.locale):
        title = _("Custody of %(name)s", name=ev.name)
    return page(request, viewer, "evidence/custody.html", title=title, ev=ev, report=report, by_seq=by_seq,
                stored=stored, checkable=checkable, signed=vault.signer is not None,
                can_open=actor.role in evidence.OPENERS, **labels)
