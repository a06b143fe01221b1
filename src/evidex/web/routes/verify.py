"""The public verification page (issue 15 item 4): anyone — a provider's legal team, a court clerk —
uploads an official document and sees whether it is valid, altered (and what differs), sealed by a
signer this node does not trust (with the Party and authority the seal claims), or not sealed. No
sign-in: the form's CSRF token is bound to the browser's pre-session cookie, as sign-in's is; the
posts are limited per client address; each verification is recorded in the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from evidex.api.deps import NowDep, SessionDep, SettingsDep
from evidex.documents import verification
from evidex.documents.seal import MAX_PDF_BYTES, Difference, NotAPdf, Verification
from evidex.web import i18n
from evidex.web.i18n import _, lazy, ngettext
from evidex.web.page import Viewer, ViewerDep, page

router = APIRouter(include_in_schema=False)

NOT_READABLE = {
    "not_pdf": lazy("The selected file is not a PDF."),
    "too_large": lazy("The selected file is too large to be an official document of evidex."),
    "encrypted": lazy("The selected PDF is protected with a password, so it is not an official document of evidex."),
    "damaged": lazy("The selected PDF is damaged and cannot be read."),
    "no_pages": lazy("The selected PDF is damaged and cannot be read."),
}


# What differs, in words (documents/seal.py Difference.kind); the domain says it in English, for programs.
DIFFERENCES = {
    "signature": lazy("The seal itself was changed after it was signed."),
    "request": lazy("The request embedded in the document is not the one that was signed."),
    "request_field": lazy("The request embedded in the document differs from the signed one in %(field)s."),
    "page_count": lazy("The document has %(found)s pages; %(signed)s were signed."),
    "page_added": lazy("Page %(page)s was not signed."),
    "page_missing": lazy("Page %(page)s was signed but is missing."),
    "line_changed": lazy("Page %(page)s: “%(signed)s” now reads “%(found)s”."),
    "line_added": lazy("Page %(page)s: a line was added: “%(found)s”."),
    "line_removed": lazy("Page %(page)s: the signed line “%(signed)s” is missing."),
    "appearance": lazy("Page %(page)s: the text reads as signed, but what draws it was changed (fonts, drawings, "
                       "images or notes over the page), so what it shows may differ."),
    "document": lazy("Layers, form fields or actions of the document were changed."),
}
# A letter of the lifecycle (documents/letter.py) carries the letter, not a request.
LETTER_DIFFERENCES = {
    "request": lazy("The letter embedded in the document is not the one that was signed."),
    "request_field": lazy("The letter embedded in the document differs from the signed one in %(field)s."),
}


def _difference(d: Difference, letter: bool = False) -> dict[str, str | None]:
    """A difference in the reader's language, and the element (its label as the document prints it)
    or the request's field it is in."""
    where = d.label or d.field
    words = (LETTER_DIFFERENCES if letter else {}).get(d.kind) or DIFFERENCES[d.kind]
    return {"text": _(words, page=d.page, field=d.field, signed=d.signed, found=d.found),
            "where": _("Part of the request: %(name)s", name=where) if where and d.kind != "request_field" else None}


def _page(request: Request, viewer: Viewer, *, result: Verification | None = None, error: str | None = None,
          status_code: int = 200) -> Response:
    with i18n.using(viewer.locale):
        title = _("Verify an official document")
        differences = [_difference(d, result.kind == "letter") for d in result.differences] if result else []
        texts = request.app.state.law.texts
        letter_title = (texts.letter_title(result.letter, viewer.locale)
                        if result and result.letter and f"letter.{result.letter}" in texts.source else None)
        more = (ngettext("%(num)d more difference is not listed.", "%(num)d more differences are not listed.",
                         result.more_differences) if result and result.more_differences else None)
    return page(request, viewer, "verify.html", title=title, result=result, differences=differences, more=more,
                letter_title=letter_title,
                error=error, error_count=1 if error else 0, limit=MAX_PDF_BYTES, status_code=status_code)


@router.get("/verify")
def verify_form(request: Request, viewer: ViewerDep) -> Response:
    return _page(request, viewer)


@router.post("/verify")
def verify(request: Request, viewer: ViewerDep, db: SessionDep, now: NowDep, settings: SettingsDep) -> Response:
    client = request.client.host if request.client else "unknown"
    # Limited per address as sign-in is (each check reads up to 16 MB of PDF); beyond, the 429 page.
    verification.check_rate(db, client=client, now=now, per_address=settings.verify_limit_per_address,
                            window_seconds=settings.login_limit_window_seconds)
    chosen = request.state.form.get("file")
    data = chosen.file.read(MAX_PDF_BYTES + 1) if isinstance(chosen, UploadFile) and chosen.filename else None
    with i18n.using(viewer.locale):
        if data is None:
            return _page(request, viewer, error=_("Select a PDF to verify"), status_code=422)
        if not data:
            return _page(request, viewer, error=_("The selected file is empty"), status_code=422)
    try:
        result = verification.verify_document(
            db, pdf=data, actor=viewer.principal or verification.anonymous(settings.node_party), now=now,
            node=request.app.state.node, channel="web" if viewer.signed_in else "public page", client=client)
    except NotAPdf as e:
        with i18n.using(viewer.locale):
            message = _(NOT_READABLE.get(e.reason, NOT_READABLE["damaged"]))
        return _page(request, viewer, error=message, status_code=422)
    return _page(request, viewer, result=result)
