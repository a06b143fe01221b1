"""Who may open which page (issue 14, security): every route of the web application, taken from the
application itself, walked for every role, each answer compared with the API's answer to the same
person for the same data; another Party's user finds nothing (404, as for a missing id); no form is
taken without its CSRF token, and nothing changes; nobody signed in is sent to sign in. In process, on
requests in several states, their files and the demo's package received from a partner node, on SQLite
and PostgreSQL (a database of this module alone)."""

from __future__ import annotations

import contextlib
import re
import shutil
import urllib.parse
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from evidex.cases import service as cases
from evidex.cases.models import Case
from evidex.core.db import Base
from evidex.core.settings import Settings
from evidex.demo import evidence as evidence_demo
from evidex.evidence.models import CustodyEvent, EvidenceFile
from evidex.exchange import keys
from evidex.models import import_all_models
from evidex.node import build_node
from evidex.parties import service as users
from evidex.parties.models import User, UserSession
from evidex.parties.roles import PEOPLE_ROLES, Principal, Role
from evidex.parties.service import create_user, hash_token, principal_of
from evidex.requests.models import Request as RequestRow
from evidex.requests.models import RequestEvent
from evidex.web.page import is_web_path
from evidex.web.security import SESSION_COOKIE, safe_next
from evidex.web.site import create_site
from tests.api.conftest import PASSWORD, UNLIMITED, Clock
from tests.dbfixtures import postgres_database
from tests.factories import document, sent_outside
from tests.web.site import CSRF, Site
from tests.web.test_drafting import form_of

pytestmark = pytest.mark.slow  # about 20 s a database

HOME, OTHER = "RS", "SI"  # the node's Party, and another Party whose users have accounts on the node
ROLES = [r for r in Role if r in PEOPLE_ROLES]  # every role a person may hold
PROVIDER = "Zgled Mail d.o.o."  # tests/web/site.py gives a signed-in service provider this organisation
Params = dict[str, str]


# --------------------------------------------------------------------------- the world walked
@dataclass
class World:
    site: Site
    tokens: dict[tuple[str, Role], str]  # (Party, role) -> the session of a person signed in on the sign-in page
    requests: dict[str, uuid.UUID]  # a name -> a request of HOME
    files: dict[str, uuid.UUID]  # a name -> an evidence file of HOME
    case: uuid.UUID
    user: uuid.UUID  # a user of HOME
    verification: int  # the seq of a verification of the audit log, by HOME's data protection officer
    letter_event: int = 0  # the seq of an event that gives a letter (the acknowledgement of a received request)
    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)  # the API's, asked once
    scratch: dict[str, Any] = field(default_factory=dict)  # what a form made for itself

    def as_(self, token: str | None) -> None:
        """The browser of the person with this session (None: nobody signed in)."""
        self.site.client.cookies.clear()
        if token is not None:
            self.site.client.cookies.set(SESSION_COOKIE, token)

    def api(self, token: str, call: str) -> int:
        return self.api_answer(token, call)[0]

    def api_answer(self, token: str, call: str) -> tuple[int, Any]:
        """The API's answer to the same person (the web session is a Bearer token too). A command (POST,
        PUT) is probed with an empty body: refused by role (403) before the body is read, else 422 and
        nothing done."""
        if (token, call) not in self.answers:
            method, path = call.split(" ", 1)
            r = self.site.client.request(method, "/api/v1" + path, headers={"Authorization": f"Bearer {token}"},
                                         json={} if method in ("POST", "PUT") else None)
            assert r.status_code not in (401, 500), (call, r.status_code, r.text)
            body = r.json() if r.headers.get("content-type", "").endswith("json") else None
            self.answers[(token, call)] = (r.status_code, body)
        return self.answers[(token, call)]

    def who(self, token: str) -> tuple[str, Role]:
        return next(k for k, v in self.tokens.items() if v == token)

    def principal(self, party: str, role: Role) -> Principal:
        with self.site.sessionmaker() as db:
            return principal_of(db.execute(sa.select(User).join(UserSession, UserSession.user_id == User.id).where(
                UserSession.token_hash == hash_token(self.tokens[(party, role)]))).scalar_one())

    def credentials(self) -> dict[str, str]:
        """The sign-in form of a person of their own (a TOTP code counts once)."""
        name, secret = self.site.person(HOME, Role.central_authority, f"-{uuid.uuid4().hex[:6]}")
        return {"username": name, "password": PASSWORD, "totp_code": pyotp.TOTP(secret).at(self.site.clock.now),
                "next": "/"}

    def files_of(self, request_id: str) -> list[EvidenceFile]:
        with self.site.sessionmaker() as db:
            return list(db.execute(sa.select(EvidenceFile).where(
                EvidenceFile.request_id == uuid.UUID(request_id))).scalars())


def verdict(*statuses: int) -> int:
    """What the API said, all calls together: the first refusal (403, 404, 409), else allowed (200).
    A probe's 422 means the role passed and only the (empty) body was refused."""
    for s in statuses:
        if s in (403, 404, 409):
            return s
        assert s in (200, 201, 422), s
    return 200


Expect = Callable[[World, str, Params], int]


def as_api(*calls: str) -> Expect:
    """The answer of the API route(s) serving the same data, asked as the same person."""
    return lambda w, token, p: verdict(*(w.api(token, c.format(**p)) for c in calls))


def editable(w: World, token: str, p: Params) -> int:
    """GET /requests/{id}/edit: the role rule of PUT /api/v1/requests/{id}/document (probed), the
    request as GET /api/v1/requests/{id} finds it, then, as update_document, 409 unless it is an
    outgoing request still being drafted."""
    rid = p["request_id"]
    found = verdict(w.api(token, f"PUT /requests/{rid}/document"), w.api(token, f"GET /requests/{rid}"))
    if found != 200:
        return found
    req = w.api_answer(token, f"GET /requests/{rid}")[1]
    return 200 if req["direction"] == "outgoing" and req["status"] in cases.DOCUMENT_EDITABLE else 409


def listed(call: str, key: str, items: Callable[[Any], list[Any]], param: str) -> Expect:
    """An object page whose API has a list and no read of one: allowed as the list, and 404 for an
    object the list (of the person's Party) does not hold."""
    def expect(w: World, token: str, p: Params) -> int:
        status, body = w.api_answer(token, call)
        if status != 200:
            return verdict(status)
        return 200 if p[param] in {str(x[key]) for x in items(body)} else 404
    return expect


def case_export(w: World, token: str, p: Params) -> int:
    """GET /requests/{id}/evidence/case.jsonld has no API route (`evidex evidence export-case` runs as the
    node): it hands over the record of each sealed file of the request and is a custody event of each
    ('exported'), so it answers as GET /api/v1/evidence/{id}/content does for them."""
    if w.api(token, f"GET /evidence/{RANDOM}/content") == 403:  # refused by role, whatever the file
        return 403
    rid = p["request_id"]
    sealed = [f.id for f in w.files_of(rid) if f.status == "sealed"]
    found = w.api(token, f"GET /requests/{rid}/custody")
    assert sealed or found != 200, "walk the export on requests with sealed files"
    return verdict(found, *(w.api(token, f"GET /evidence/{f}/content") for f in sealed))


def node_administrator(w: World, token: str, p: Params) -> int:
    """No API route: the node's trust list and outbox are its own registry and keys, read by an
    administrator of the node's Party (MISSION.md roles; exchange.service._node_administrator, as
    `evidex peers list` and `evidex outbox status` on the node itself)."""
    return 200 if w.who(token) == (HOME, Role.administrator) else 403


@dataclass(frozen=True)
class Page:
    """A page (GET) of the web application: objects of HOME to open it with, and the answer to expect."""

    objects: Callable[[World], list[Params]]
    expect: Expect
    missing: Params | None = None  # an object page: the parameters of an object that does not exist
    headers: dict[str, str] = field(default_factory=dict)
    kind: str = "text/html"  # the media type of an answer 200


def requests(*names: str) -> Callable[[World], list[Params]]:
    return lambda w: [{"request_id": str(w.requests[n])} for n in names]


def files(*names: str) -> Callable[[World], list[Params]]:
    return lambda w: [{"evidence_id": str(w.files[n])} for n in names]


def nothing(w: World) -> list[Params]:
    return [{}]


REQUESTS = ("draft", "sent", "package", "emergency", "order")  # drafted, sent, executed; received, two providers
EVIDENCE_OF = ("sent", "package", "emergency", "order")  # uploaded; received in a package; none; the provider's
RANDOM = str(uuid.UUID("5ec00000-0000-4000-8000-000000000001"))  # no object has it

# Every GET route of the web application (its path as the router declares it) but the public ones: a
# route missing here fails the test, so a new page is walked as soon as it exists.
PAGES: dict[str, Page] = {
    "/": Page(nothing, as_api("GET /requests?limit=1", "GET /notifications?limit=1", "GET /deadlines?limit=1")),
    "/dashboard/emergencies": Page(nothing, as_api("GET /requests?sort=urgency&limit=1"),
                                   headers={"HX-Request": "true"}),  # an HTMX fragment (without: to the dashboard)
    "/requests": Page(lambda w: [{}, {"case": str(w.case)}], lambda w, t, p: verdict(
        w.api(t, "GET /requests?limit=1"), *([w.api(t, f"GET /cases/{p['case']}")] if p else [])),
        missing={"case": RANDOM}),  # the requests of a case
    "/requests/new": Page(nothing, as_api("POST /requests")),
    "/requests/{request_id:uuid}": Page(requests(*REQUESTS), as_api("GET /requests/{request_id}"),
                                        missing={"request_id": RANDOM}),
    "/requests/{request_id}/edit": Page(requests("draft", "sent", "order"), editable,
                                        missing={"request_id": RANDOM}),
    # The official document (documents/): as the API's, on a request a provider may see too (each opening renders).
    "/requests/{request_id:uuid}/document.pdf": Page(requests("order"),
                                                     as_api("GET /requests/{request_id}/document.pdf"),
                                                     missing={"request_id": RANDOM}, kind="application/pdf"),
    # The letter an event gives (documents/letter.py): as the API's.
    "/requests/{request_id:uuid}/letters/{event_id:int}.pdf": Page(
        lambda w: [{"request_id": str(w.requests["acknowledged"]), "event_id": str(w.letter_event)}],
        as_api("GET /requests/{request_id}/letters/{event_id}.pdf"),
        missing={"request_id": RANDOM, "event_id": "1"}, kind="application/pdf"),
    "/requests/{request_id}/evidence": Page(
        requests(*EVIDENCE_OF), as_api("GET /requests/{request_id}/custody",
                                      "GET /requests/{request_id}/evidence-packages"),
        missing={"request_id": RANDOM}),
    "/requests/{request_id}/evidence/case.jsonld": Page(requests("package", "order"), case_export,
                                                        missing={"request_id": RANDOM}, kind="application/ld+json"),
    "/evidence/{evidence_id}/download": Page(files("sent", "received", "order", "rejected"),
                                             as_api("GET /evidence/{evidence_id}/content"),
                                             missing={"evidence_id": RANDOM}, kind="application/octet-stream"),
    "/evidence/{evidence_id}/custody": Page(files("sent", "received", "order"),
                                            as_api("GET /evidence/{evidence_id}/custody"),
                                            missing={"evidence_id": RANDOM}),
    "/parties": Page(nothing, as_api("GET /parties")),
    "/parties/{code}": Page(lambda w: [{"code": "ME"}, {"code": "si"}, {"code": "XX"}], as_api("GET /parties/{code}")),
    # The law is public data (`evidex rules show` needs no account); of it the API serves the lifecycle,
    # to every signed-in person.
    "/law": Page(nothing, as_api("GET /lifecycle")),
    "/law/{request_type}": Page(lambda w: [{"request_type": "preservation"}], as_api("GET /lifecycle")),
    "/audit": Page(nothing, as_api("GET /audit?limit=1")),
    "/audit/verifications/{seq}": Page(
        lambda w: [{"seq": str(w.verification)}],
        listed("GET /audit?action=audit.verify&limit=200", "seq", lambda b: b["items"], "seq"),
        missing={"seq": "999999999"}),
    "/admin/users": Page(nothing, as_api("GET /users")),
    "/admin/users/new": Page(nothing, as_api("POST /users")),
    "/admin/users/{user_id}": Page(lambda w: [{"user_id": str(w.user)}], listed("GET /users", "id", list, "user_id"),
                                   missing={"user_id": RANDOM}),
    "/account": Page(nothing, as_api("GET /auth/me")),  # one's own account: every signed-in person
    "/admin/peers": Page(nothing, node_administrator),
    "/admin/outbox": Page(nothing, node_administrator),
}
PUBLIC_PAGES = {"/sign-in", "/second-factor", "/verify"}  # for everyone, signed in or not


def url_of(path: str, params: Params) -> str:
    """The URL of a route with these parameters (the route's path converters dropped; a parameter
    not in the path is a query)."""
    route = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", path)
    in_path = {k: v for k, v in params.items() if "{" + k + "}" in route}
    query = {k: v for k, v in params.items() if k not in in_path}
    return route.format(**in_path) + ("?" + urllib.parse.urlencode(query) if query else "")


# --------------------------------------------------------------------------- the forms (unsafe routes)
@dataclass(frozen=True)
class Form:
    """An unsafe route as a browser sends it: by whom, the fields (all but the CSRF token) of a form
    that does something with its token, where; `changes`: whether that leaves a trace in the database
    (refused, it must leave none)."""

    role: Role | None  # sent by a person of this role of HOME; None: by nobody signed in
    data: Callable[[World], dict[str, Any]]  # called first: it may make what the form acts on
    url: Callable[[World], str]
    files: dict[str, tuple[str, bytes, str]] | None = None
    changes: bool = True
    fresh: bool = False  # by a person of their own (signing out ends the session; a language is kept)


def drafting_form(w: World, url: str, **changes: str) -> dict[str, Any]:
    """The drafting form as its page gives it (fields and values), with `changes`."""
    page = w.site.client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    values = {k: v for k, v in form_of(page.text).values.items() if k != "csrf_token"}  # sent or not by the test
    return {**values, **changes}


def a_draft_to_check(w: World) -> dict[str, Any]:
    """A draft of its own to act on (the demo's are walked)."""
    actor = w.principal(HOME, Role.competent_authority)
    with w.site.sessionmaker() as db:
        case = cases.create_case(db, actor=actor, reference=f"K-{uuid.uuid4().hex[:8]}", title="Phishing",
                                 now=w.site.clock.now)
        req = cases.create_request(db, actor=actor, law=w.site.client.app.state.law,  # type: ignore[attr-defined]
                                   case_id=case.id, document=document("mutual_assistance", HOME, "SI"),
                                   now=w.site.clock.now)
        db.commit()
        w.scratch["draft"] = req.id
        return {"event": "check", "expected_version": str(req.version)}


def a_user_to_administer(w: World) -> uuid.UUID:
    if "target" not in w.scratch:
        name, _secret = w.site.person(HOME, Role.competent_authority, f"-target-{uuid.uuid4().hex[:6]}")
        with w.site.sessionmaker() as db:
            w.scratch["target"] = db.execute(sa.select(User.id).where(User.username == name)).scalar_one()
    return w.scratch["target"]  # type: ignore[no-any-return]


def user_action(action: str) -> Form:
    return Form(Role.administrator, lambda w: {"reason": "Left the unit."},
                lambda w: f"/admin/users/{a_user_to_administer(w)}/{action}",
                changes=action != "unlock")  # unlocking a user not locked changes nothing


# Every unsafe route of the web application (method, path as the router declares it): a route missing
# here fails the test.
def a_person_to_enrol(w: World) -> dict[str, str]:
    """A person of HOME whose second factor an administrator reset: they enrol again before sign-in."""
    name, _secret = w.site.person(HOME, Role.competent_authority, f"-enrol-{uuid.uuid4().hex[:6]}")
    with w.site.sessionmaker() as db:
        users.reset_second_factor(db, actor=w.principal(HOME, Role.administrator), user=name, reason="Phone lost.",
                                  now=w.site.clock.now)
        db.commit()
    return {"username": name, "password": PASSWORD}


PUBLIC_FORMS = {("POST", "/sign-in"), ("POST", "/sign-out"), ("POST", "/language"),
                ("POST", "/second-factor"), ("POST", "/verify")}  # taken from anybody
FORMS: dict[tuple[str, str], list[Form]] = {
    ("POST", "/sign-in"): [Form(None, lambda w: w.credentials(), lambda w: "/sign-in")],
    ("POST", "/sign-out"): [Form(Role.contact_24_7, lambda w: {}, lambda w: "/sign-out", fresh=True)],
    ("POST", "/language"): [Form(Role.competent_authority, lambda w: {"lang": "fr", "next": "/"},
                                 lambda w: "/language", fresh=True)],
    ("POST", "/second-factor"): [Form(None, a_person_to_enrol, lambda w: "/second-factor")],
    # A provider checks a document it received (no account): answered, and the check audited.
    ("POST", "/verify"): [Form(None, lambda w: {}, lambda w: "/verify",
                               files={"file": ("order.pdf", b"not a PDF at all", "application/pdf")})],
    ("POST", "/account/password"): [Form(Role.competent_authority, lambda w: {
        "current_password": PASSWORD, "new_password": "another passphrase 2026",
        "confirm_password": "another passphrase 2026"}, lambda w: "/account/password", fresh=True)],
    ("POST", "/notifications/read"): [Form(Role.central_authority, lambda w: {}, lambda w: "/notifications/read")],
    ("POST", "/requests/new"): [Form(Role.competent_authority, lambda w: drafting_form(
        w, "/requests/new?example=preservation", action="save", case="new",
        case_new_reference=f"K-{uuid.uuid4().hex[:8]}", case_new_title="Ransomware"), lambda w: "/requests/new")],
    ("POST", "/requests/new/check"): [Form(Role.competent_authority, lambda w: drafting_form(
        w, "/requests/new?example=preservation"), lambda w: "/requests/new/check", changes=False)],
    ("POST", "/requests/{request_id}/edit"): [Form(
        Role.central_authority, lambda w: drafting_form(w, f"/requests/{w.requests['draft']}/edit", action="save"),
        lambda w: f"/requests/{w.requests['draft']}/edit")],
    ("POST", "/requests/{request_id}/edit/check"): [Form(
        Role.central_authority, lambda w: drafting_form(w, f"/requests/{w.requests['draft']}/edit"),
        lambda w: f"/requests/{w.requests['draft']}/edit/check", changes=False)],
    ("POST", "/requests/{request_id:uuid}/transitions"): [Form(
        Role.central_authority, a_draft_to_check, lambda w: f"/requests/{w.scratch['draft']}/transitions")],
    ("POST", "/requests/{request_id:uuid}/review"): [Form(  # the 24/7 contact's emergency sent alone
        Role.central_authority, lambda w: {"reasons": "Seen."}, lambda w: f"/requests/{w.requests['alone']}/review")],
    ("POST", "/requests/{request_id}/evidence"): [Form(
        Role.central_authority, lambda w: {"sha256": ""}, lambda w: f"/requests/{w.requests['sent']}/evidence",
        files={"file": ("traffic.log", b"10.0.0.1 -> 203.0.113.7:443", "text/plain")})],
    # Sending evidence to the requesting node (its success between nodes: test_evidence_package_form.py and
    # the browser journey); here a request that came by no node: refused in words, nothing sent.
    ("POST", "/requests/{request_id}/evidence-packages"): [Form(
        Role.service_provider, lambda w: {"evidence_id": str(w.files["order"])},
        lambda w: f"/requests/{w.requests['order']}/evidence-packages", changes=False)],
    ("POST", "/audit/verify"): [Form(Role.data_protection_officer, lambda w: {}, lambda w: "/audit/verify")],
    ("POST", "/admin/users"): [Form(Role.administrator, lambda w: {
        "username": f"new-{uuid.uuid4().hex[:8]}", "display_name": "A new officer", "role": "competent_authority",
        "provider": "", "password": PASSWORD, "password_again": PASSWORD}, lambda w: "/admin/users")],
    ("POST", "/admin/users/{user_id}/{action}"): [
        user_action(a) for a in ("unlock", "deactivate", "reactivate", "reset-second-factor")],
}


# --------------------------------------------------------------------------- the world
def upload(w: World, token: str, rid: uuid.UUID, name: str, data: bytes, sha256: str = "") -> uuid.UUID:
    """A file sent through the evidence page's plain form, as `token`'s person."""
    w.as_(token)
    page = w.site.client.get(f"/requests/{rid}/evidence")
    m = CSRF.search(page.text)
    assert m, page.status_code
    w.site.client.post(f"/requests/{rid}/evidence", data={"csrf_token": m.group(1), "sha256": sha256},
                       files={"file": (name, data, "application/octet-stream")}, follow_redirects=False)
    with w.site.sessionmaker() as db:
        return db.execute(sa.select(EvidenceFile.id).where(EvidenceFile.request_id == rid, EvidenceFile.name == name)
                          ).scalar_one()


def build_world(site: Site, law: cases.Law) -> World:
    """People of every role of HOME and OTHER, signed in; HOME's requests in several states (`law`: the
    node's, announcing nothing), their files, a user and a verification of the audit log."""
    tokens = {}
    for party in (HOME, OTHER):
        for role in ROLES:
            site.client.cookies.clear()
            site.sign_in(party, role)
            tokens[(party, role)] = site.client.cookies.get(SESSION_COOKIE)
    w = World(site, tokens, {}, {}, uuid.uuid4(), uuid.uuid4(), 0)
    ca, p247 = w.principal(HOME, Role.central_authority), w.principal(HOME, Role.contact_24_7)
    with site.sessionmaker() as db:  # the second person of four eyes: the demo package's second reviewer
        ca2 = principal_of(db.execute(sa.select(User).where(User.username == f"{HOME.lower()}-central-authority-2")
                                      ).scalar_one())

        def story(name: str, kind: str, requesting: str, requested: str, *events: tuple[str, Principal],
                  direction: str = "outgoing", provider: str | None = None) -> None:
            doc = document(kind, requesting, requested)
            if provider:
                doc["addressee"]["name"] = provider
            case = cases.create_case(db, actor=ca, reference=f"K-{name}", title=name, now=site.clock.now)
            req = cases.create_request(db, actor=ca, law=law, case_id=case.id, document=doc, now=site.clock.now,
                                       direction=direction)  # type: ignore[arg-type]
            for event, actor in events:
                cases.transition(db, actor=actor, law=law, request_id=req.id, event=event, now=site.clock.now,
                                 command=sent_outside(event))
            w.requests[name] = req.id

        story("draft", "mutual_assistance", HOME, "SI")
        # SI and ME have no node this one trusts: sent outside evidex (by e-mail), as their route allows.
        story("sent", "mutual_assistance", HOME, "SI", ("check", ca), ("approve", ca2), ("send_outside", ca))
        story("alone", "emergency_disclosure", HOME, "ME", ("send_outside", p247))  # its review is due (four eyes)
        story("emergency", "emergency_disclosure", "ME", HOME, direction="incoming")  # to another provider
        story("order", "subscriber_order", "ME", HOME, direction="incoming", provider=PROVIDER)  # CETS224 Art 7
        story("acknowledged", "mutual_assistance", "ME", HOME, ("acknowledge", ca), direction="incoming")  # a letter
        w.requests["package"] = db.execute(sa.select(RequestRow.id).join(Case, Case.id == RequestRow.case_id).where(
            Case.reference == evidence_demo.REFERENCE)).scalar_one()  # a package received from ME's node
        w.files["received"] = db.execute(sa.select(EvidenceFile.id).where(
            EvidenceFile.request_id == w.requests["package"]).order_by(EvidenceFile.name).limit(1)).scalar_one()
        w.letter_event = db.execute(sa.select(RequestEvent.seq).where(
            RequestEvent.request_id == w.requests["acknowledged"], RequestEvent.event == "acknowledge")).scalar_one()
        w.case = db.execute(sa.select(RequestRow.case_id).where(RequestRow.id == w.requests["draft"])).scalar_one()
        w.user = db.execute(sa.select(User.id).join(UserSession, UserSession.user_id == User.id).where(
            UserSession.token_hash == hash_token(tokens[(HOME, Role.competent_authority)]))).scalar_one()
        db.commit()
    w.files["order"] = upload(w, tokens[(HOME, Role.service_provider)], w.requests["order"], "subscriber.csv",
                              b"+38160000001,Jane Roe")
    w.files["sent"] = upload(w, tokens[(HOME, Role.central_authority)], w.requests["sent"], "mailbox.mbox",
                             b"From: a@example.org")
    w.files["rejected"] = upload(w, tokens[(HOME, Role.central_authority)], w.requests["sent"], "wrong.bin",
                                 b"not what was declared", sha256="ab" * 32)
    w.as_(tokens[(HOME, Role.data_protection_officer)])
    r = site.client.post("/audit/verify", data={"csrf_token": site.csrf("/audit")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    w.verification = int(r.headers["location"].rsplit("/", 1)[1])
    return w


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          sqlite_template: Path) -> Iterator[World]:
    """A node of HOME with an identity and a package that arrived from a partner node (the demo's), on a
    database of its own (the walk changes what it finds)."""
    tmp = tmp_path_factory.mktemp("access")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            shutil.copy(sqlite_template, tmp / "own.db")
            url = f"sqlite:///{tmp / 'own.db'}"
        else:
            url = stack.enter_context(postgres_database("evidex_access"))
        clock = Clock()
        settings = Settings(database_url=url, environment="test", node_party=HOME, evidence_dir=tmp / "evidence",
                            spool_dir=tmp / "spool", login_limit_per_account=UNLIMITED,
                            login_limit_per_address=UNLIMITED)
        node = build_node(settings, identity=keys.generate(HOME, "https://rs.access.invalid"))
        stack.callback(node.dispose)
        with node.sessions() as db:  # the demo's package is sent by its two central authorities
            for name in ("central-authority", "central-authority-2"):
                create_user(db, username=f"{HOME.lower()}-{name}", display_name=name, party=HOME,
                            role=Role.central_authority, now=clock.now)
            db.commit()
        assert evidence_demo.load(node=node, now=clock.now, echo=lambda _line: None)
        client = stack.enter_context(TestClient(create_site(settings, node=node, clock=clock),
                                                raise_server_exceptions=False))
        yield build_world(Site(client, node.sessions, clock, uuid.uuid4().hex[:8]), node.law)


def web_routes(w: World) -> set[tuple[str, str]]:
    """(method, path) of every route of the web application, from its router."""
    out = set()
    for route in iter_route_contexts(w.site.client.app.routes):  # type: ignore[attr-defined]
        if route.path is not None and is_web_path(route.path):
            out |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    return out


def snapshot(w: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what a refused form must leave as it was."""
    import_all_models()
    with w.site.sessionmaker() as db:
        return {t.name: sorted(tuple(map(repr, row)) for row in db.execute(sa.select(t)).all())
                for t in Base.metadata.sorted_tables}


def changed(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    return [t for t in before if before[t] != after[t]]


# --------------------------------------------------------------------------- the tests
def test_every_route_of_the_web_application_is_classified(world: World) -> None:
    routes = web_routes(world)
    pages = {p for m, p in routes if m == "GET"}
    assert pages - PAGES.keys() - PUBLIC_PAGES == set(), "a new page: say in PAGES whom it is for"
    assert PAGES.keys() | PUBLIC_PAGES <= pages, "PAGES names a page that is gone"
    unsafe = {(m, p) for m, p in routes if m != "GET"}
    assert unsafe == FORMS.keys(), "a new form: add it to FORMS"
    assert len(pages) > 15 and len(unsafe) > 10  # the routes were found (FastAPI's router walked)


def check_answer(r: Any, expected: int, kind: str) -> str | None:
    """What is wrong with the page's answer, if anything."""
    if r.status_code != expected:
        return f"{r.status_code} (expected {expected})"
    media = r.headers.get("content-type", "")
    if expected == 200 and not media.startswith(kind):
        return f"200 as {media}"
    if expected != 200 and not media.startswith("text/html"):
        return f"{expected} not as a page: {media}"
    words = {403: "You cannot do this", 404: "Page not found", 409: "This has changed meanwhile"}
    if expected in words and words[expected] not in r.text:
        return f"{expected} without its words"
    return None


def test_every_page_answers_every_role_as_the_api_answers_the_same_person(world: World) -> None:
    w = world
    wrong: list[str] = []
    table: dict[str, dict[Role, str]] = defaultdict(dict)
    expected_of: dict[tuple[Role, str], int] = {}
    links: dict[tuple[Role, str], set[str]] = {}
    for path, page in PAGES.items():
        instances = page.objects(w) + ([page.missing] if page.missing else [])
        for role in ROLES:
            token = w.tokens[(HOME, role)]
            seen = []
            for params in instances:
                url = url_of(path, params)
                expected_of[(role, url)] = expected = page.expect(w, token, params)
                w.as_(token)
                r = w.site.client.get(url, headers=page.headers, follow_redirects=False)
                if problem := check_answer(r, expected, page.kind):
                    wrong.append(f"{role.value} GET {url}: {problem}")
                if r.status_code == 200 and page.kind == "text/html":
                    links[(role, url)] = set(re.findall(r'href="(/[^"#]*)', r.text))
                seen.append(str(r.status_code))
            table[path][role] = "/".join(seen)
    # A page offers no link its viewer would be refused (navigation, actions, downloads).
    wrong += [f"{role.value} GET {url} links to {href}, refused" for (role, url), hrefs in links.items()
              for href in hrefs if expected_of.get((role, href)) == 403]
    print("\n" + "  ".join(r.value for r in ROLES))  # the table of the report: -s shows it
    for path, row in table.items():
        print(f"{path}: " + "  ".join(row[r] for r in ROLES))
    assert not wrong, "\n".join(wrong)


def test_another_partys_user_finds_nothing_and_a_missing_id_answers_the_same(world: World) -> None:
    w = world
    wrong = []
    object_pages = {path: page for path, page in PAGES.items() if page.missing}
    opened_by_other: set[str] = set()
    for path, page in object_pages.items():
        for role in ROLES:
            token = w.tokens[(OTHER, role)]
            w.as_(token)
            missing = w.site.client.get(url_of(path, page.missing or {}), headers=page.headers)
            for params in [p for p in page.objects(w) if p][:2]:  # each names an object of HOME
                r = w.site.client.get(url_of(path, params), headers=page.headers)
                expected = page.expect(w, token, params)  # the API to the same person: 404, or 403 for the role
                if r.status_code != missing.status_code or r.status_code not in (403, 404) or check_answer(
                        r, expected, page.kind):
                    wrong.append(f"{OTHER} {role.value} GET {url_of(path, params)}: {r.status_code}, "
                                 f"a missing one {missing.status_code}, the API {expected}")
                if r.status_code == 404:
                    opened_by_other.add(path)
    # Nor does a form sent to one of HOME's objects, by the other Party's person of the role that sends it.
    for (method, path), forms in FORMS.items():
        for form in forms:
            if "{" not in path or form.role is None:
                continue
            w.as_(w.tokens[(HOME, form.role)])
            data, url = form.data(w), form.url(w)
            w.as_(w.tokens[(OTHER, form.role)])
            token = w.site.csrf("/")
            before = snapshot(w)
            r = w.site.client.request(method, url, data={**data, "csrf_token": token}, files=form.files,
                                      follow_redirects=False)
            if r.status_code != 404 or "Page not found" not in r.text or changed(before, snapshot(w)):
                wrong.append(f"{OTHER} {form.role.value} {method} {url}: {r.status_code}")
    assert not wrong, "\n".join(wrong)
    # Not only refused by role: each object page, for a role that may open it, finds no such object.
    assert opened_by_other == object_pages.keys()
    with w.site.sessionmaker() as db:  # and nothing was opened, exported or read by the other Party
        assert db.execute(sa.select(CustodyEvent).where(CustodyEvent.party == OTHER)).first() is None


def test_no_form_is_taken_without_its_csrf_token_and_nothing_changes(world: World) -> None:
    w = world
    sec = w.site.client.app.state.web_security  # type: ignore[attr-defined]
    foreign = sec.csrf_token(w.tokens[(OTHER, Role.administrator)])  # bound to another person's session
    wrong = []
    for (method, _path), forms in FORMS.items():
        for form in forms:
            if form.role is None:
                w.as_(None)
                token = w.site.csrf("/sign-in")
            else:
                w.as_(w.tokens[(HOME, form.role)])
                if form.fresh:
                    w.site.client.cookies.clear()
                    w.site.sign_in(HOME, form.role, f"-{uuid.uuid4().hex[:6]}")
                token = w.site.csrf("/")
            data = form.data(w)
            url = form.url(w)
            before = snapshot(w)
            for sent in (None, foreign, "0" * 64):
                fields = {**data, **({"csrf_token": sent} if sent else {})}
                r = w.site.client.request(method, url, data=fields, files=form.files, follow_redirects=False)
                if r.status_code != 403 or "This form has expired" not in r.text:
                    wrong.append(f"{method} {url} with the token {sent}: {r.status_code}")
            after = snapshot(w)
            if changed(before, after):
                wrong.append(f"{method} {url} refused, yet changed {changed(before, after)}")
            # With its token the same form is taken (the refusal was the token's doing).
            r = w.site.client.request(method, url, data={**data, "csrf_token": token}, files=form.files,
                                      follow_redirects=False)
            done = changed(after, snapshot(w))
            if r.status_code in (403, 500) or (form.changes and not done):
                wrong.append(f"{method} {url} with its token: {r.status_code}, changed {done}")
    assert not wrong, "\n".join(wrong)


def test_nobody_signed_in_is_sent_to_sign_in_and_back(world: World) -> None:
    w = world
    wrong = []
    for path, page in PAGES.items():
        for params in page.objects(w) + ([page.missing] if page.missing else []):
            w.as_(None)
            url = url_of(path, params)
            r = w.site.client.get(url, headers=page.headers, follow_redirects=False)
            if page.headers.get("HX-Request"):  # an HTMX fragment sends the whole page to sign in
                location = r.headers.get("HX-Redirect", "")
                ok = r.status_code == 204
            else:
                location = r.headers.get("location", "")
                ok = r.status_code == 303
            target = urllib.parse.urlsplit(location)
            back = urllib.parse.parse_qs(target.query).get("next", [""])[0]
            if not ok or target.path != "/sign-in" or back != url or safe_next(back) != back:
                wrong.append(f"GET {url}: {r.status_code} to {location!r}")
    for path in PUBLIC_PAGES:
        w.as_(None)
        assert w.site.client.get(path).status_code == 200
    # A form sent by nobody signed in (with the sign-in page's own token): to sign in, nothing done, and
    # back to the dashboard (a form's address is no page to come back to).
    for (method, path), forms in FORMS.items():
        if (method, path) in PUBLIC_FORMS:
            continue
        for form in forms:
            w.as_(w.tokens[(HOME, form.role)] if form.role else None)
            data, url = form.data(w), form.url(w)
            w.as_(None)
            token = w.site.csrf("/sign-in")
            before = snapshot(w)
            r = w.site.client.request(method, url, data={**data, "csrf_token": token}, files=form.files,
                                      follow_redirects=False)
            if r.status_code != 303 or r.headers["location"] != "/sign-in?next=/" or changed(before, snapshot(w)):
                wrong.append(f"{method} {url} by nobody: {r.status_code} to {r.headers.get('location')}")
    assert not wrong, "\n".join(wrong)


def test_a_forms_address_opened_as_a_page_is_no_page(world: World) -> None:
    """A link or a bookmark to where a form is sent: 405 with the page-not-found words, never an error."""
    w = world
    pages = {p for m, p in web_routes(w) if m == "GET"}
    for (_method, path), forms in FORMS.items():
        if path in pages:  # the form's own page (the sign-in, a draft, the evidence page)
            continue
        w.as_(w.tokens[(HOME, forms[0].role or Role.central_authority)])
        url = forms[0].url(w)
        for token in (w.tokens[(HOME, Role.administrator)], None):
            w.as_(token)
            r = w.site.client.get(url, follow_redirects=False)
            assert r.status_code == 405 and "Page not found" in r.text and "POST" in r.headers["allow"], url
