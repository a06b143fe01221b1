"""A request's page is read in several statements, each audited read committing its log entry; a step
applied meanwhile (the worker applying the other node's message) must not show in half. Found by the
browser journey (tests/web/test_browser_journey.py): a condition shown as proposed on a page that
still said "Sent" and offered no way to accept it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from evidex.cases import service as cases
from evidex.parties.roles import Role
from tests.web.site import Site, site
from tests.web.test_requests import action_forms, main, move, new_request, person

__all__ = ["site"]


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_step_applied_while_the_page_is_read_is_shown_whole(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    drafter = person(site, site.sign_in("RS", Role.central_authority))
    approver = person(site, site.sign_in("RS", Role.central_authority, "-2"))
    site.client.cookies.clear()
    site.sign_in("RS", Role.central_authority, "-viewer")
    rid = new_request(site, drafter, "mutual_assistance", "SI")
    for event, who in (("check", drafter), ("approve", approver), ("send_outside", drafter)):  # SI: no node here
        move(site, rid, event, who)
    read = cases.conditions_of
    landed: list[bool] = []

    def conditions_while_a_step_lands(db: Any, **kwargs: Any) -> Any:
        if not landed:  # the other node's proposal is applied just as the page reads the conditions
            landed.append(True)
            move(site, rid, "record_conditions", approver,
                 conditions=[{"kind": "confidentiality", "text": "Keep the request confidential"}])
        return read(db, **kwargs)

    monkeypatch.setattr(cases, "conditions_of", conditions_while_a_step_lands)
    page = site.client.get(f"/requests/{rid}")
    assert page.status_code == 200 and landed
    body = main(page.text)
    conditions = words(body.split('id="conditions-heading"', 1)[1].split("</section>", 1)[0])
    assert "Proposed Confidentiality" in conditions and "Keep the request confidential" in conditions, conditions
    assert "State Conditions proposed" in words(body)  # the state the condition belongs to
    assert "accept_conditions" in action_forms(body)  # and the answer to it, offered
