"""The rules engine's verdict read in the reader's language on the request page: a missing element by its
label, the warning that an MLA treaty governs (ETS185 Art 27(1)), and every obligation the rule data words —
in the words of the rule data's translation; a message the engine composes itself stays English, marked so."""

from __future__ import annotations

from evidex.parties.roles import Role
from evidex.requests.texts import default_texts
from tests.factories import document
from tests.web.site import Site, site
from tests.web.test_party_law_elements import posted, to_serbian, words

__all__ = ["site"]

TEXTS = default_texts()


def test_the_verdict_in_the_readers_language(site: Site) -> None:
    doc = document("mutual_assistance", "RS", "ME")  # ME's law requires an offence (its profile); a treaty
    doc["elements"] = {k: v for k, v in doc["elements"].items() if k != "offence"}
    request = posted(site, doc)
    verdict = request["verdict"]
    assert [p["code"] for p in verdict["problems"]] == ["missing_element"]
    assert "mla_treaty_applies" in [w["code"] for w in verdict["warnings"]] and verdict["obligations"]
    site.sign_in("RS", Role.central_authority)
    to_serbian(site)
    page = words(site.client.get(f"/requests/{request['id']}").text)
    assert "Недостаје: Кривично дело" in page
    treaty = TEXTS.text("type.mutual_assistance.mla_treaty.warning", "sr-Cyrl").format(requesting="RS", requested="ME")
    assert " ".join(treaty.split()) in page
    for finding in verdict["problems"][1:] + verdict["warnings"] + verdict["obligations"]:
        said = TEXTS.finding_text(finding, "mutual_assistance", "RS", "ME", "sr-Cyrl")
        assert said is not None, finding  # the data words every one of these
        assert " ".join(said.split()) in page and finding["message"] not in page, finding


def test_a_message_the_engine_composes_stays_english_and_is_marked_so() -> None:
    composed = {"code": "instrument_not_binding", "message": "BA is not bound by CETS224 on 2026-11-23."}
    assert TEXTS.finding_text(composed, "subscriber_order", "RS", "BA", "fr") is None
    obligation = {"by": "requested", "article": "ETS185 Art 31(3)",
                  "message": "Respond on an expedited basis where the data is particularly vulnerable to loss or "
                             "modification"}
    assert TEXTS.finding_text(obligation, "mutual_assistance", "RS", "SI", "fr") not in (None, obligation["message"])
