"""The letters of the lifecycle (issue 15 item 6), on SQLite and PostgreSQL: the requested Party's
acknowledgement, refusal with its grounds and reasons (ETS185 Art 27(7)), postponement, conditions and
confirmation of preservation with the date until which the data is kept, each rendered from the recorded
event of a request the node of RS received, in the requesting Party's language (or the one asked), sealed
by RS's node and verified valid; listed and served by the API, linked from the request page's timeline,
written by `evidex render REQUEST_ID --letter EVENT`; another Party's request not found, an event that
gives no letter refused by name."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pikepdf
import pikepdf.pdfa
import pytest
import sqlalchemy as sa

from evidex.audit.models import AuditEntry
from evidex.documents import render
from evidex.documents.i18n import Words
from evidex.documents.seal import LETTER_FILE, SIGNATURE_FILE, verify_pdf
from evidex.parties.roles import Role
from evidex.requests.texts import default_texts
from evidex.rules.texts import LOCALES
from evidex.web.security import LANG_COOKIE
from tests.conftest import run_cli
from tests.documents import pdfs
from tests.documents.conftest import pdftext
from tests.documents.letters import (
    CONDITION_TEXT,
    POSTPONEMENT_REASONS,
    PRESERVED_ON,
    REFUSAL_REASONS,
    answer,
    incoming,
    step,
)
from tests.documents.pdfs import RS, VALID_FROM, VALID_UNTIL, trust
from tests.documents.test_official_seal import NOT_UNDERSTOOD
from tests.documents.test_verify_page import text, upload
from tests.factories import document
from tests.web.site import Site

pytestmark = pytest.mark.slow  # dozens of renders, and a subprocess

TEXTS = default_texts()
KEPT_UNTIL = {"preservation": dt.date(2027, 1, 19), "renewal": dt.date(2027, 3, 20)}  # 60 days, then 60 more
GROUNDS = {"refusal": ["ETS185 Art 27(4)(b)", "ETS185 Art 25(4)"], "postponement": ["ETS185 Art 27(5)"]}
FREE_TEXT = {"refusal": REFUSAL_REASONS, "postponement": POSTPONEMENT_REASONS, "conditions": CONDITION_TEXT}
EVENTS = {"acknowledgement": "acknowledge", "refusal": "refuse", "postponement": "postpone",
          "conditions": "propose_conditions", "preservation": "preserve", "renewal": "renew"}


def letter(node: Site, rid: str, event: int, headers: dict[str, str], **params: str) -> Any:
    return node.client.get(f"/api/v1/requests/{rid}/letters/{event}.pdf", params=params, headers=headers)


def squashed(text: str) -> str:
    return "".join(text.split())


def embedded(pdf: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(pdfs.attachment(pdf, LETTER_FILE))
    return loaded


@pytest.mark.parametrize("lang", LOCALES)
def test_every_letter_renders_in_each_language_with_its_title_articles_grounds_and_dates(
        node: Site, tmp_path: Path, lang: str) -> None:
    answered = answer(node)
    assert set(answered.letters) == {spec.kind for spec in node.client.app.state.law.lifecycle.letters.values()}
    words = Words(lang)
    for kind, (rid, event) in answered.letters.items():
        r = letter(node, rid, event, answered.headers, lang=lang, translation_lang="none")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf" and r.headers["content-language"] == lang
        assert r.headers["content-disposition"].startswith(f'attachment; filename="{kind}-')
        shown = pdftext(r.content, tmp_path)
        assert "\ufffd" not in shown, kind
        request_type = "preservation" if kind in ("preservation", "renewal") else "mutual_assistance"
        assert TEXTS.letter_title(kind, lang) in shown, (kind, shown)
        assert " ".join(TEXTS.letter_statement(kind, lang).split()) in shown, kind
        law = node.client.app.state.law
        for article in law.lifecycle.letter_cites(EVENTS[kind], request_type):
            assert article in shown, (kind, article)
        for article in GROUNDS.get(kind, []):
            assert TEXTS.ground_text(request_type, kind, article, lang) in shown and article in shown, (kind, article)
        if kind in FREE_TEXT:  # as written, never translated (a line may break after a hyphen)
            assert squashed(FREE_TEXT[kind]) in squashed(shown), kind
        if kind in KEPT_UNTIL:
            assert words.date(KEPT_UNTIL[kind]) in shown and "ETS185 Art 29(7)" in shown, (kind, shown)
        if kind == "preservation":
            assert words.date(dt.date.fromisoformat(PRESERVED_ON)) in shown
        assert words.date(node.clock.now.date()) in shown  # the letter's date, in the locale
        v = verify_pdf(r.content, trust=trust(RS))
        assert v.status == "valid", v.differences
        assert (v.kind, v.letter, v.party, v.request_id, v.lang) == ("letter", kind, "RS", rid, lang)
        content = embedded(r.content)
        assert (content["letter"], content["event"]["id"], content["request"]["id"]) == (kind, event, rid)
        assert content["from"]["party"] == "RS" and content["request"]["requested_party"] == "RS"
        assert r.headers["x-evidex-letter-sha256"] in shown


def test_the_letter_embeds_its_own_content_decision_grounds_reasons_conditions_and_dates(node: Site) -> None:
    answered = answer(node)
    pdf = letter(node, *answered.letters["refusal"], answered.headers).content
    with pikepdf.open(io.BytesIO(pdf)) as p:  # PDF/A-3b as far as pikepdf's validator sees (test_official_seal.py)
        assert sorted(p.attachments) == [LETTER_FILE, SIGNATURE_FILE]
        findings = pikepdf.pdfa.check(p, "3b").findings
    assert not [f for f in findings if f.kind == "violation" and not any(w in f.message for w in NOT_UNDERSTOOD)]
    refusal = embedded(pdf)
    assert refusal["letter"] == "refusal" and refusal["cites"] == ["ETS185 Art 27(7)"]
    assert refusal["decision"] == {"kind": "refusal", "grounds": GROUNDS["refusal"], "reasons": REFUSAL_REASONS}
    assert refusal["event"]["name"] == "refuse" and refusal["event"]["to"] == "refused"
    assert refusal["request"]["type"] == "mutual_assistance" and refusal["request"]["requesting_party"] == "SI"
    assert refusal["from"]["authority"] == "central_authority" and refusal["to"]["party"] == "SI"
    conditions = embedded(letter(node, *answered.letters["conditions"], answered.headers).content)
    assert conditions["conditions"] == [{"kind": "use_limitation", "text": CONDITION_TEXT,
                                         "article": "ETS185 Art 28(2)(b)"}]
    assert conditions["cites"] == ["ETS185 Art 27(6)", "ETS185 Art 28(3)"]
    postponement = embedded(letter(node, *answered.letters["postponement"], answered.headers).content)
    assert "conditions" not in postponement  # proposed later, at the same instant: not part of this letter
    renewal = embedded(letter(node, *answered.letters["renewal"], answered.headers).content)
    assert renewal["preservation"] == {"preserved_until": "2027-03-20", "days": 60, "article": "ETS185 Art 29(7)"}
    preserved = embedded(letter(node, *answered.letters["preservation"], answered.headers).content)
    assert preserved["preservation"]["preserved_on"] == PRESERVED_ON


def test_by_default_in_the_requesting_partys_language_the_requests_own_when_it_accepts_it(
        node: Site, tmp_path: Path) -> None:
    ca = node.api_headers("RS", Role.central_authority)
    cases = {  # (requesting Party, the request's language) -> the letter's; SI accepts sl, en; ME cnr, sr, en
        ("SI", "en"): "en", ("SI", "sl"): "sl", ("ME", "fr"): "cnr", ("ME", "sr-Latn"): "sr-Latn"}
    for (party, language), expected in cases.items():
        rid = incoming(node, "preservation", party, ca, language=language)
        step(node, rid, ca, "acknowledge")
        r = letter(node, rid, 2, ca)
        assert r.status_code == 200 and r.headers["content-language"] == expected, (party, language)
        assert TEXTS.letter_title("acknowledgement", expected) in pdftext(r.content, tmp_path)
    # bilingual: both titles, and the seal names both languages
    r = letter(node, rid, 2, ca, lang="cnr", translation_lang="sr-Cyrl")
    assert r.status_code == 200 and r.headers["content-language"] == "cnr, sr-Cyrl"
    shown = pdftext(r.content, tmp_path)
    assert TEXTS.letter_title("acknowledgement", "cnr") in shown and TEXTS.letter_title("acknowledgement", "sr-Cyrl") in shown
    v = verify_pdf(r.content, trust=trust(RS))
    assert (v.status, v.lang, v.translation_lang) == ("valid", "cnr", "sr-Cyrl")
    assert letter(node, rid, 2, ca, lang="de").json()["detail"].startswith("lang: unknown language 'de'")


def test_the_api_lists_a_requests_letters_and_audits_each_one_produced(node: Site) -> None:
    answered = answer(node)
    r = node.client.get(f"/api/v1/requests/{answered.mla}/letters", params={"lang": "fr"}, headers=answered.headers)
    assert r.status_code == 200, r.text
    assert [(x["event_id"], x["event"], x["kind"], x["title"]) for x in r.json()] == [
        (2, "acknowledge", "acknowledgement", "Accusé de réception"),
        (3, "postpone", "postponement", "Ajournement de la demande"),
        (5, "propose_conditions", "conditions", "Conditions d'exécution de la demande")]
    assert r.json()[1]["cites"] == ["ETS185 Art 27(7)"] and r.json()[0]["at"].startswith("2026-11-23")
    # a request RS sent: the other Party writes the letters
    case = node.client.post("/api/v1/cases", json={"reference": "OUT-1", "title": "Sent"}, headers=answered.headers)
    sent = node.client.post("/api/v1/requests", json={"case_id": case.json()["id"],
                                                      "document": document("mutual_assistance", "RS", "SI")},
                            headers=answered.headers).json()["id"]
    assert node.client.get(f"/api/v1/requests/{sent}/letters", headers=answered.headers).json() == []
    r = letter(node, sent, 1, answered.headers)
    assert r.status_code == 422 and "letters are written by the requested Party" in r.json()["detail"]
    assert letter(node, answered.refused, 3, answered.headers).status_code == 200
    with node.sessionmaker() as db:
        [entry] = db.execute(sa.select(AuditEntry).where(AuditEntry.action == "request.letter")).scalars()
    assert entry.personal_data and entry.object_id == answered.refused and entry.actor.endswith("-api")
    assert (entry.details["event"], entry.details["letter"], entry.details["sealed"]) == (3, "refusal", True)


def test_another_party_gets_not_found_and_an_event_without_a_letter_is_refused_by_name(node: Site) -> None:
    answered = answer(node)
    provider = node.api_headers_of(*node.person("RS", Role.service_provider, "-api", provider="Primer d.o.o."))
    for headers in (node.api_headers("SI", Role.central_authority), provider):
        assert node.client.get(f"/api/v1/requests/{answered.mla}/letters", headers=headers).status_code == 404
        r = letter(node, answered.mla, 2, headers)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert letter(node, answered.mla, 2, {}).status_code == 401
    r = letter(node, answered.mla, 4, answered.headers)  # start_execution
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == ("event 4 (start_execution) gives no letter: letters are given by the events "
                                  "acknowledge, refuse, postpone, propose_conditions, preserve, renew; this "
                                  "request's letters: events 2 (acknowledgement), 3 (postponement), 5 (conditions)")
    r = letter(node, answered.mla, 99, answered.headers)
    assert r.status_code == 404 and r.json()["detail"] == "no event 99 in the history of this request"
    assert node.client.get(f"/api/v1/requests/{uuid.uuid4()}/letters/2.pdf", headers=answered.headers).status_code == 404
    with node.sessionmaker() as db:
        assert not db.execute(sa.select(AuditEntry).where(AuditEntry.action == "request.letter")).first()


def _with_letter_seal_of(pdf: bytes, sealed_pdf: bytes) -> bytes:
    """`pdf` carrying the letter and seal of `sealed_pdf` (another letter rendered under the old seal)."""
    with pikepdf.open(io.BytesIO(pdf)) as p:
        for name in (LETTER_FILE, SIGNATURE_FILE):
            if name in p.attachments:
                del p.attachments[name]
            p.attachments[name] = pikepdf.AttachedFileSpec(p, pdfs.attachment(sealed_pdf, name), filename=name)
        out = io.BytesIO()
        p.save(out)
        return out.getvalue()


def test_a_changed_letter_says_altered_naming_what_differs(node: Site) -> None:
    answered = answer(node)
    original = letter(node, *answered.letters["refusal"], answered.headers).content
    body = pdfs.attachment(original, LETTER_FILE)
    i = body.index(b"Sicherheit")
    v = verify_pdf(pdfs.replace_attachment(original, LETTER_FILE, body[:i] + b"Z" + body[i + 1:]), trust=trust(RS))
    assert v.status == "altered" and v.kind == "letter"
    assert [(d.kind, d.field) for d in v.differences] == [("request_field", "decision.reasons")]
    assert "the embedded letter's decision.reasons was changed" in str(v.differences[0])
    # the visible reasons changed: another refusal's letter under this one's seal
    other = incoming(node, "mutual_assistance", "SI", answered.headers)
    step(node, other, answered.headers, "refuse", grounds=["ETS185 Art 27(4)(b)", "ETS185 Art 25(4)"],
         reasons="The execution would prejudice an essential interest.")
    forged = _with_letter_seal_of(letter(node, other, 2, answered.headers).content, original)
    v = verify_pdf(forged, trust=trust(RS))
    assert v.status == "altered"
    reasons = [d for d in v.differences if d.kind == "line_changed" and d.field == "decision.reasons"]
    assert reasons and reasons[0].found == "The execution would prejudice an essential interest.", v.differences
    r = node.client.post("/api/v1/verify", content=original,
                         headers={**answered.headers, "Content-Type": "application/pdf"})
    assert r.status_code == 200 and (r.json()["status"], r.json()["kind"], r.json()["letter"]) == (
        "valid", "letter", "refusal")
    assert r.json()["reference"] == "VTK-KTR-1127/2026" and r.json()["request_type"] == "mutual_assistance"


def test_the_request_page_links_each_letter_of_its_timeline(node: Site, tmp_path: Path) -> None:
    answered = answer(node)
    node.sign_in("RS", Role.central_authority)
    page = node.client.get(f"/requests/{answered.mla}")
    assert page.status_code == 200
    links = [f'href="/requests/{answered.mla}/letters/{n}.pdf"' for n in (2, 3, 5)]
    assert all(link in page.text for link in links) and page.text.count("Letter (PDF)") == 3
    assert f'/requests/{answered.mla}/letters/4.pdf' not in page.text
    assert "Postponement of the request" in text(page.text)  # the link's purpose, for a screen reader
    r = node.client.get(f"/requests/{answered.mla}/letters/3.pdf", params={"lang": "sl"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert TEXTS.letter_title("postponement", "sl") in pdftext(r.content, tmp_path)
    r = node.client.get(f"/requests/{answered.mla}/letters/4.pdf")
    assert r.status_code == 422 and "gives no letter" in r.text
    # the public page verifies a letter as a letter
    v = upload(node, node.client.get(f"/requests/{answered.mla}/letters/3.pdf").content)
    assert 'data-evx-verification="valid"' in v.text and "the letter it carries" in text(v.text)
    assert "Postponement of the request" in text(v.text)
    node.client.cookies.clear()
    node.sign_in("SI", Role.central_authority)
    assert node.client.get(f"/requests/{answered.mla}/letters/3.pdf").status_code == 404


def test_the_request_page_speaks_the_readers_language(node: Site) -> None:
    answered = answer(node)
    node.sign_in("RS", Role.central_authority)
    node.client.cookies.set(LANG_COOKIE, "sr-Cyrl")
    page = node.client.get(f"/requests/{answered.refused}").text
    assert "Допис (PDF)" in page and TEXTS.letter_title("refusal", "sr-Cyrl") in page


def test_without_fonts_the_node_answers_503_not_the_users_input(node: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    answered = answer(node)

    def no_fonts() -> render._Engine:
        raise render.RenderUnavailable("official documents need the Noto fonts (Debian: fonts-noto-core); missing: "
                                       "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf")

    monkeypatch.setattr(render, "engine", no_fonts)
    r = letter(node, *answered.letters["refusal"], answered.headers)
    assert r.status_code == 503 and r.json()["code"] == "unavailable" and "Noto fonts" in r.json()["detail"]
    r = node.client.get(f"/api/v1/requests/{answered.refused}/document.pdf", headers=answered.headers)
    assert r.status_code == 503
    node.sign_in("RS", Role.central_authority)
    r = node.client.get(f"/requests/{answered.refused}/letters/3.pdf")
    assert r.status_code == 503 and "Noto fonts" in r.text


def test_the_command_line_writes_a_letter(node: Site, tmp_path: Path) -> None:
    answered = answer(node)
    env = {"EVIDEX_DATABASE_URL": node.client.app.state.settings.database_url, "EVIDEX_NODE_PARTY": "RS",
           "EVIDEX_NODE_DIR": str(tmp_path / "no-node")}
    rid, event = answered.letters["refusal"]
    out = tmp_path / "refusal.pdf"
    r = run_cli("render", rid, "--letter", str(event), "--lang", "sr-Cyrl", "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"wrote {out}: ") and "letter (refusal), sr-Cyrl, not sealed (no node keys)" in r.stdout
    shown = pdftext(out.read_bytes(), tmp_path)
    assert TEXTS.letter_title("refusal", "sr-Cyrl") in shown and REFUSAL_REASONS in shown
    with node.sessionmaker() as db:
        assert db.execute(sa.select(AuditEntry.actor).where(AuditEntry.action == "request.letter")).scalar_one() == "cli"
    r = run_cli("render", rid, "--letter", "1", "--out", str(tmp_path / "x.pdf"), env=env)
    assert r.returncode == 2 and r.stderr.startswith("evidex: error: event 1 (create) gives no letter")
    assert len(r.stderr.splitlines()) == 1 and not (tmp_path / "x.pdf").exists()
    r = run_cli("render", "examples/requests/preservation.yaml", "--letter", "2", env=env)
    assert r.returncode == 2 and "--letter needs the id of a request this node holds" in r.stderr
    # the letter RS's node sealed, verified offline by one who trusts RS's node document
    (tmp_path / "sealed.pdf").write_bytes(letter(node, rid, event, answered.headers).content)
    (tmp_path / "rs.json").write_text(json.dumps(RS.public_document(VALID_FROM, VALID_UNTIL)), encoding="utf-8")
    r = run_cli("verify", str(tmp_path / "sealed.pdf"), "--trust", str(tmp_path / "rs.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("VALID: sealed by the node of RS; the letter and every page are as signed")
    assert f"letter:     refusal, answering the request {rid}" in r.stdout


def test_between_parties_with_an_mla_treaty_a_letter_cites_the_treaty_not_articles_27_and_28(
        node: Site, tmp_path: Path) -> None:
    """ETS185 Art 27(1), 28(1): between Parties with a mutual assistance treaty in force (ME and RS: their
    profiles' mla_treaties) Art 27 and 28 do not apply. A refusal from RS to ME cites Art 27(1) and the treaty,
    not Art 27(7); a condition is the treaty's, not Art 28(2)(b)'s. Between RS and SI (no treaty) they apply."""
    law = node.client.app.state.law
    assert law.rulebook.types["mutual_assistance"].displaced_by_mla_treaty.displaces == ["ETS185 Art 27",
                                                                                       "ETS185 Art 28"]
    ca = node.api_headers("RS", Role.central_authority)
    from_me = incoming(node, "mutual_assistance", "ME", ca)
    step(node, from_me, ca, "acknowledge")
    step(node, from_me, ca, "start_execution")
    step(node, from_me, ca, "propose_conditions", conditions=[{"kind": "use_limitation", "text": CONDITION_TEXT}])
    refused = incoming(node, "mutual_assistance", "ME", ca)
    step(node, refused, ca, "acknowledge")
    step(node, refused, ca, "refuse", grounds=["ETS185 Art 25(4)"], reasons=REFUSAL_REASONS)
    listed = node.client.get(f"/api/v1/requests/{refused}/letters", headers=ca).json()
    assert [x["cites"] for x in listed if x["kind"] == "refusal"] == [["ETS185 Art 27(1)"]]

    r = letter(node, refused, 3, ca, lang="en", translation_lang="none")
    assert r.status_code == 200, r.text
    shown = pdftext(r.content, tmp_path)
    assert "ETS185 Art 27(1) – As provided by the mutual assistance treaty between ME and RS" in shown, shown
    assert "27(7)" not in shown
    assert embedded(r.content)["cites"] == ["ETS185 Art 27(1)"]
    assert verify_pdf(r.content, trust=trust(RS)).status == "valid"
    serbian = pdftext(letter(node, refused, 3, ca, lang="sr-Cyrl", translation_lang="none").content, tmp_path)
    assert TEXTS.text("type.mutual_assistance.mla_treaty.channel", "sr-Cyrl").format(
        requesting="ME", requested="RS") in serbian

    conditions = letter(node, from_me, 4, ca, lang="en", translation_lang="none")
    assert conditions.status_code == 200, conditions.text
    content = embedded(conditions.content)
    assert content["cites"] == ["ETS185 Art 27(1)"]
    assert [(c["kind"], c.get("article")) for c in content["conditions"]] == [("use_limitation", None)]
    shown = pdftext(conditions.content, tmp_path)
    assert "28(" not in shown, shown

    from_si = incoming(node, "mutual_assistance", "SI", ca)  # no treaty: the Convention's articles
    step(node, from_si, ca, "acknowledge")
    step(node, from_si, ca, "start_execution")
    step(node, from_si, ca, "propose_conditions", conditions=[{"kind": "use_limitation", "text": CONDITION_TEXT}])
    content = embedded(letter(node, from_si, 4, ca, lang="en").content)
    assert content["cites"] == ["ETS185 Art 27(6)", "ETS185 Art 28(3)"]
    assert [c["article"] for c in content["conditions"]] == ["ETS185 Art 28(2)(b)"]


def test_under_an_mla_treaty_a_refusal_or_postponement_is_on_the_treatys_grounds(node: Site, tmp_path: Path) -> None:
    """ETS185 Art 27(1): between ME and RS their treaty's grounds apply, which Art 25(4) refers to — not Art
    27(4) (refusal) nor 27(5) (postponement). The API refuses those by name, the page offers only 25(4), and the
    postponement letter gives the treaty's ground in words. From SI (no treaty) 27(4) and 27(5) stay open."""
    ca = node.api_headers("RS", Role.central_authority)
    from_me = incoming(node, "mutual_assistance", "ME", ca)
    step(node, from_me, ca, "acknowledge")
    for event, ground in (("refuse", "ETS185 Art 27(4)(b)"), ("postpone", "ETS185 Art 27(5)")):
        r = node.client.post(f"/api/v1/requests/{from_me}/transitions", headers=ca,
                             json={"event": event, "grounds": [ground], "reasons": REFUSAL_REASONS})
        assert r.status_code == 422, r.text
        assert ground in r.text and "mutual assistance treaty applies (ETS185 Art 27(1))" in r.text
        assert "grounds: ETS185 Art 25(4)" in r.text
    node.sign_in("RS", Role.central_authority)
    page = node.client.get(f"/requests/{from_me}").text
    offered = set(re.findall(r'name="grounds" type="checkbox" value="([^"]+)"', page))
    assert offered == {"ETS185 Art 25(4)"}, offered
    step(node, from_me, ca, "postpone", grounds=["ETS185 Art 25(4)"], reasons=POSTPONEMENT_REASONS)  # event 3
    content = embedded(letter(node, from_me, 3, ca, lang="en").content)
    assert content["cites"] == ["ETS185 Art 27(1)"] and content["decision"]["grounds"] == ["ETS185 Art 25(4)"]
    shown = pdftext(letter(node, from_me, 3, ca, lang="fr", translation_lang="none").content, tmp_path)
    assert TEXTS.ground_text("mutual_assistance", "postponement", "ETS185 Art 25(4)", "fr") in shown
    assert "ajournement" in TEXTS.ground_text("mutual_assistance", "postponement", "ETS185 Art 25(4)", "fr")

    from_si = incoming(node, "mutual_assistance", "SI", ca)
    step(node, from_si, ca, "acknowledge")
    step(node, from_si, ca, "postpone", grounds=["ETS185 Art 27(5)"], reasons=POSTPONEMENT_REASONS)
