"""Every request type in every language as an official document (issue 15 items 1-3): the PDF renders in
process; its text layer (pdftotext) shows the type title, every element's treaty label and article in that
language, page numbers, and no replacement character; every character it shows is in the embedded Noto
fonts (no .notdef) and pdffonts lists only them, embedded. PDF/A-3b and tagging are checked on the file's
own metadata with pikepdf: no PDF/A validator (veraPDF) installs on these machines."""

from __future__ import annotations

import functools
import io
import re
import subprocess

import pikepdf
import pytest
from fontTools.ttLib import TTFont

from evidex.cases.service import json_safe
from evidex.core.canonical import canonical_json
from evidex.core.errors import InvalidInput
from evidex.documents import render
from evidex.documents.i18n import Words
from evidex.documents.seal import REQUEST_FILE, verify_pdf
from evidex.documents.service import choose_languages, document_from_file
from evidex.exchange import keys
from evidex.rules.document import parse_document
from evidex.rules.elements import element_value, is_present
from evidex.rules.form import draft_form
from evidex.rules.texts import LOCALES
from tests.conftest import COMPLETE, load_example
from tests.documents.conftest import AS_OF, NOW, pdffonts, pdftext
from tests.documents.pdfs import attachment, trust

pytestmark = pytest.mark.slow  # 70 renders: started first by parallel runs (tests/conftest.py)


# The nodes of the issuing Parties: a document the requesting Party's node renders is sealed by it.
NODES = {p: keys.generate(p, f"https://{p.lower()}.example:8443") for p in ("RS", "ME", "SI", "BA", "AL", "MK")}


def rendered(law, name: str, lang: str, translation: str | None = None, *, sealed: bool = False, **changes):
    data = load_example(name)
    data.update(changes)
    identity = NODES[data["requesting_party"]] if sealed else None
    return document_from_file(law, data, now=NOW, lang=lang, translation_lang=translation, as_of=AS_OF,
                              identity=identity)


@functools.cache
def noto_characters() -> frozenset[int]:
    """Every character the embedded font files can draw."""
    out: set[int] = set()
    for name in render.FONT_FILES:
        out |= set(TTFont(render.FONT_DIR / name, lazy=True).getBestCmap())
    return frozenset(out)


def words(text: str) -> str:
    return " ".join(text.split())


def expected_labels(law, data) -> list[tuple[str | None, str]]:
    """(element name, article) of each element the document gives, in the order of the form."""
    doc, _ = parse_document(json_safe(data))
    form = draft_form(law.rulebook, law.parties, doc.type, doc.requesting_party, doc.requested_party, AS_OF)
    return [(e.name, e.article) for e in form.elements if is_present(element_value(doc, e.name))]


@pytest.mark.parametrize("lang", LOCALES)
@pytest.mark.parametrize("name", COMPLETE)
def test_every_type_in_every_language_shows_the_law_in_that_language(law, name, lang, tmp_path) -> None:
    doc = rendered(law, name, lang, sealed=True)
    assert doc.pdf.startswith(b"%PDF-1.7") and doc.lang == lang and doc.sealed
    # The request it shows is embedded, as canonical JSON, and the node's seal over it verifies.
    assert attachment(doc.pdf, REQUEST_FILE) == canonical_json(json_safe(load_example(name)))
    verdict = verify_pdf(doc.pdf, trust=trust(NODES[doc.document["requesting_party"]]))
    assert verdict.status == "valid", verdict.differences[:3]
    text = pdftext(doc.pdf, tmp_path)
    data = load_example(name)
    rtype = data["type"]
    assert words(law.texts.type_title(rtype, lang)) in text
    assert words(law.texts.instrument_title(law.rulebook.types[rtype].article.split()[0], lang)) in text
    for element, article in expected_labels(law, data):
        label = law.texts.element_label(rtype, element, lang)
        if label is not None:  # the type's own or a declaration's (a Party's own law: its catalog words)
            assert words(label) in text, (element, label)
        assert article in text, (element, article)
    page = Words(lang).gettext("Page %(page)s of %(pages)s")
    assert re.search(re.escape(page).replace(re.escape("%(page)s"), "1").replace(re.escape("%(pages)s"), r"\d+"), text)
    assert "\ufffd" not in text
    missing = {c for c in text if not c.isspace() and ord(c) not in noto_characters()}
    assert not missing, f"drawn without a glyph (.notdef): {sorted(missing)}"
    fonts = pdffonts(doc.pdf, tmp_path)
    assert fonts and all(row[-5] == "yes" for row in fonts), fonts  # emb
    assert all(row[0].split("+")[-1].startswith(("Document-Serif", "Document-Sans")) for row in fonts), fonts


def test_montenegrin_letters_and_serbian_cyrillic_render_with_their_own_glyphs(law, tmp_path) -> None:
    montenegrin = "Śutra je źenica sjela; с́екира и з́ало."
    doc = rendered(law, "preservation", "cnr", language="cnr",
                   elements={**load_example("preservation")["elements"], "facts_summary": montenegrin})
    text = pdftext(doc.pdf, tmp_path)
    for letters in ("Śutra", "źenica", "с\u0301екира", "з\u0301ало"):
        assert letters in text
    assert all(ord(c) in noto_characters() for c in montenegrin if not c.isspace())
    # The request was written in Montenegrin, the labels are Montenegrin: nothing to mark.
    assert "[crnogorski]" not in text


def test_a_bilingual_document_shows_both_languages_and_the_language_of_the_free_text(law, tmp_path) -> None:
    doc = rendered(law, "give_effect_order", "sr-Cyrl", "fr")
    assert (doc.lang, doc.translation_lang) == ("sr-Cyrl", "fr")
    text = pdftext(doc.pdf, tmp_path)
    for lang in ("sr-Cyrl", "fr"):
        assert words(law.texts.type_title("give_effect_order", lang)) in text
        assert words(law.texts.element_label("give_effect_order", "offence", lang) or "") in text
    assert "Страна 1 од" in text and "Page 1 sur" in text
    assert "[енглески / anglais]" in text  # each free-text value says it was written in English, untranslated
    offence = load_example("give_effect_order")["elements"]["offence"]
    assert words(offence) in text and text.count(words(offence)) == 1  # once: never "translated"


def test_the_request_names_its_translation_and_the_document_follows_it(law, tmp_path) -> None:
    doc = rendered(law, "mutual_assistance", "en", translation_language="sl")
    assert doc.translation_lang == "sl"
    assert words(law.texts.type_title("mutual_assistance", "sl")) in pdftext(doc.pdf, tmp_path)
    assert rendered(law, "mutual_assistance", "en", "none", translation_language="sl").translation_lang is None


def test_the_file_is_pdfa_3b_tagged_titled_in_its_language_with_every_font_embedded(law) -> None:
    doc = rendered(law, "emergency_disclosure", "sr-Cyrl")
    with pikepdf.open(io.BytesIO(doc.pdf)) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "B"
        assert meta["pdfuaid:part"] == "1"
        assert law.texts.type_title("emergency_disclosure", "sr-Cyrl") in str(meta["dc:title"])
        root = pdf.Root
        assert root.OutputIntents[0].S == "/GTS_PDFA1" and "/DestOutputProfile" in root.OutputIntents[0]
        assert root.MarkInfo.Marked is True and "/StructTreeRoot" in root
        assert str(root.Lang) == "sr-Cyrl"
        assert root.ViewerPreferences.DisplayDocTitle is True
        assert "/EmbeddedFiles" not in root.get("/Names", {})  # no attachment: sealing adds the request
        fonts = [f for page in pdf.pages for f in page.Resources.Font.values()]
        assert fonts and all("/FontFile2" in f.DescendantFonts[0].FontDescriptor for f in fonts)


def test_every_page_carries_the_qr_code_the_reference_and_its_number(law, tmp_path) -> None:
    doc = rendered(law, "give_effect_order", "fr")
    path = tmp_path / "d.pdf"
    path.write_bytes(doc.pdf)
    with pikepdf.open(path) as pdf:
        pages = len(pdf.pages)
    assert pages >= 2
    for n in range(1, pages + 1):  # the running header (QR code beside it) and footer of each page
        text = " ".join(subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(path), "-"], capture_output=True,
                                       text=True, check=True).stdout.split())
        assert f"SHA-256 {doc.digest[:32]}" in text and "VTK-KTR-1127/2026" in text
        assert f"Page {n} sur {pages}" in text
    # The QR code says what identifies the request, and nothing to follow (no address).
    sheet_html = render.html_of(_sheet(law, "give_effect_order", "fr"))
    expected = render.qr_data_uri(f"EVIDEX-REQUEST;sha256={doc.digest};id=-;ref=VTK-KTR-1127/2026")
    assert f'src="{expected}"' in sheet_html and "http" not in expected


def _sheet(law, name: str, lang: str):
    from evidex.documents.i18n import Languages
    from evidex.documents.sheet import build_sheet
    from evidex.rules import check

    data = json_safe(load_example(name))
    verdict = check(data, law.parties, AS_OF, rulebook=law.rulebook).to_json_dict()
    return build_sheet(law, data, verdict, Languages([lang]), now=NOW)


def test_the_qr_code_and_the_page_carry_the_digest_and_the_reference(law, tmp_path) -> None:
    doc = rendered(law, "subscriber_order", "fr")
    text = pdftext(doc.pdf, tmp_path)
    assert doc.digest in text and "KT-S 81/26" in text
    assert render.qr_data_uri("x").startswith("data:image/svg+xml;base64,")


@pytest.mark.parametrize(("name", "changes", "expected"), [
    ("subscriber_order", {}, "en"),  # written in English, which the provider accepts (CETS224 Art 4(2))
    ("subscriber_order", {"language": "fr"}, "sr-Cyrl"),  # French is not accepted: the provider's first, Serbian
    ("domain_registration", {"language": "de"}, "cnr"),  # the registrar's first language (Art 6: 4(2))
    ("subscriber_order", {"language": "sr-Latn"}, "sr-Latn"),  # Serbian in Latin script is Serbian: as written
    ("mutual_assistance", {"language": None}, "sl"),  # no language stated: Slovenia's first
])
def test_by_default_a_language_the_receiving_side_accepts(law, name, changes, expected) -> None:
    data = {**load_example(name), **changes}
    doc, _ = parse_document(json_safe(data))
    assert choose_languages(law, doc, AS_OF)[0] == expected


def test_an_unknown_language_is_refused_by_name(law) -> None:
    for kwargs, field in (({"lang": "de"}, "lang"), ({"lang": "en", "translation_lang": "sr"}, "translation_lang")):
        with pytest.raises(InvalidInput, match=rf"^{field}: unknown language"):
            document_from_file(law, load_example("preservation"), now=NOW, as_of=AS_OF, **kwargs)
    with pytest.raises(InvalidInput, match="requesting_party"):
        document_from_file(law, {"type": "preservation"}, now=NOW)


def test_an_inadmissible_document_says_so_on_its_face(law, tmp_path) -> None:
    data = load_example("preservation")
    del data["elements"]["offence"]
    doc = document_from_file(law, data, now=NOW, lang="en", as_of=AS_OF)
    text = pdftext(doc.pdf, tmp_path)
    assert "NOT ADMISSIBLE" in text and "ETS185 Art 29(2)(b)" in text and "Not stated" in text  # set in capitals
