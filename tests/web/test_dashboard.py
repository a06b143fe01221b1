"""The dashboard: emergencies first (polled fragment), deadlines, approvals, notifications (in process)."""

from __future__ import annotations

import datetime as dt
import uuid

from evidex.parties.roles import Role
from evidex.workers.deadlines import run_once
from tests.factories import document
from tests.web.site import Site, own_site

__all__ = ["own_site"]


def create(site: Site, headers: dict[str, str], kind: str, requesting: str, requested: str, **changes: object) -> str:
    r = site.client.post("/api/v1/cases", json={"reference": f"K-{uuid.uuid4().hex[:8]}", "title": "Ransomware"},
                         headers=headers)
    assert r.status_code == 201, r.text
    doc = document(kind, requesting, requested)
    doc.update(changes)
    r = site.client.post("/api/v1/requests", json={"case_id": r.json()["id"], "document": doc}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def move(site: Site, headers: dict[str, str], rid: str, event: str, **body: object) -> None:
    r = site.client.post(f"/api/v1/requests/{rid}/transitions", json={"event": event, **body}, headers=headers)
    assert r.status_code == 200, r.text


def reference_of(site: Site, headers: dict[str, str], rid: str) -> str:
    case_id = site.client.get(f"/api/v1/requests/{rid}", headers=headers).json()["case_id"]
    return str(site.client.get(f"/api/v1/cases/{case_id}", headers=headers).json()["reference"])


def test_an_emergency_is_first_on_the_24_7_contacts_dashboard_and_in_the_polled_region(own_site: Site) -> None:
    site = own_site
    c247 = site.api_headers("RS", Role.contact_24_7)
    rid = create(site, c247, "emergency_disclosure", "RS", "ME")
    plain = create(site, c247, "mutual_assistance", "RS", "SI")  # not urgent: no emergency
    ref = reference_of(site, c247, rid)
    site.sign_in("RS", Role.contact_24_7)
    page = site.client.get("/").text
    region = page.split('id="emergencies"', 1)[1].split("</section>", 1)[0]
    assert ref in region and f'data-evx-emergency="{rid}"' in region
    assert plain not in region
    assert "Disclosure of stored computer data in an emergency" in region or "emergency" in region.lower()
    fragment = site.client.get("/dashboard/emergencies", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and f'data-evx-emergency="{rid}"' in fragment.text
    assert "<html" not in fragment.text  # a fragment, not a page
    assert 'hx-trigger="every 2s"' in fragment.text
    assert site.client.get("/dashboard/emergencies", follow_redirects=False).status_code == 303  # no HTMX: the page


def test_another_partys_emergency_never_shows(own_site: Site) -> None:
    site = own_site
    rid = create(site, site.api_headers("RS", Role.contact_24_7), "emergency_disclosure", "RS", "ME")
    site.sign_in("SI", Role.contact_24_7)
    assert rid not in site.client.get("/").text
    assert rid not in site.client.get("/dashboard/emergencies", headers={"HX-Request": "1"}).text


def test_a_closed_emergency_leaves_the_dashboard(own_site: Site) -> None:
    site = own_site
    c247 = site.api_headers("RS", Role.contact_24_7)
    rid = create(site, c247, "emergency_disclosure", "RS", "ME")
    move(site, c247, rid, "withdraw", reasons="Child found")
    site.sign_in("RS", Role.contact_24_7)
    assert f'data-evx-emergency="{rid}"' not in site.client.get("/").text


def test_a_draft_waits_for_a_second_persons_approval_not_the_drafters(own_site: Site) -> None:
    site = own_site
    drafter = site.person("RS", Role.central_authority, "-drafter")
    rid = create(site, site.api_headers_of(*drafter), "mutual_assistance", "RS", "SI")
    headers = site.api_headers("RS", Role.central_authority, "-arranger")
    move(site, headers, rid, "check")
    ref = reference_of(site, headers, rid)
    site.sign_in("RS", Role.central_authority, "-second")
    page = site.client.get("/").text
    assert "Waiting for your approval" in page and ref in page
    site.client.cookies.clear()
    site.clock.now += dt.timedelta(seconds=60)  # the drafter's code of the API sign-in is spent: a new one
    site.sign_in_as(*drafter)
    assert "Waiting for your approval" not in site.client.get("/").text


def test_an_emergency_sent_alone_shows_its_review_deadline_and_notification_which_can_be_marked_read(own_site: Site) -> None:
    site = own_site
    c247 = site.api_headers("RS", Role.contact_24_7)
    rid = create(site, c247, "emergency_disclosure", "RS", "ME")
    move(site, c247, rid, "send_outside", means="network_24_7")  # alone; ME has no node here
    ref = reference_of(site, c247, rid)
    site.sign_in("RS", Role.central_authority)
    page = site.client.get("/").text
    deadlines = page.split('id="deadlines-heading"', 1)[1].split("</section>", 1)[0]
    assert ref in deadlines and "CETS224 Art 9" in deadlines
    assert "24 Nov 2026" in deadlines and "in 1 day" in deadlines  # due the next day (lifecycle data)
    notes = page.split('id="notifications-heading"', 1)[1]
    assert "Review due" in notes and "1 unread notification" in notes
    r = site.client.post("/notifications/read", data={"csrf_token": site.csrf("/")}, follow_redirects=False)
    assert r.status_code == 303
    after = site.client.get(r.headers["location"]).text
    assert "Notifications marked as read." in after and "No unread notification." in after
    # Overdue after its day, shown as such.
    site.clock.now = site.clock.now + dt.timedelta(days=3)
    assert site.client.get("/", follow_redirects=False).status_code == 303  # the session has expired meanwhile
    site.sign_in("RS", Role.central_authority, "-later")
    later = site.client.get("/").text.split('id="deadlines-heading"', 1)[1].split("</section>", 1)[0]
    assert "Overdue" in later and "2 days overdue" in later


def test_the_dashboard_in_serbian_counts_days_in_serbian(own_site: Site) -> None:
    site = own_site
    c247 = site.api_headers("RS", Role.contact_24_7)
    rid = create(site, c247, "emergency_disclosure", "RS", "ME")
    move(site, c247, rid, "send_outside", means="network_24_7")  # alone; ME has no node here
    site.sign_in("RS", Role.central_authority)
    r = site.client.post("/language", data={"csrf_token": site.csrf("/"), "lang": "sr-Cyrl", "next": "/"},
                         follow_redirects=False)
    assert r.status_code == 303
    page = site.client.get("/").text
    assert '<html lang="sr-Cyrl"' in page
    assert "за 1 дан" in page  # Babel's Serbian: "in 1 day"
    notes = page.split('id="notifications-heading"', 1)[1]
    # The notification in the reader's language, from what it is about (not the stored English message).
    assert "друго лице мора да га прегледа до" in notes
    assert "alone as an emergency" not in notes


def test_a_deadline_workers_notifications_read_in_the_readers_language(own_site: Site) -> None:
    """The deadline worker's reminder, overdue and next-step notifications: the stored English message is the
    API's; the page says each in French from the deadline, its date and the rule data's next step."""
    site = own_site
    ca = site.api_headers("RS", Role.central_authority)
    ca2 = site.api_headers("RS", Role.central_authority, "-2")
    rid = create(site, ca, "preservation", "RS", "ME")
    for who, event in ((ca, "check"), (ca2, "approve")):
        move(site, who, rid, event)
    move(site, ca, rid, "send_outside", means="email")  # ME has no node here
    move(site, ca, rid, "record_preserved")  # the requested Party confirms: the preservation period runs
    later = site.clock.now + dt.timedelta(days=120)  # past the minimum 60 days (ETS185 Art 29(7))
    run_once(site.sessionmaker, later)
    site.clock.now = later
    site.sign_in("RS", Role.central_authority, "-fr")
    r = site.client.post("/language", data={"csrf_token": site.csrf("/"), "lang": "fr", "next": "/"},
                         follow_redirects=False)
    assert r.status_code == 303
    notes = site.client.get("/").text.split('id="notifications-heading"', 1)[1]
    assert "Échéance dépassée le" in notes and "État actuel de la demande" in notes
    assert "passed on" not in notes and "Deadline preservation" not in notes  # the stored English stays out
    assert "La période minimale de conservation est écoulée" in notes  # the next step, from the rule data
