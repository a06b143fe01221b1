"""The requests in the browser, in process (issue 14 item 4): the list with its filters, orders, pages and
search; a request's page for every role that may see it; only the actions the lifecycle allows this
person now, each a plain form (no JavaScript needed) that refuses in words and never applies twice."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.cases import service as cases
from evidex.exchange.models import Receipt
from evidex.parties.models import User
from evidex.parties.roles import Principal, Role
from evidex.parties.service import principal_of
from evidex.requests.models import Request as RequestRow
from evidex.web import i18n
from evidex.web.routes import requests as request_pages
from tests.factories import document
from tests.web.site import CSRF, Site, make_site, site

__all__ = ["site"]

PROVIDER = "Zgled Mail d.o.o."  # the provider tests/web/site.py gives a signed-in service provider


@pytest.fixture
def own_site(own_database_url: str, tmp_path: Any) -> Iterator[Site]:
    """The site on a database of this test alone: lists count every request of the Party."""
    yield from make_site(own_database_url, tmp_path)


# ---------------------------------------------------------------------------------- helpers
def person(site: Site, username: str) -> Principal:
    with site.sessionmaker() as db:
        return principal_of(db.execute(sa.select(User).where(User.username == username)).scalar_one())


def law(site: Site) -> cases.Law:
    found: cases.Law = site.client.app.state.law  # type: ignore[attr-defined]
    return found


def new_request(site: Site, who: Principal, kind: str = "mutual_assistance", requested: str = "SI",
                reference: str | None = None, direction: str = "outgoing", requesting: str | None = None,
                **changes: Any) -> uuid.UUID:
    doc = document(kind, requesting or who.party, requested)
    doc.update(changes)
    with site.sessionmaker() as db:
        case = cases.create_case(db, actor=who, reference=reference or f"K-{uuid.uuid4().hex[:8]}", title="Phishing",
                                 now=site.clock.now)
        req = cases.create_request(db, actor=who, law=law(site), case_id=case.id, document=doc, now=site.clock.now,
                                   direction=direction)  # type: ignore[arg-type]
        db.commit()
        return req.id


def move(site: Site, rid: uuid.UUID, event: str, who: Principal, **command: Any) -> None:
    if event == "send_outside":  # this node trusts no other node: sent outside evidex, by e-mail here
        command.setdefault("data", {cases.MEANS: "email"})
    with site.sessionmaker() as db:
        cases.transition(db, actor=who, law=law(site), request_id=rid, event=event, now=site.clock.now,
                         command=cases.Command(**command))
        db.commit()


def stored(site: Site, rid: uuid.UUID) -> RequestRow:
    with site.sessionmaker() as db:
        return db.execute(sa.select(RequestRow).where(RequestRow.id == rid)).scalar_one()


def events_of(site: Site, rid: uuid.UUID) -> list[str]:
    with site.sessionmaker() as db:
        return [e.event for e in cases.history(db, actor=Principal.system(stored(site, rid).party), request_id=rid)]


def token(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def action_forms(html: str) -> list[str]:
    """The events offered on a request page (one transition form each)."""
    return re.findall(r'name="event" value="([a-z_]+)"', html)


def post_action(site: Site, rid: uuid.UUID, event: str, page: str | None = None, **fields: Any) -> Any:
    html = page if page is not None else site.client.get(f"/requests/{rid}").text
    version = re.search(r'name="expected_version" value="(\d+)"', html)
    data = {"csrf_token": token(html), "event": event,
            "expected_version": version.group(1) if version else str(stored(site, rid).version), **fields}
    return site.client.post(f"/requests/{rid}/transitions", data=data, follow_redirects=False)


def main(html: str) -> str:
    body = html.split('<main', 1)[1].split('</main>', 1)[0]
    assert not re.search(r">\s*None\s*<", body), "a missing value shown as None"
    return body


# ---------------------------------------------------------------------------------- the list
def test_the_list_shows_what_a_desk_needs_filtered_sorted_and_searched(own_site: Site) -> None:
    site = own_site
    name = site.sign_in("RS", Role.central_authority)
    ca = person(site, name)
    second = person(site, site.sign_in("RS", Role.central_authority, "-2"))
    site.client.cookies.clear()
    site.sign_in("RS", Role.central_authority, "-3")  # the viewer: neither drafted anything
    pres = new_request(site, ca, "preservation", "ME", reference="KT-Alpha 1/26")
    for event, who in (("check", ca), ("approve", second), ("send_outside", ca)):
        move(site, pres, event, who)
    site.clock.now += dt.timedelta(minutes=1)
    mla = new_request(site, ca, "mutual_assistance", "SI", reference="KT-Beta 2/26")
    site.clock.now += dt.timedelta(minutes=1)
    spont = new_request(site, ca, "spontaneous_information", "SI", reference="KT-Gamma 3/26")

    r = site.client.get("/requests")
    assert r.status_code == 200, r.text
    body = main(r.text)
    assert "3 requests" in body
    row = body.split(f'href="/requests/{pres}"', 1)[1].split("</tr>", 1)[0]
    assert "KT-Alpha 1/26" in row and "Expedited preservation of stored computer data" in row
    assert re.search(r"RS\s*<span aria-hidden=\"true\">→</span>", row) and "ME" in row and "sent by us" in row
    assert "sent" in row and "Urgent" in row and "govuk-tag--red" in row
    assert "19 Jan 2027" in row  # its deadline, ETS185 Art 29(7): 60 days from 2026-11-20
    assert 'class="govuk-body-s evx-countdown' in row
    assert f'href="/requests/{mla}"' in body and f'href="/requests/{spont}"' in body
    assert body.index("KT-Gamma") < body.index("KT-Beta") < body.index("KT-Alpha")  # last changed first
    # The nav shows the page to the viewer.
    assert 'href="/requests"' in r.text.split("<main", 1)[0]

    def listed(query: str) -> set[str]:
        page = site.client.get(f"/requests?{query}")
        assert page.status_code == 200, (query, page.text)
        return set(re.findall(r'<a class="govuk-link" href="/requests/([0-9a-f-]{36})"', main(page.text)))

    assert listed("party=ME") == {str(pres)}
    assert listed("party=SI&type=spontaneous_information") == {str(spont)}
    assert listed("state=sent") == {str(pres)}
    assert listed("direction=incoming") == set()
    assert listed("due_before=2027-01-20") == {str(pres)}
    assert listed("due_before=2027-01-19") == set()
    assert listed("search=beta") == {str(mla)}
    assert listed("search=vtk-ktr-1127") == {str(pres), str(mla)}  # the reference in the documents
    assert "No request matches these filters." in main(site.client.get("/requests?search=nothing").text)
    oldest = main(site.client.get("/requests?sort=oldest").text)
    assert oldest.index("KT-Alpha") < oldest.index("KT-Beta") < oldest.index("KT-Gamma")
    urgent = main(site.client.get("/requests?sort=urgency").text)
    assert urgent.index("KT-Alpha") < urgent.index("KT-Beta")
    # The form keeps what was chosen.
    kept = site.client.get("/requests?party=ME&search=alp&sort=due").text
    assert re.search(r'<option value="ME" selected', kept) and 'value="alp"' in kept
    assert re.search(r'<option value="due" selected', kept)
    # A request's case: its requests only; another Party's case is not found.
    with site.sessionmaker() as db:
        case_id = stored(site, mla).case_id
    assert listed(f"case={case_id}") == {str(mla)}
    si = person(site, site.person("SI", Role.central_authority)[0])
    with site.sessionmaker() as db:
        other = cases.create_case(db, actor=si, reference="SI-1", title="x", now=site.clock.now)
        db.commit()
        other_id = other.id
    assert site.client.get(f"/requests?case={other_id}").status_code == 404
    assert site.client.get("/requests?case=not-a-case").status_code == 404


def test_the_list_comes_in_pages_and_htmx_swaps_only_the_results(own_site: Site,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    site = own_site
    ca = person(site, site.sign_in("RS", Role.central_authority))
    made = []
    for i in range(5):
        made.append(new_request(site, ca, "mutual_assistance", "SI", reference=f"P-{i}"))
        site.clock.now += dt.timedelta(minutes=1)
    monkeypatch.setattr(request_pages, "PAGE_SIZE", 2)
    first = main(site.client.get("/requests?sort=oldest").text)
    assert "5 requests · page 1 of 3" in first
    assert "P-0" in first and "P-1" in first and "P-2" not in first
    assert 'class="govuk-pagination' in first and 'href="/requests?sort=oldest&amp;page=2"' in first
    assert 'aria-current="page"' in first
    third = main(site.client.get("/requests?sort=oldest&page=3").text)
    assert "P-4" in third and "P-3" not in third and 'rel="prev"' in third and 'rel="next"' not in third
    beyond = main(site.client.get("/requests?page=9").text)
    assert "There is no request on this page." in beyond
    assert site.client.get("/requests?page=x").status_code == 200  # not a number: the first page
    # HTMX: the results and the count only (the count in its live region, out of band).
    frag = site.client.get("/requests?sort=oldest&page=2", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text and "<main" not in frag.text
    assert 'hx-swap-oob="innerHTML"' in frag.text and "P-2" in frag.text and "P-3" in frag.text
    assert 'hx-get="/requests?sort=oldest&amp;page=3"' in frag.text
    # A history restore asks for the whole page again.
    whole = site.client.get("/requests?page=2", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in whole.text
    # The filter form is a plain GET form (it works without JavaScript); HTMX swaps only the results.
    form = re.search(r'<form method="get" action="/requests"[^>]*>', first)
    assert form and 'hx-get="/requests"' in form.group(0) and 'hx-target="#request-results"' in form.group(0)
    assert 'id="request-results" role="region" data-evx-focus' in first and 'role="status"' in first


def test_filters_that_cannot_be_read_are_named_and_kept(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    r = site.client.get("/requests?due_before=31.12.2026&type=no_such_type&party=XX&search=" + "y" * 121)
    assert r.status_code == 422
    body = main(r.text)
    assert "There is a problem" in body
    for field in ("due_before", "type", "party", "search"):
        assert f'href="#filter-{field}"' in body and f'id="filter-{field}"' in body
    assert 'value="31.12.2026"' in body
    assert "<title>Error:" in r.text
    assert "govuk-table" not in body
    # HTMX swaps no error answer: the browser is sent to the whole page, which shows the errors.
    r = site.client.get("/requests?due_before=31.12.2026", headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/requests?due_before=31.12.2026"


# ---------------------------------------------------------------------------------- the request page
def subscriber_order_at_rs(site: Site) -> uuid.UUID:
    """An incoming subscriber order to RS, addressed to the signed-in provider: every RS role may see it."""
    registrar = person(site, site.person("RS", Role.central_authority, "-registrar")[0])
    doc = document("subscriber_order", "ME", "RS")
    doc["addressee"]["name"] = PROVIDER
    with site.sessionmaker() as db:
        case = cases.create_case(db, actor=registrar, reference=f"ME-{uuid.uuid4().hex[:6]}", title="Order",
                                 now=site.clock.now)
        req = cases.create_request(db, actor=registrar, law=law(site), case_id=case.id, document=doc,
                                   now=site.clock.now, direction="incoming")
        db.commit()
        return req.id


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.system])
def test_every_role_that_may_see_a_request_opens_its_page_and_the_read_is_audited(own_site: Site, role: Role) -> None:
    site = own_site  # the list's first page must hold the request: no other test's requests of RS before it
    rid = subscriber_order_at_rs(site)
    name = site.sign_in("RS", role)
    r = site.client.get(f"/requests/{rid}")
    assert r.status_code == 200, r.text
    body = main(r.text)
    assert re.search(r'<h1 class="govuk-heading-l">\s*Disclosure of subscriber information\s*</h1>', body)
    assert PROVIDER in body
    assert "Timeline" in body and "Received from the requesting Party" in body
    listed = site.client.get("/requests")
    assert listed.status_code == 200 and f'href="/requests/{rid}"' in listed.text
    with site.sessionmaker() as db:
        reads = db.execute(sa.select(AuditEntry.action).where(AuditEntry.actor == name,
                                                              AuditEntry.object_id == str(rid))).scalars().all()
    assert reads.count("request.read") == 3  # as the API: the request, its history, its decisions


def test_another_partys_request_is_not_found_for_reading_or_acting(site: Site) -> None:
    ca = person(site, site.sign_in("RS", Role.central_authority))
    rid = new_request(site, ca)
    site.client.cookies.clear()
    site.sign_in("SI", Role.central_authority)
    page = site.client.get("/requests")
    for path in (f"/requests/{rid}",):
        r = site.client.get(path)
        assert r.status_code == 404 and "Page not found" in r.text
    for path, data in ((f"/requests/{rid}/transitions", {"event": "check", "expected_version": "1"}),
                       (f"/requests/{rid}/review", {})):
        r = site.client.post(path, data={"csrf_token": token(page.text), **data})
        assert r.status_code == 404 and "Page not found" in r.text
    assert stored(site, rid).status == "draft"
    # A provider sees only the requests addressed to it.
    site.client.cookies.clear()
    site.sign_in("RS", Role.service_provider)
    assert site.client.get(f"/requests/{rid}").status_code == 404


def test_the_page_shows_the_document_verdict_deadlines_and_timeline_in_words(site: Site) -> None:
    ca = person(site, site.sign_in("RS", Role.central_authority))
    second = person(site, site.person("RS", Role.central_authority, "-2")[0])
    rid = new_request(site, ca, "preservation", "ME", reference="KT-P 7/26")
    for event, who in (("check", ca), ("approve", second), ("send_outside", ca)):
        move(site, rid, event, who)
    body = main(site.client.get(f"/requests/{rid}").text)
    # The document: the rule data's labels with their articles, not the JSON's keys; nested values readable.
    assert "The stored computer data to be preserved" in body and "ETS185 Art 29(2)(c)" in body
    assert "data_description" not in body and "issuing_authority" not in body
    assert "The authority seeking the preservation" in body and "ETS185 Art 29(2)(a)" in body
    assert "Email" in body and "20 Nov 2026" in body  # issued_on as a date
    # The verdict: admissible, the route with its authorities and contacts, each article with its title.
    assert "Admissible" in body and "Route" in body and "24/7 point of contact" in body
    route = body.split(">Route<", 1)[1].split("</dl>", 1)[0]
    assert "24/7 point of contact · Serbia (RS)" in route and "24/7 point of contact · Montenegro (ME)" in route
    assert "ETS185 Art 35(1)(b) – 24/7 Network" in route  # the article and its title
    # Deadlines as dates, with their article and a countdown.
    deadlines = body.split('id="deadlines-heading"', 1)[1].split("</section>", 1)[0]
    assert "19 Jan 2027" in deadlines and "ETS185 Art 29(7)" in deadlines and "Open" in deadlines
    # Four eyes: who drafted and who approved.
    four = body.split('id="four-eyes-heading"', 1)[1].split("</section>", 1)[0]
    assert ca.username in four and second.username in four
    # One timeline: drafted, checked, approved, sent; who, when, on which basis.
    timeline = body.split('id="timeline-heading"', 1)[1]
    order = [timeline.index(w) for w in ("Drafted", "Check", "Approve", "Send")]
    assert order == sorted(order)
    assert f"{second.username} (Central authority)" in timeline and "Legal basis" in timeline
    assert "<time datetime=" in timeline


# ---------------------------------------------------------------------------------- actions
def test_only_the_actions_the_lifecycle_allows_this_person_now_are_offered(site: Site) -> None:
    drafter_name = site.sign_in("RS", Role.central_authority)
    drafter = person(site, drafter_name)
    rid = new_request(site, drafter)
    assert sorted(action_forms(site.client.get(f"/requests/{rid}").text)) == ["check", "withdraw"]
    move(site, rid, "check", drafter)
    html = site.client.get(f"/requests/{rid}").text
    assert sorted(action_forms(html)) == ["edit", "withdraw"]  # no approve: the drafter may not (four eyes)
    assert "someone else must approve it" in html
    for role in (Role.data_protection_officer, Role.administrator, Role.service_provider, Role.notified_authority):
        site.client.cookies.clear()
        site.sign_in("RS", role)
        r = site.client.get(f"/requests/{rid}")
        if r.status_code == 404:  # a provider or a notified authority does not see an outgoing request
            assert role in (Role.service_provider, Role.notified_authority)
            continue
        assert action_forms(r.text) == [] and "There is nothing you can do on this request now." in r.text
    site.client.cookies.clear()
    site.sign_in("RS", Role.central_authority, "-second")
    assert sorted(action_forms(site.client.get(f"/requests/{rid}").text)) == ["approve", "edit", "withdraw"]


def test_the_drafter_who_posts_an_approval_anyway_is_refused_in_words(site: Site) -> None:
    drafter = person(site, site.sign_in("RS", Role.central_authority))
    rid = new_request(site, drafter)
    move(site, rid, "check", drafter)
    r = post_action(site, rid, "approve")
    assert r.status_code == 422
    assert "someone other than the drafter (four eyes)" in r.text and "There is a problem" in r.text
    assert stored(site, rid).status == "checked" and "approve" not in events_of(site, rid)


def test_a_transition_by_form_happens_once_even_if_the_form_is_sent_twice(site: Site) -> None:
    drafter = person(site, site.person("RS", Role.central_authority, "-drafter")[0])
    rid = new_request(site, drafter)
    move(site, rid, "check", drafter)
    site.sign_in("RS", Role.central_authority)
    page = site.client.get(f"/requests/{rid}").text
    r = post_action(site, rid, "approve", page=page)
    assert r.status_code == 303 and r.headers["location"] == f"/requests/{rid}?notice=done&event=approve"
    done = site.client.get(r.headers["location"])
    assert "govuk-notification-banner--success" in done.text
    assert "Done: Approve for sending. The request is now: Approved" in done.text
    again = post_action(site, rid, "approve", page=page)  # the same form, sent a second time
    assert again.status_code == 409
    assert "changed since you opened the page" in again.text and "Nothing was done" in again.text
    assert events_of(site, rid).count("approve") == 1 and stored(site, rid).status == "approved"
    # A notice for an event that does not exist is not shown (a link cannot put words on the page).
    odd = site.client.get(f"/requests/{rid}?notice=done&event=hacked")
    assert "govuk-notification-banner" not in odd.text


def test_a_refusal_needs_reasons_and_grounds_and_keeps_what_was_entered(site: Site) -> None:
    registrar = person(site, site.person("RS", Role.central_authority, "-reg")[0])
    rid = new_request(site, registrar, "mutual_assistance", "RS", requesting="SI", direction="incoming")
    site.sign_in("RS", Role.central_authority)
    html = site.client.get(f"/requests/{rid}").text
    assert "refuse" in action_forms(html)
    refuse = html.split('name="event" value="refuse"', 1)[1].split("</form>", 1)[0]
    # Each ground from the type's catalogue, with its meaning in words and its article and title.
    assert 'name="grounds" type="checkbox" value="ETS185 Art 27(4)(b)"' in refuse
    assert "Likely to prejudice sovereignty, security, ordre public or other essential interests" in refuse
    assert re.search(r"ETS185 Art 27\(4\)\(b\) – \S", refuse)
    r = post_action(site, rid, "refuse", page=html, grounds="ETS185 Art 27(4)(b)", reasons="  ")
    assert r.status_code == 422
    body = main(r.text)
    assert 'href="#refuse-reasons"' in body and "Enter the reasons" in body
    assert re.search(r'value="ETS185 Art 27\(4\)\(b\)" checked', body)  # kept
    assert "<details" in body and re.search(r'<details class="govuk-details"[^>]* open', body)
    r = post_action(site, rid, "refuse", page=html, reasons="Essential interests of Serbia")
    assert r.status_code == 422 and 'href="#refuse-grounds"' in r.text and "Select at least one ground" in r.text
    assert "Essential interests of Serbia" in r.text
    r = post_action(site, rid, "refuse", page=html, reasons="Not a ground", grounds="ETS185 Art 99")
    assert r.status_code == 422 and "not a ground for mutual_assistance" in r.text
    assert stored(site, rid).status == "received"
    r = post_action(site, rid, "refuse", page=html, reasons="Essential interests of Serbia",
                    grounds=["ETS185 Art 27(4)(b)", "ETS185 Art 27(4)(a)"])
    assert r.status_code == 303, r.text
    after = main(site.client.get(f"/requests/{rid}").text)
    timeline = after.split('id="timeline-heading"', 1)[1]
    assert "Decision: Refusal" in timeline and "Essential interests of Serbia" in timeline
    assert "Political offence or an offence connected with a political offence (ETS185 Art 27(4)(a))" in timeline


def test_conditions_are_proposed_one_or_more_and_shown(site: Site) -> None:
    registrar = person(site, site.person("RS", Role.central_authority, "-reg")[0])
    rid = new_request(site, registrar, "mutual_assistance", "RS", requesting="SI", direction="incoming")
    move(site, rid, "acknowledge", registrar)
    site.sign_in("RS", Role.central_authority)
    html = site.client.get(f"/requests/{rid}").text
    main(html)
    assert "propose_conditions" in action_forms(html)
    # Without JavaScript, "add another condition" gives the form a second slot, keeping the first.
    r = post_action(site, rid, "propose_conditions", page=html, condition_slots="1", add_condition="1",
                    **{"condition-1-kind": "confidentiality", "condition-1-text": "Keep the source confidential"})
    assert r.status_code == 200
    assert 'name="condition-2-text"' in r.text and "Keep the source confidential" in r.text
    assert stored(site, rid).status == "acknowledged"
    r = post_action(site, rid, "propose_conditions", page=html, condition_slots="2",
                    **{"condition-1-kind": "", "condition-1-text": "No kind chosen"})
    assert r.status_code == 422 and 'href="#propose_conditions-condition-1-kind"' in r.text
    r = post_action(site, rid, "propose_conditions", page=html, condition_slots="2")
    assert r.status_code == 422 and "Enter at least one condition" in r.text
    r = post_action(site, rid, "propose_conditions", page=html, condition_slots="2",
                    **{"condition-1-kind": "confidentiality", "condition-1-text": "Keep the source confidential",
                       "condition-2-kind": "use_limitation", "condition-2-text": "Only for case KT-S 77/26"})
    assert r.status_code == 303, r.text
    section = main(site.client.get(f"/requests/{rid}").text).split('id="conditions-heading"', 1)[1].split(
        "</section>", 1)[0]
    assert "Keep the source confidential" in section and "Only for case KT-S 77/26" in section
    assert "Proposed" in section and "Binding" not in section and "ETS185 Art 28(2)(b)" in section


def test_preserved_data_takes_the_day_it_was_preserved(site: Site) -> None:
    ca = person(site, site.person("RS", Role.central_authority, "-a")[0])
    second = person(site, site.person("RS", Role.central_authority, "-b")[0])
    rid = new_request(site, ca, "preservation", "ME")
    for event, who in (("check", ca), ("approve", second), ("send_outside", ca)):
        move(site, rid, event, who)
    site.sign_in("RS", Role.contact_24_7)
    html = site.client.get(f"/requests/{rid}").text
    assert "record_preserved" in action_forms(html)
    r = post_action(site, rid, "record_preserved", page=html,
                    **{"preserved_on-day": "31", "preserved_on-month": "2", "preserved_on-year": "2026"})
    assert r.status_code == 422 and 'href="#record_preserved-preserved_on-day"' in r.text
    assert "Enter a real date" in r.text and 'value="31"' in r.text
    r = post_action(site, rid, "record_preserved", page=html,
                    **{"preserved_on-day": "21", "preserved_on-month": "11", "preserved_on-year": "2026"})
    assert r.status_code == 303, r.text
    assert stored(site, rid).preserved_until == dt.date(2027, 1, 20)  # 60 days (ETS185 Art 29(7))
    html = site.client.get(f"/requests/{rid}").text
    assert "Preserved on 21 Nov 2026" in html
    # Lapsed only once the period has run out: until then the step is not offered, and the page says why.
    assert "expire" not in action_forms(html) and {"renew", "release"} <= set(action_forms(html))
    assert "it can be recorded as lapsed only after that day" in html
    site.clock.now = dt.datetime(2027, 1, 21, 12, 0, tzinfo=dt.UTC)  # the next day in ME
    site.client.cookies.clear()
    site.sign_in("RS", Role.contact_24_7, "-later")  # the first session has long expired
    assert "expire" in action_forms(site.client.get(f"/requests/{rid}").text)


def test_an_emergency_sent_alone_is_reviewed_by_someone_else(site: Site) -> None:
    alone_name = site.sign_in("RS", Role.contact_24_7)
    alone = person(site, alone_name)
    rid = new_request(site, alone, "emergency_disclosure", "ME")
    html = site.client.get(f"/requests/{rid}").text
    # ME has no node this node trusts: sent alone outside evidex, through the 24/7 network.
    assert "send_outside" in action_forms(html) and "send_alone" not in action_forms(html)
    form = html.split('name="event" value="send_outside"', 1)[1].split("</form>", 1)[0]
    assert "CETS224 Art 9" in form and "within 1 day" in form
    r = post_action(site, rid, "send_outside", page=html, means="network_24_7")
    assert r.status_code == 303, r.text
    own = site.client.get(f"/requests/{rid}").text
    assert "another person must review it by" in own and 'action="/requests/' + str(rid) + '/review"' not in own
    r = site.client.post(f"/requests/{rid}/review", data={"csrf_token": token(own)})
    assert r.status_code == 422 and "someone other than the person who sent it" in r.text
    site.client.cookies.clear()
    site.sign_in("RS", Role.data_protection_officer)
    dpo = site.client.get(f"/requests/{rid}").text
    assert "/review" not in dpo.split("<main", 1)[1]
    assert site.client.post(f"/requests/{rid}/review", data={"csrf_token": token(dpo)}).status_code == 403
    site.client.cookies.clear()
    reviewer = site.sign_in("RS", Role.central_authority)
    page = site.client.get(f"/requests/{rid}").text
    assert f'action="/requests/{rid}/review"' in page and alone_name in page
    r = site.client.post(f"/requests/{rid}/review", data={"csrf_token": token(page), "reasons": "Checked: lawful"},
                             follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("notice=reviewed")
    done = main(site.client.get(r.headers["location"]).text)
    assert "Your review of the emergency send is recorded." in done
    assert f"Reviewed by {reviewer}" in done and "Checked: lawful" in done
    assert "review" in events_of(site, rid)


def test_the_timeline_holds_the_receipts_in_time_order(site: Site) -> None:
    ca = person(site, site.sign_in("RS", Role.central_authority))
    second = person(site, site.person("RS", Role.central_authority, "-2")[0])
    rid = new_request(site, ca)
    for event, who in (("check", ca), ("approve", second), ("send_outside", ca)):
        move(site, rid, event, who)
    conversation = stored(site, rid).conversation_id
    assert conversation
    with site.sessionmaker() as db:  # as the exchange records them (exchange/service.py)
        db.add(Receipt(msg_id="m-1", conversation_id=conversation, kind="delivery", issuer="SI", positive=True,
                       token="eyJ.sig", at=site.clock.now + dt.timedelta(minutes=2)))
        db.add(Receipt(msg_id=conversation, conversation_id=conversation, kind="retrieval", issuer="SI",
                       positive=False, token=None, at=site.clock.now + dt.timedelta(hours=1)))
        db.commit()
    site.clock.now += dt.timedelta(minutes=1)
    move(site, rid, "record_acknowledgement", ca)
    timeline = main(site.client.get(f"/requests/{rid}").text).split('id="timeline-heading"', 1)[1]
    delivered = timeline.index("Delivery receipt: the receiving node has the message")
    assert timeline.index("Record that receipt was acknowledged") < delivered
    assert delivered < timeline.index("Negative receipt: the message was not opened in time")
    assert "signed by the node of Slovenia (SI)" in timeline


def test_the_pages_render_in_every_language(site: Site) -> None:
    ca = person(site, site.sign_in("RS", Role.central_authority))
    rid = new_request(site, ca, "preservation", "ME")
    for locale in i18n.LOCALES:
        page = site.client.get("/requests").text
        r = site.client.post("/language", data={"csrf_token": token(page), "lang": locale, "next": "/requests"},
                             follow_redirects=False)
        assert r.status_code == 303
        listed = site.client.get("/requests")
        assert listed.status_code == 200 and f'<html lang="{locale}"' in listed.text
        detail = site.client.get(f"/requests/{rid}")
        assert detail.status_code == 200 and f'<html lang="{locale}"' in detail.text, locale


def test_a_form_without_its_csrf_token_changes_nothing(site: Site) -> None:
    drafter = person(site, site.sign_in("RS", Role.central_authority))
    rid = new_request(site, drafter)
    r = site.client.post(f"/requests/{rid}/transitions", data={"event": "check", "expected_version": "1"})
    assert r.status_code == 403 and stored(site, rid).status == "draft"
