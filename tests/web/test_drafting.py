"""Drafting a request (issue 14 item 5), in process: the form generated from the rule data for each
type and requested Party, the live verdict on the unsaved document, save and edit a draft, the
examples as templates, errors that keep what was typed, and the role and Party rules."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from html.parser import HTMLParser
from typing import Any

import pytest
import yaml

from evidex.cases import service
from evidex.parties.roles import Role
from evidex.rules import default_parties, default_rulebook
from evidex.rules.elements import in_elements
from tests.conftest import EXAMPLES
from tests.factories import command_for, path_to, user
from tests.web.site import Site, make_site, site

__all__ = ["site"]
RULEBOOK = default_rulebook()
TODAY = dt.date(2026, 11, 23)  # the site's clock (tests/api/conftest.py), in Belgrade
DRAFTERS = (Role.competent_authority, Role.central_authority, Role.contact_24_7)
OTHERS = (Role.service_provider, Role.notified_authority, Role.data_protection_officer, Role.administrator)


@pytest.fixture
def own_site(own_database_url: str, tmp_path: Any) -> Any:
    """The site on a database of this test alone: for tests that count what was written."""
    yield from make_site(own_database_url, tmp_path)


class Form(HTMLParser):
    """What a browser would submit for the form `id` of a page: inputs, checked boxes and radios,
    selected options, textareas; plus, for each element field, the section it is in."""

    def __init__(self, form_id: str = "draft-form") -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.values = form_id, False, {}
        self.sections: dict[str, str] = {}
        self._section: list[str | None] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "div":
            self._section.append(a.get("data-evx-section"))
        name = a.get("name", "")
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.values[name] = a.get("value", "on")
            else:
                self.values[name] = a.get("value", "")
            self._note(name)
        elif tag == "textarea":
            self._textarea = name
            self.values[name] = ""
            self._note(name)
        elif tag == "select":
            self._select = name
            self._note(name)
        elif tag == "option" and self._select is not None and ("selected" in a or self._select not in self.values):
            self.values[self._select] = a.get("value", "")

    def _note(self, name: str) -> None:
        section = next((s for s in reversed(self._section) if s), None)
        if section:
            self.sections[name] = section

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "div" and self.inside and self._section:
            self._section.pop()
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.values[self._textarea] += data


def form_of(page: str) -> Form:
    f = Form()
    f.feed(page)
    # A textarea's first newline is not part of its value (HTML: it may follow the start tag).
    f.values = {k: v[1:] if v.startswith("\n") and k.startswith("el-") else v for k, v in f.values.items()}
    return f


def element_fields(f: Form, section: str | None = None) -> set[str]:
    return {n[3:].split("-", 1)[0] for n in f.sections if n.startswith("el-")
            and (section is None or f.sections[n] == section)}


def hint(page: str, field: str) -> str:
    m = re.search(rf'id="{re.escape(field)}-(?:hint|why)"[^>]*>(.*?)</', page, re.S)
    return html.unescape(" ".join(m.group(1).split())) if m else ""


def text(page: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


def example(name: str) -> dict[str, Any]:
    for suffix in (".yaml", ".json"):
        p = EXAMPLES / f"{name}{suffix}"
        if p.exists():
            return service.json_safe(yaml.safe_load(p.read_text(encoding="utf-8")))
    raise FileNotFoundError(name)


def bearer(site: Site) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.client.cookies.get('evidex_session')}"}


def check(site: Site, values: dict[str, str], path: str = "/requests/new/check") -> str:
    r = site.client.post(path, data={**values, "csrf_token": site.csrf("/requests/new")}, headers={"HX-Request": "true"})
    assert r.status_code == 200, r.text
    return r.text


def missing(fragment: str) -> dict[str, str]:
    """The verdict's missing elements: name -> the text shown for it (label, article and title)."""
    return {m.group(1): text(m.group(2)) for m in re.finditer(r'<li data-element="([^"]+)">(.*?)</li>', fragment, re.S)}


# --------------------------------------------------------------------------- the generated form
@pytest.mark.parametrize("request_type", list(RULEBOOK.types))
def test_the_form_of_each_type_lists_exactly_its_elements_with_their_articles(site: Site, request_type: str) -> None:
    site.sign_in("RS", Role.central_authority)
    r = site.client.get(f"/requests/new?type={request_type}&requested_party=ME")
    assert r.status_code == 200
    spec = RULEBOOK.types[request_type]
    f = form_of(r.text)
    required = [e for e in spec.elements if in_elements(e.name)]
    optional = [e for e in spec.optional_elements if in_elements(e.name)]
    assert element_fields(f, "type") == {e.name for e in required}
    assert element_fields(f, "optional") == {e.name for e in optional} - {e.name for e in required}
    for e in (*required, *optional):
        assert e.article in hint(r.text, f"el-{e.name}"), (e.name, hint(r.text, f"el-{e.name}"))
        assert html.escape(e.label, quote=False) in r.text or e.label in text(r.text)
    # The elements read from the document's top level are asked for in their own fields, citing the article.
    top = {"issuing_authority": "ia-name", "addressee.name": "ad-name", "addressee.address": "ad-address",
           "case_reference": "case_reference", "issued_on": "issued_on"}
    for e in spec.elements:
        if e.name in top:
            assert e.article in hint(r.text, top[e.name]), (e.name, hint(r.text, top[e.name]))


def test_a_declarations_additional_element_appears_for_the_party_that_made_it_only(site: Site) -> None:
    """SI declared under CETS224 Art 8(4) that it needs `judicial_authorisation` (its profile); ME did not."""
    site.sign_in("RS", Role.central_authority)
    si = site.client.get("/requests/new?type=give_effect_order&requested_party=SI").text
    me = site.client.get("/requests/new?type=give_effect_order&requested_party=ME").text
    assert "judicial_authorisation" in element_fields(form_of(si), "party")
    assert "CETS224 Art 8(4)" in hint(si, "el-judicial_authorisation")
    assert "Slovenia" in hint(si, "el-judicial_authorisation")
    assert "judicial_authorisation" not in element_fields(form_of(me))
    # The requested Party's own law (ETS185 Art 25(4)): SI asks for domestic_legal_basis, AL does not.
    si_mla = form_of(site.client.get("/requests/new?type=mutual_assistance&requested_party=SI").text)
    al_mla = form_of(site.client.get("/requests/new?type=mutual_assistance&requested_party=AL").text)
    assert {"assistance_sought", "domestic_legal_basis"} <= element_fields(si_mla, "party")
    assert "domestic_legal_basis" not in element_fields(al_mla)


def test_a_declaration_counts_only_from_the_day_it_takes_effect(site: Site) -> None:
    """MK's CETS224 Art 7(5)(a) notification applies from 2027-01-01 (its profile): not on the site's day."""
    site.sign_in("RS", Role.central_authority)
    before = form_of(site.client.get("/requests/new?type=subscriber_order&requested_party=MK").text)
    assert "notification_statement" not in element_fields(before)
    site.clock.now = dt.datetime(2027, 1, 5, 9, 0, tzinfo=dt.UTC)
    site.sign_in("RS", Role.central_authority, "-later")  # the first session has expired meanwhile
    after = form_of(site.client.get("/requests/new?type=subscriber_order&requested_party=MK").text)
    assert "notification_statement" in element_fields(after, "party")


# --------------------------------------------------------------------------- the live verdict
def test_the_check_lists_a_missing_element_with_its_article_and_it_goes_once_filled(own_site: Site) -> None:
    site = own_site
    site.sign_in("RS", Role.competent_authority)
    values = form_of(site.client.get("/requests/new?example=subscriber_order").text).values
    values.pop("action", None)
    values["el-offence"] = ""
    fragment = check(site, values)
    assert "offence" in missing(fragment)
    shown = missing(fragment)["offence"]
    assert "The offence that is the subject of the investigation or proceeding" in shown
    assert "CETS224 Art 7(3)(d)" in shown and "Disclosure of subscriber information" in shown
    assert 'href="#el-offence"' in fragment  # the missing element links to its field
    assert 'hx-swap-oob="innerHTML"' in fragment and "Not admissible yet" in fragment  # the status line
    values["el-offence"] = "Extortion by means of a computer system"
    fragment = check(site, values)
    assert "offence" not in missing(fragment)
    assert "Admissible" in fragment
    # The route (channel, authorities, contacts) and the deadlines as dates, before anything is saved.
    assert "Primer Telekom a.d." in fragment and "CETS224 Art 7(1)" in fragment
    assert "23 Dec 2026" in fragment and "CETS224 Art 7(7)" in fragment
    assert site.client.get("/api/v1/requests", headers=bearer(site)).json()["total"] == 0  # nothing saved


def test_the_check_answers_with_the_new_form_when_the_type_or_party_changes(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    values = form_of(site.client.get("/requests/new?type=subscriber_order&requested_party=ME").text).values
    same = check(site, values)
    assert 'id="draft-body"' not in same  # nothing to redraw
    values.update({"type": "give_effect_order", "requested_party": "SI", "el-protocol_statement": "Pursuant to Art 8"})
    changed = check(site, values)
    assert '<div id="draft-body" hx-swap-oob="innerHTML">' in changed
    assert 'name="el-judicial_authorisation"' in changed and 'name="el-relevance"' in changed
    assert 'name="el-access_number_type"' not in changed  # the old type's element is gone
    assert "judicial_authorisation" in missing(changed)


def test_without_javascript_the_check_button_shows_the_verdict_in_the_page(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    values = form_of(site.client.get("/requests/new?type=preservation&requested_party=ME").text).values
    values.update({"action": "check", "el-offence": "Computer-related fraud"})
    r = site.client.post("/requests/new", data=values)
    assert r.status_code == 200
    assert form_of(r.text).values["el-offence"] == "Computer-related fraud"  # kept
    shown = missing(r.text[r.text.index('id="verdict"'):])
    assert "offence" not in shown and "facts_summary" in shown
    assert "ETS185 Art 29(2)(b)" in shown["facts_summary"]
    # "Show the form" after choosing another type: the form for it, the values it shares kept.
    values.update({"action": "refresh", "type": "mutual_assistance", "requested_party": "SI"})
    r = site.client.post("/requests/new", data=values)
    assert r.status_code == 200
    f = form_of(r.text)
    assert f.values["el-offence"] == "Computer-related fraud"
    assert "data_relation_to_offence" not in element_fields(f)


# --------------------------------------------------------------------------- saving and editing
def _saved_document_of_example(name: str, requested: str, case_reference: str | None = None) -> dict[str, Any]:
    doc = example(name)
    doc["requesting_party"], doc["requested_party"] = "RS", requested
    doc["issued_on"] = TODAY.isoformat()
    doc.pop("received_on", None)
    if case_reference is not None:
        doc["case_reference"] = case_reference
    return doc


@pytest.mark.parametrize("name", ["subscriber_order", "give_effect_order", "domain_registration"])
def test_save_creates_the_draft_the_api_shows(site: Site, name: str) -> None:
    site.sign_in("RS", Role.central_authority)
    page = site.client.get(f"/requests/new?example={name}")
    assert "Filled in from an example" in page.text
    values = form_of(page.text).values
    values.update({"action": "save", "case": "new", "case_new_reference": f"{site.tag}-K-1",
                   "case_new_title": "Hospital extortion"})
    r = site.client.post("/requests/new", data=values, follow_redirects=False)
    assert r.status_code == 303, text(r.text)[:2000]
    request_id = r.headers["location"].split("/")[2].split("?")[0]
    assert r.headers["location"] == f"/requests/{request_id}?notice=draft_saved"
    got = site.client.get(f"/api/v1/requests/{request_id}", headers=bearer(site)).json()
    assert got["status"] == "draft" and got["direction"] == "outgoing"
    requested = values["requested_party"]
    assert got["document"] == _saved_document_of_example(name, requested)
    case = site.client.get(f"/api/v1/cases/{got['case_id']}", headers=bearer(site)).json()
    assert case["reference"] == f"{site.tag}-K-1" and case["title"] == "Hospital extortion"


def _new_draft(site: Site, name: str = "subscriber_order") -> str:
    values = form_of(site.client.get(f"/requests/new?example={name}").text).values
    values.update({"action": "save", "case": "new", "case_new_reference": f"{site.tag}-{name}",
                   "case_new_title": "A case"})
    r = site.client.post("/requests/new", data=values, follow_redirects=False)
    assert r.status_code == 303
    return str(r.headers["location"].split("/")[2].split("?")[0])


def test_a_draft_of_an_existing_case_takes_its_reference_when_the_document_names_none(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    case = site.client.post("/api/v1/cases", json={"reference": f"{site.tag}-EX", "title": "Existing"},
                            headers=bearer(site)).json()
    page = site.client.get(f"/requests/new?example=preservation&case={case['id']}")
    values = form_of(page.text).values
    assert values["case"] == case["id"]
    values.update({"action": "save", "case_reference": ""})
    r = site.client.post("/requests/new", data=values, follow_redirects=False)
    assert r.status_code == 303
    got = site.client.get(f"/api/v1{r.headers['location'].split('?')[0]}", headers=bearer(site)).json()
    assert got["case_id"] == case["id"]
    assert got["document"] == _saved_document_of_example("preservation", "ME", case_reference=f"{site.tag}-EX")


def test_edit_updates_the_draft_and_keeps_what_was_not_changed(site: Site) -> None:
    site.sign_in("RS", Role.competent_authority)
    request_id = _new_draft(site)
    before = site.client.get(f"/api/v1/requests/{request_id}", headers=bearer(site)).json()["document"]
    page = site.client.get(f"/requests/{request_id}/edit")
    assert page.status_code == 200 and "Edit the draft" in page.text
    values = form_of(page.text).values
    assert values["el-offence"] == before["elements"]["offence"]
    assert 'name="type"' not in page.text  # a draft keeps its type
    values.update({"action": "save", "el-offence": "Extortion of a hospital", "el-deadline_and_manner-days": "25"})
    r = site.client.post(f"/requests/{request_id}/edit", data=values, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/requests/{request_id}?notice=draft_updated"
    after = site.client.get(f"/api/v1/requests/{request_id}", headers=bearer(site)).json()
    expected = {**before, "elements": {**before["elements"], "offence": "Extortion of a hospital",
                                       "deadline_and_manner": {**before["elements"]["deadline_and_manner"], "days": 25}}}
    assert after["document"] == expected
    history = site.client.get(f"/api/v1/requests/{request_id}/history", headers=bearer(site)).json()
    assert [e["event"] for e in history] == ["create", "edit"]


def test_the_edit_check_runs_on_the_unsaved_change(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    request_id = _new_draft(site)
    values = form_of(site.client.get(f"/requests/{request_id}/edit").text).values
    values["el-data_description"] = " "
    fragment = check(site, values, f"/requests/{request_id}/edit/check")
    assert "CETS224 Art 7(3)(f)" in missing(fragment)["data_description"]
    stored = site.client.get(f"/api/v1/requests/{request_id}", headers=bearer(site)).json()["document"]
    assert stored["elements"]["data_description"].strip()  # not saved


# --------------------------------------------------------------------------- errors keep the values
def test_errors_re_render_the_form_with_the_values_and_write_nothing(own_site: Site) -> None:
    site = own_site
    site.sign_in("RS", Role.central_authority)
    values = form_of(site.client.get("/requests/new?example=subscriber_order").text).values
    values.update({"action": "save", "issued_on-day": "31", "issued_on-month": "2", "case": "new",
                   "case_new_reference": f"{site.tag}-K-9", "case_new_title": "", "el-deadline_and_manner-days": "ten",
                   "el-offence": "Extortion (ransom demands)"})
    r = site.client.post("/requests/new", data=values)
    assert r.status_code == 422
    assert "There is a problem" in r.text and r.text.count("govuk-error-message") >= 3
    assert "<title>Error: New request" in r.text
    for anchor in ("#issued_on-day", "#case_new_title", "#el-deadline_and_manner-days"):
        assert f'href="{anchor}"' in r.text
    kept = form_of(r.text).values
    for key in ("el-offence", "issued_on-day", "issued_on-month", "case_new_reference", "el-deadline_and_manner-days",
                "el-return_contact", "ad-name"):
        assert kept[key] == values[key], key
    assert site.client.get("/api/v1/requests", headers=bearer(site)).json()["total"] == 0
    assert site.client.get("/api/v1/cases", headers=bearer(site)).json()["total"] == 0


def test_a_case_reference_taken_already_is_said_on_its_field_and_nothing_is_written(own_site: Site) -> None:
    site = own_site
    site.sign_in("RS", Role.central_authority)
    site.client.post("/api/v1/cases", json={"reference": f"{site.tag}-DUP", "title": "First"}, headers=bearer(site))
    values = form_of(site.client.get("/requests/new?example=preservation").text).values
    values.update({"action": "save", "case": "new", "case_new_reference": f"{site.tag}-DUP",
                   "case_new_title": "Second"})
    r = site.client.post("/requests/new", data=values)
    assert r.status_code == 422
    assert "A case with this reference exists already" in r.text and 'href="#case_new_reference"' in r.text
    assert form_of(r.text).values["el-facts_summary"] == values["el-facts_summary"]
    assert site.client.get("/api/v1/requests", headers=bearer(site)).json()["total"] == 0
    assert site.client.get("/api/v1/cases", headers=bearer(site)).json()["total"] == 1


def test_a_domain_refusal_is_shown_in_words_and_nothing_is_half_written(own_site: Site) -> None:
    """A document the service refuses (a text it cannot store) is said on the form in words, and
    the new case opened with it is not kept."""
    site = own_site
    site.sign_in("RS", Role.central_authority)
    values = form_of(site.client.get("/requests/new?example=preservation").text).values
    values.update({"action": "save", "case": "new", "case_new_reference": f"{site.tag}-NUL",
                   "case_new_title": "A case", "el-offence": "Fraud\x00"})
    r = site.client.post("/requests/new", data=values)
    assert r.status_code == 422
    assert "The request could not be saved" in r.text and "Traceback" not in r.text
    assert site.client.get("/api/v1/cases", headers=bearer(site)).json()["total"] == 0


def test_choosing_no_type_or_party_is_an_error_on_those_fields(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    blank = site.client.get("/requests/new")
    assert blank.status_code == 200 and "There is a problem" not in blank.text
    values = form_of(blank.text).values
    values.update({"action": "save", "requested_party": "RS", "type": "no_such_type"})
    r = site.client.post("/requests/new", data=values)
    assert r.status_code == 422
    assert 'href="#type"' in r.text and 'href="#requested_party"' in r.text


# --------------------------------------------------------------------------- who may draft
@pytest.mark.parametrize("role", DRAFTERS)
def test_each_drafting_role_opens_the_form_and_sees_it_in_the_menu(site: Site, role: Role) -> None:
    site.sign_in("RS", role)
    r = site.client.get("/requests/new")
    assert r.status_code == 200 and "New request" in r.text
    assert 'href="/requests/new"' in site.client.get("/").text


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_get_403_and_no_menu_entry(site: Site, role: Role) -> None:
    site.sign_in("RS", role)
    assert site.client.get("/requests/new").status_code == 403
    assert 'href="/requests/new"' not in site.client.get("/").text
    token = site.csrf("/")
    for path in ("/requests/new", "/requests/new/check"):
        r = site.client.post(path, data={"csrf_token": token, "type": "preservation", "requested_party": "ME"})
        assert r.status_code == 403, path


def test_another_partys_draft_is_404_and_a_sent_one_cannot_be_edited(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    request_id = _new_draft(site, "preservation")
    site.client.cookies.clear()
    site.sign_in("SI", Role.central_authority)
    assert site.client.get(f"/requests/{request_id}/edit").status_code == 404
    token = site.csrf("/")
    assert site.client.post(f"/requests/{request_id}/edit", data={"csrf_token": token, "action": "save"}).status_code == 404
    assert site.client.post(f"/requests/{request_id}/edit/check", data={"csrf_token": token}).status_code == 404
    law = site.client.app.state.law
    with site.sessionmaker() as db:  # the request moves on (the lifecycle's shortest path): sent, it keeps its document
        for i, t in enumerate(path_to(law.lifecycle, "outgoing", "sent", "preservation")):
            actor = user(db, "RS", Role(t.roles[0]), name=f"{site.tag}-step{i}")
            service.transition(db, actor=actor, law=law, request_id=uuid.UUID(request_id), event=t.event,
                               now=site.clock.now, command=command_for(t, "preservation", ["email"]))
        db.commit()
    site.client.cookies.clear()
    site.sign_in("RS", Role.central_authority, "-2")
    r = site.client.get(f"/requests/{request_id}/edit")
    assert r.status_code == 409 and "still being drafted" in r.text


def test_the_check_refuses_a_post_without_its_csrf_token(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    r = site.client.post("/requests/new/check", data={"type": "preservation", "requested_party": "ME"},
                         headers={"HX-Request": "true"})
    assert r.status_code == 403


def test_an_unknown_example_is_404(site: Site) -> None:
    site.sign_in("RS", Role.central_authority)
    assert site.client.get("/requests/new?example=../../etc/passwd").status_code == 404


def test_the_examples_are_shipped_in_the_package() -> None:
    from evidex.cases import examples

    shipped = {x.name: x.request_type for x in examples.list_examples()}
    assert set(shipped.values()) == set(RULEBOOK.types)  # a complete example of every type
    assert all(not n.startswith("mistake_") for n in shipped)
    for name in shipped:
        doc = examples.load_example(name)
        assert service.json_safe(doc) == example(name)
    assert default_parties()  # the examples' Parties are the shipped profiles
