"""Who is looking at a page, in which language, and how a page is answered: the base context every
template needs (viewer, CSRF token, navigation for the role), the sign-in redirect, and error pages
in the viewer's language (never a stack trace)."""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from evidex.api.deps import NowDep, SessionDep
from evidex.core.errors import Conflict, EvidexError, Forbidden, NotFound, TooManyRequests, Unavailable
from evidex.parties.roles import Principal, Role
from evidex.parties.service import AuthError, principal_of, resolve_token
from evidex.requests.lifecycle import TransitionNotAllowed
from evidex.web import i18n, law_text, templates
from evidex.web.i18n import _, lazy
from evidex.web.security import ANON_COOKIE, CSRF_FIELD, CSRF_HEADER, LANG_COOKIE, SESSION_COOKIE, WebSecurity

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ALL_PEOPLE = frozenset(r for r in Role if r is not Role.system)
WRITERS = frozenset({Role.competent_authority, Role.central_authority, Role.contact_24_7})


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # an English msgid, translated when shown
    roles: frozenset[Role]


# The main navigation, in order. A page appears here when it exists (and only for the roles that may open it).
NAVIGATION: list[NavItem] = [
    NavItem("/", lazy("Dashboard"), ALL_PEOPLE),
    NavItem("/requests", lazy("Requests"), ALL_PEOPLE),
    NavItem("/requests/new", lazy("New request"), WRITERS),
    NavItem("/parties", lazy("Parties"), ALL_PEOPLE),
    NavItem("/law", lazy("The law"), ALL_PEOPLE),
    NavItem("/audit", lazy("Audit log"), frozenset({Role.data_protection_officer, Role.administrator})),
    NavItem("/admin/users", lazy("Users"), frozenset({Role.administrator})),
    NavItem("/admin/outbox", lazy("Outbox"), frozenset({Role.administrator})),
]


@dataclass
class Viewer:
    """The person looking at the page (or nobody yet), the language and the CSRF binding."""

    principal: Principal | None
    display_name: str
    session_token: str | None
    locale: str
    csrf_binding: str
    new_anonymous_binding: bool = False
    cookies: list[tuple[str, str, int | None]] = field(default_factory=list)  # set on the answer

    @property
    def signed_in(self) -> bool:
        return self.principal is not None


class SignInRequired(Exception):
    """A page for signed-in people was asked for without a valid session: go to the sign-in page."""


class CsrfRejected(Exception):
    """A form posted without its CSRF token, or with one bound to another session."""


def web_security(request: Request) -> WebSecurity:
    sec: WebSecurity = request.app.state.web_security
    return sec


async def read_form(request: Request) -> None:
    """Unsafe methods: read the form (bounded by the edge's body limit) so its CSRF token can be checked
    before anything else runs; Starlette keeps it for the route's own Form fields."""
    if request.method not in SAFE_METHODS and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        request.state.form = await request.form()


def get_viewer(request: Request, db: SessionDep, now: NowDep, _form: Annotated[None, Depends(read_form)]) -> Viewer:
    sec = web_security(request)
    token = request.cookies.get(sec.cookie_name(SESSION_COOKIE))
    principal: Principal | None = None
    display_name = ""
    user_locale: str | None = None
    if token:
        try:
            cred = resolve_token(db, token=token, now=now)
        except AuthError:
            cred = None
        if cred is not None and cred.kind == "session":
            principal = principal_of(cred.user)
            display_name = cred.user.display_name
            user_locale = cred.user.locale
        else:
            token = None
    chosen = request.cookies.get(LANG_COOKIE)
    locale = (user_locale if user_locale in i18n.LOCALES else None) or (
        chosen if chosen in i18n.LOCALES else None) or i18n.negotiate(request.headers.get("accept-language"))
    binding, new = token, False
    if binding is None:
        binding = request.cookies.get(sec.cookie_name(ANON_COOKIE))
        if not binding or len(binding) > 64:
            binding, new = sec.new_anonymous_binding(), True
    viewer = Viewer(principal, display_name, token, locale, binding, new)
    if request.method not in SAFE_METHODS:
        check_csrf(request, viewer, sec)
    return viewer


def check_csrf(request: Request, viewer: Viewer, sec: WebSecurity) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = getattr(request.state, "form", None)
        if form is not None:
            sent = form.get(CSRF_FIELD)
    if viewer.new_anonymous_binding or not sec.csrf_valid(viewer.csrf_binding, sent if isinstance(sent, str) else None):
        raise CsrfRejected()


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def signed_in(viewer: ViewerDep) -> Viewer:
    if viewer.principal is None:
        raise SignInRequired()
    return viewer


SignedIn = Annotated[Viewer, Depends(signed_in)]


def principal(viewer: Viewer) -> Principal:
    assert viewer.principal is not None  # only called on SignedIn viewers
    return viewer.principal


def require_role(viewer: Viewer, *roles: Role) -> Principal:
    """The same role rule as the API route's `require(...)`: another role gets the 403 page."""
    who = principal(viewer)
    if who.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(r.value for r in roles)}")
    return who


def page(request: Request, viewer: Viewer, name: str, *, title: str, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    """Answer with the page `name` for `viewer`, in the viewer's language."""
    sec = web_security(request)
    role = viewer.principal.role if viewer.principal else None
    here = request.url.path
    mine = [item for item in NAVIGATION if role in item.roles]
    # The one entry the page belongs to: the longest path it is under (/requests/new is "New request",
    # not also "Requests").
    under = [item.path for item in mine if here == item.path or (item.path != "/" and here.startswith(item.path + "/"))]
    current = max(under, key=len, default=None)
    with i18n.using(viewer.locale):
        nav = [{"href": item.path, "text": _(item.label), "active": item.path == current} for item in mine]
    response = templates.render(request, name, {
        **law_text.helpers(request.app.state.law, viewer.locale), "node_party": request.app.state.settings.node_party,
        "tz": node_timezone(request), "viewer": viewer, "title": title, "csrf_token": sec.csrf_token(viewer.csrf_binding), "csrf_field": CSRF_FIELD,
        "navigation": nav, "current_path": request.url.path,
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        **context}, locale=viewer.locale, status_code=status_code)
    finish(response, viewer, sec)
    return response


def node_timezone(request: Request) -> str:
    """Times are shown in the node Party's time zone (its profile), as its deadlines are counted."""
    tz: str = request.app.state.law.party_timezones().get(request.app.state.settings.node_party, "UTC")
    return tz


def finish(response: Response, viewer: Viewer, sec: WebSecurity) -> None:
    if viewer.new_anonymous_binding:
        response.set_cookie(sec.cookie_name(ANON_COOKIE), viewer.csrf_binding,
                            **sec.cookie_options(max_age=None))  # type: ignore[arg-type]


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)  # after a POST: the browser GETs the result


# --- error pages -----------------------------------------------------------------------------

def is_web_path(path: str) -> bool:
    return not path.startswith(("/api/", "/federation/", "/docs", "/redoc", "/openapi.json", "/static/"))


ERROR_TITLES = {
    400: lazy("The request could not be read"),
    403: lazy("You cannot do this"),
    404: lazy("Page not found"),
    405: lazy("Page not found"),  # a form's address opened as a page: there is no page there
    409: lazy("This has changed meanwhile"),
    422: lazy("Please check what you entered"),
    429: lazy("Too many attempts"),
    500: lazy("Sorry, something went wrong"),
    503: lazy("The service is unavailable"),
}


# A refusal (Forbidden) in the reader's language: the domain's reason is English, for the log and the API,
# and is shown only as its technical details.
REFUSED = lazy("Your role, or the rules that apply here, do not allow you to do this. If you need to, ask an "
               "administrator of your Party.")


def error_page(request: Request, status_code: int, detail: str | None = None,
               headers: dict[str, str] | None = None, technical: str | None = None) -> HTMLResponse:
    """An error page in the viewer's language (`detail`: an English msgid, or a domain message shown as
    it is; `technical`: the domain's English reason, shown as technical details marked as English).
    Anonymous context: the error may have happened before the viewer was known, and an error page must
    not fail itself."""
    sec = web_security(request)
    chosen = request.cookies.get(LANG_COOKIE)
    locale = chosen if chosen in i18n.LOCALES else i18n.negotiate(request.headers.get("accept-language"))
    binding = request.cookies.get(sec.cookie_name(SESSION_COOKIE)) or request.cookies.get(
        sec.cookie_name(ANON_COOKIE)) or ""
    viewer = Viewer(None, "", None, locale, binding)
    with i18n.using(locale):
        title = _(ERROR_TITLES.get(status_code, ERROR_TITLES[500]))
        detail = _(detail) if detail else None
    response = templates.render(request, "error.html", {
        **law_text.helpers(request.app.state.law, locale), "node_party": request.app.state.settings.node_party,
        "viewer": viewer, "title": title, "status_code": status_code, "detail": detail, "technical": technical,
        "csrf_token": sec.csrf_token(binding) if binding else "", "csrf_field": CSRF_FIELD, "navigation": [],
        "current_path": request.url.path, "current_url": request.url.path}, locale=locale,
        status_code=status_code, headers=headers)
    return response


def install_error_pages(app: Any) -> None:
    """Answer web paths with HTML error pages; API paths keep their problem+json (api/errors.py)."""
    api_handlers = dict(app.exception_handlers)

    async def web_or_api(request: Request, exc: Exception) -> Response:
        if not is_web_path(request.url.path):
            for cls in type(exc).__mro__:
                handler = api_handlers.get(cls)
                if handler is not None:
                    return await handler(request, exc)  # type: ignore[no-any-return]
            raise exc
        return web_error(request, exc)

    for cls in list(api_handlers):
        if cls != 500:  # Starlette keeps the last-resort handler under both 500 and Exception
            app.add_exception_handler(cls, web_or_api)
    for cls in (SignInRequired, CsrfRejected):
        app.add_exception_handler(cls, web_or_api)


def web_error(request: Request, exc: Exception) -> Response:
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    if isinstance(exc, SignInRequired):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method not in SAFE_METHODS:
            here = "/"  # a form's address is no page to come back to (GET there: 405); its fields are gone anyway
        if request.headers.get("hx-request"):  # an HTMX fragment: the whole page must go to sign-in
            return Response(status_code=204, headers={"HX-Redirect": "/sign-in?next=" + urllib.parse.quote(here)})
        return redirect("/sign-in?next=" + urllib.parse.quote(here))
    if isinstance(exc, CsrfRejected):
        return error_page(request, 403, lazy("This form has expired or did not come from this site. Go back, "
                                             "reload the page and try again."))
    if isinstance(exc, NotFound):
        return error_page(request, 404)
    if isinstance(exc, Forbidden):
        return error_page(request, 403, REFUSED, technical=str(exc))
    if isinstance(exc, Conflict | TransitionNotAllowed):  # as the API (api/errors.py): 409, not "check what you entered"
        return error_page(request, 409, str(exc))
    if isinstance(exc, AuthError):
        return redirect("/sign-in")
    if isinstance(exc, TooManyRequests):
        return error_page(request, 429, None, {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, Unavailable):  # as the API: the node cannot, whatever was asked (e.g. fonts missing)
        return error_page(request, 503, str(exc))
    if isinstance(exc, RequestValidationError):
        return error_page(request, 422)
    if isinstance(exc, HTTPException):
        return error_page(request, exc.status_code if exc.status_code in ERROR_TITLES else 500, None,
                          dict(exc.headers) if exc.headers else None)  # 405: its Allow
    if isinstance(exc, EvidexError):
        return error_page(request, 422, str(exc))
    log.exception("web page failed", exc_info=exc)
    return error_page(request, 500)

