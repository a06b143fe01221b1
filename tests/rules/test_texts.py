"""The law's labels in every language (rules/data/i18n/): complete, current, in the right script,
and refused at start-up with the file and the key named when they are not."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from evidex.cases.service import Law
from evidex.core.errors import RuleDataError
from evidex.parties.roles import Role
from evidex.requests.lifecycle import default_lifecycle, load_lifecycle
from evidex.requests.texts import default_texts
from evidex.rules import default_rulebook, load_rulebook
from evidex.rules.refs import REFERENCE_RE
from evidex.rules.schema import ACTORS
from evidex.rules.texts import LOCALES, SOURCE_LOCALE, UnknownLocale, check_locale, load_texts, source_texts
from tests.conftest import ROOT, run_cli
from tests.rules.conftest import edit

RB, LC, TEXTS = default_rulebook(), default_lifecycle(), default_texts()
TRANSLATED = [loc for loc in LOCALES if loc != SOURCE_LOCALE]


def _load(data: Path):
    return load_texts(load_rulebook(data), LC, data)


def test_locales_are_the_six_tags_in_one_place():
    assert LOCALES == ("en", "sr-Cyrl", "sr-Latn", "cnr", "sl", "fr")
    assert check_locale("sr-Cyrl") == "sr-Cyrl"
    for bad in ("sr", "SR-cyrl", "de", ""):
        with pytest.raises(UnknownLocale, match="evidex speaks"):
            check_locale(bad)
    with pytest.raises(UnknownLocale):
        TEXTS.text("type.preservation", "de")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_key_in_every_language_and_translated(locale):
    same = [k for k in TEXTS.source if TEXTS.text(k, locale) == TEXTS.text(k, "en")]
    assert all(TEXTS.text(k, locale).strip() for k in TEXTS.source)
    # A copy of the English is not a translation: only names the same in every language may stay.
    assert set(same) <= {"actor.interpol", "outside_evidex.interpol", "role.administrator"}, same


def test_english_is_the_rule_data_itself():
    assert TEXTS.type_title("preservation") == RB.types["preservation"].title
    assert TEXTS.element_label("give_effect_order", "addressee.name") == next(
        e.label for e in RB.types["give_effect_order"].elements if e.name == "addressee.name")
    assert TEXTS.state_description("refused") == LC.states["refused"]
    assert TEXTS.event_label("record_preserved") == "Record that the data was preserved"
    assert TEXTS.article_title("ETS185 Art 29(2)(a)") == RB.instruments["ETS185"].articles["29"]
    assert TEXTS.article_title("UNCC Art 1") is None  # its titles are not entered yet


@pytest.mark.parametrize("locale", LOCALES)
def test_the_keys_cover_every_type_element_state_event_declaration_and_article(locale):
    """Every label the data has is reachable through the helpers the UI calls, in every language."""
    t = TEXTS
    for code, inst in RB.instruments.items():
        assert t.instrument_title(code, locale)
        for number in inst.articles:
            assert t.article_title(f"{code} Art {number}(1)", locale)
    for name, spec in RB.types.items():
        assert t.type_title(name, locale)
        for e in (*spec.elements, *spec.optional_elements):
            assert t.element_label(name, e.name, locale), (name, e.name)
        for i in range(len(spec.channels)):
            assert t.channel_text(name, i, locale)
        for i in range(len(spec.obligations)):
            assert t.obligation_text(name, i, locale)
        for d in spec.deadlines:
            assert t.deadline_text(name, d.name, d.article, locale), (name, d.name)
            assert (t.deadline_text(name, d.name, d.article, locale, on_lapse=True) is None) == (d.on_lapse is None)
        for g in spec.refusal_grounds:
            assert t.ground_text(name, "refusal", g.article, locale)
        for g in spec.postponement_grounds:
            assert t.ground_text(name, "postponement", g.article, locale)
    for ref, entry in RB.catalogue.items():
        assert t.declaration_text(ref, locale) and t.declaration_message(ref, locale)
        for e in getattr(entry.effect, "elements", []):
            for name in entry.applies_to:
                assert t.element_label(name, e.name, locale), (ref, e.name)
    for period in RB.periods:
        assert t.period_text(period, locale)
    for state in LC.states:
        assert t.state_label(state, locale) and t.state_description(state, locale)
    for event in {tr.event for tr in LC.spec.transitions}:
        assert t.event_label(event, locale)
    for role in Role:
        assert t.role_label(role.value, locale)
    for actor in ACTORS:
        assert t.actor_label(actor, locale)
    # Every element name the rule data knows has a label under some type.
    labelled = {name for (_, name) in t.element_keys}
    assert RB.vocabulary <= labelled, RB.vocabulary - labelled
    # Two deadlines of one name in a type are told apart by their article.
    sub = t.deadline_text("give_effect_order", "provider_production", "CETS224 Art 8(6)(a)(i)", locale)
    traffic = t.deadline_text("give_effect_order", "provider_production", "CETS224 Art 8(6)(a)(ii)", locale)
    assert sub and traffic and sub != traffic


def test_derived_keys_are_one_per_text_and_nothing_else():
    source = source_texts(RB, LC)

    def count(prefix: str) -> int:
        return sum(1 for k in source if k.startswith(prefix + "."))

    assert count("instrument") == len(RB.instruments)
    assert count("article") == sum(len(i.articles) for i in RB.instruments.values())
    assert count("actor") == len(ACTORS)
    assert count("state") == count("state_name") == len(LC.states)
    assert count("event") == len({t.event for t in LC.spec.transitions})
    assert count("role") == len(Role)
    assert count("period") == len(RB.periods) + sum(1 for p in RB.periods.values() if p.practice)
    assert sum(1 for k in source if k.startswith("type.") and k.count(".") == 1) == len(RB.types)
    assert sum(1 for k in source if k.startswith("declaration.") and k.endswith(".message")) == len(RB.catalogue)
    file = yaml.safe_load((ROOT / "src/evidex/rules/data/i18n/sr-Cyrl.yaml").read_text(encoding="utf-8"))
    assert set(file["texts"]) == set(source)


# --------------------------------------------------------------------------- refused at start-up
def test_a_changed_english_label_makes_its_translations_stale(data_copy):
    def relabel(d):
        d["types"][0]["elements"][0]["label"] = "The criminal investigation or proceeding concerned"

    edit(data_copy / "request_types.yaml", relabel)
    with pytest.raises(RuleDataError) as e:
        _load(data_copy)
    msg = str(e.value)
    assert "i18n/sr-Cyrl.yaml" in msg and "texts.type.preservation.element.case_reference: stale" in msg
    assert "The criminal investigation or proceeding concerned" in msg


def test_a_new_lifecycle_state_name_is_stale_until_translated(data_copy, tmp_path):
    p = tmp_path / "lifecycle.yaml"
    data = yaml.safe_load((ROOT / "src/evidex/requests/data/lifecycle.yaml").read_text(encoding="utf-8"))
    data["state_names"]["draft"] = "Draft request"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(RuleDataError, match=r"sr-Cyrl\.yaml: texts\.state_name\.draft: stale"):
        load_texts(RB, load_lifecycle(p), data_copy)


def test_a_missing_key_is_named(data_copy):
    edit(data_copy / "i18n/sr-Cyrl.yaml", lambda d: d["texts"].pop("event.send_alone"))
    with pytest.raises(RuleDataError, match=r"sr-Cyrl\.yaml: texts\.event\.send_alone: missing \(English: 'Send alone"):
        _load(data_copy)


def test_an_unknown_key_is_named(data_copy):
    edit(data_copy / "i18n/sr-Cyrl.yaml", lambda d: d["texts"].update({"type.preservaton": {"en": "x", "t": "y"}}))
    with pytest.raises(RuleDataError, match=r"sr-Cyrl\.yaml: texts\.type\.preservaton: unknown key"):
        _load(data_copy)


def test_a_lost_placeholder_is_named(data_copy):
    def drop(d):
        entry = d["texts"]["type.mutual_assistance.mla_elements"]
        entry["t"] = entry["t"].replace("{party}", "")

    edit(data_copy / "i18n/sr-Cyrl.yaml", drop)
    with pytest.raises(RuleDataError, match=r"texts\.type\.mutual_assistance\.mla_elements\.t: must keep the "
                                            r"placeholders \['\{element\}', '\{party\}'\]"):
        _load(data_copy)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: (d / "i18n/sr-Cyrl.yaml").unlink(), r"sr-Cyrl\.yaml: missing"),
    (lambda d: (d / "i18n/de.yaml").write_text("locale: de\n", encoding="utf-8"), r"de\.yaml: 'de' is not a language"),
    (lambda d: edit(d / "i18n/sr-Cyrl.yaml", lambda x: x.update(locale="sr-Latn")), r"locale: 'sr-Latn', but the file"),
    (lambda d: edit(d / "i18n/sr-Cyrl.yaml", lambda x: x["texts"]["event.close"].update(t="")), r"texts\.event\.close\.t"),
    (lambda d: edit(d / "i18n/sr-Cyrl.yaml", lambda x: x["texts"]["event.close"].pop("en")), r"texts\.event\.close\.en"),
    (lambda d: (d / "i18n/sr-Cyrl.yaml").write_text("locale: [\n", encoding="utf-8"), r"sr-Cyrl\.yaml: not valid YAML"),
])
def test_a_broken_language_file_is_named(data_copy, change, message):
    change(data_copy)
    with pytest.raises(RuleDataError, match=message):
        _load(data_copy)


def test_the_law_a_node_is_built_with_carries_the_checked_texts():
    assert Law().texts is TEXTS


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["state_names"].pop("draft"), "state_names: no label for draft"),
    (lambda d: d["event_labels"].update(reopen="Reopen"), "event_labels.reopen: no such event"),
    (lambda d: d["role_labels"].pop("administrator"), "role_labels: no label for administrator"),
    (lambda d: d["role_labels"].update(minister="Minister"), "role_labels"),
    # a letter is the requested Party's: an event of the requesting side's gives none
    (lambda d: d["letters"].update(record_refusal=d["letters"]["refuse"]),
     "letters.record_refusal: no event of the requested Party"),
    (lambda d: d["letters"]["renew"].update(kind="preservation"), "letters.renew: kind 'preservation' is already given"),
    (lambda d: d["letters"]["refuse"]["cites_by_type"].update(warrant=["ETS185 Art 27(7)"]),
     "letters.refuse.cites_by_type: unknown request type 'warrant'"),
    (lambda d: d["letters"]["refuse"].update(cites=["Art 27(7)"]), "letters.refuse.cites"),
])
def test_lifecycle_labels_are_checked(tmp_path, mutate, message):
    data = yaml.safe_load((ROOT / "src/evidex/requests/data/lifecycle.yaml").read_text(encoding="utf-8"))
    mutate(data)
    p = tmp_path / "lifecycle.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(RuleDataError, match=message):
        load_lifecycle(p)


def test_every_actor_needs_a_label(data_copy):
    edit(data_copy / "request_types.yaml", lambda d: d["actors"].pop("art8_receiving"))
    with pytest.raises(RuleDataError, match=r"request_types\.yaml: .*actors: no label for art8_receiving"):
        load_rulebook(data_copy)



def test_every_element_a_shipped_party_profile_requires_has_its_words_in_every_language():
    """An element only a Party's own law requires (its mla_required_elements, ETS185 Art 25(4); the
    additional elements it declared, CETS224 Art 8(4)) is shown by the form, the request page and the
    official document in the rule data's words (request_types.yaml element_words), translated."""
    from evidex.rules import default_parties
    from evidex.rules.schema import RequiresElements

    parties = default_parties()
    named: set[str] = set()
    for code in parties.codes():
        for p in parties.versions(code):
            named.update(p.mla_required_elements)
            for ref, params in p.declarations.items():
                effect = RB.catalogue[ref].effect
                if isinstance(effect, RequiresElements) and isinstance(params, dict):
                    named.update(params.get(effect.parameter, []))
    assert {"offence", "judicial_authorisation"} <= named
    for name in named - set(RB.actors):
        assert TEXTS.element_words(name) == RB.element_words[name]
        for loc in TRANSLATED:
            words = TEXTS.element_words(name, loc)
            assert words and words != RB.element_words[name], (name, loc)
    assert TEXTS.element_words("no_such_element") is None


# --------------------------------------------------------------------------- scripts
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
# What stays as in the source in every language: canonical references (ETS185 Art 29(2)(a)), bare
# article references (Art 8(10)(b)), instrument codes, placeholders, snake_case codes, quoted values
# and Roman numerals (Chapter II).
_KEPT = re.compile(REFERENCE_RE.pattern.strip("^$") + r"|\bArt \d+(\(\w+\))*|\b(ETS185|CETS224|UNCC)\b"
                   r"|\{[a-z_]+\}|\b[a-z0-9]+(_[a-z0-9]+)+\b|'[a-z]+'|\b[IVX]+\b"
                   r"|\bevidex\b")  # the system's name, as the web catalogue keeps it


def test_serbian_cyrillic_has_no_latin_letter_outside_references_and_codes():
    for key in TEXTS.source:
        text = _KEPT.sub("", TEXTS.text(key, "sr-Cyrl"))
        assert not LATIN.search(text), (key, TEXTS.text(key, "sr-Cyrl"))


def _transliterate():
    spec = importlib.util.spec_from_file_location("i18n_dev", ROOT / "scripts/dev/i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.transliterate


def test_serbian_latin_is_the_exact_transliteration_of_serbian_cyrillic():
    transliterate = _transliterate()
    assert transliterate("Љубљана, ЊЕГОШ, Џак, ђак") == "Ljubljana, NJEGOŠ, Džak, đak"
    for key in TEXTS.source:
        latin = TEXTS.text(key, "sr-Latn")
        assert not CYRILLIC.search(latin), (key, latin)
        assert latin == transliterate(TEXTS.text(key, "sr-Cyrl")), key


# Ekavian stems that Montenegrin (ijekavian) writes otherwise: zahtjev, primjena, obavijest, vrijeme,
# djelo, mjera, prije, djelimično (oblique "vremena" is ijekavian too).
EKAVIAN = re.compile(r"\b(zahtev\w*|primen\w*|obavest\w*|obavešt\w*|vreme|dela|delo|mer[aeiu]|pre|delimi\w*)\b", re.I)


def test_montenegrin_is_latin_and_ijekavian():
    for key in TEXTS.source:
        text = TEXTS.text(key, "cnr")
        assert not CYRILLIC.search(text), (key, text)
        assert not EKAVIAN.search(text), (key, text)


def test_rules_show_in_montenegrin_uses_the_terms_of_the_montenegrin_treaty_text():
    r = run_cli("rules", "show", "preservation", "--lang", "cnr")
    assert r.returncode == 0, r.stderr
    # The terms of the Montenegrin translation of ETS185 (shared/seeds/002: Art 27, 29, 35).
    for term in ("Brzo čuvanje uskladištenih računarskih podataka", "Zamoljena članica",
                 "Članica koja upućuje zahtjev", "Mjesto za kontakte 24/7", "Centralni organ", "obostrana kažnjivost"):
        assert term in r.stdout, term
    assert TEXTS.article_title("ETS185 Art 29(1)", "cnr") == "Brzo čuvanje računarskih podataka"  # as the text titles it


def test_slovenian_uses_the_slovenian_terms_and_alphabet():
    for key in TEXTS.source:
        text = TEXTS.text(key, "sl")
        assert not CYRILLIC.search(text) and not re.search("[ćđĆĐ]", text), (key, text)  # not in Slovenian
    r = run_cli("rules", "show", "preservation", "--lang", "sl")
    assert r.returncode == 0, r.stderr
    for term in ("Hitna hramba shranjenih računalniških podatkov", "Zaprošena pogodbenica", "Pogodbenica prosilka",
                 "Osrednji organ", "Kontaktna točka 24/7", "dvojna kaznivost"):
        assert term in r.stdout, term
    assert TEXTS.instrument_title("ETS185", "sl") == "Konvencija o kibernetski kriminaliteti"


def test_french_uses_the_terms_of_the_french_authentic_text():
    r = run_cli("rules", "show", "preservation", "--lang", "fr")
    assert r.returncode == 0, r.stderr
    for term in ("Conservation rapide de données informatiques stockées", "Partie requise", "Partie requérante",
                 "Autorité centrale", "Point de contact 24/7", "double incrimination"):
        assert term in r.stdout, term
    assert TEXTS.instrument_title("ETS185", "fr") == "Convention sur la cybercriminalité"
    assert "entraide" in TEXTS.type_title("mutual_assistance", "fr").lower()
    r = run_cli("rules", "list", "--lang", "fr")
    assert "Divulgation d'informations relatives aux abonnés" in r.stdout


def test_rules_show_in_serbian_uses_the_terms_of_the_serbian_treaty_text():
    r = run_cli("rules", "show", "preservation", "--lang", "sr-Cyrl")
    assert r.returncode == 0, r.stderr
    # The terms of the Serbian translation of CETS224 (shared/seeds/003: Art 5(3), 9(1), 10(9)).
    for term in ("Замољена страна", "Страна молиља", "Тачка за контакт 24/7", "Централни орган",
                 "сачуваних рачунарских података"):
        assert term in r.stdout, term
    assert "ETS185 Art 29(2)(a)" in r.stdout  # references stay as in the source
    assert "The authority seeking the preservation" not in r.stdout
    r = run_cli("rules", "list", "--lang", "sr-Cyrl")
    assert "Откривање података о претплатнику" in r.stdout  # CETS224 Art 7, as the seed titles it
    r = run_cli("rules", "show", "preservation", "--lang", "sr")
    assert r.returncode == 2 and "unknown language 'sr'" in r.stderr and "sr-Cyrl" in r.stderr


def test_rules_show_json_carries_the_labels_by_key():
    import json

    r = run_cli("rules", "show", "subscriber_order", "--json", "--lang", "sr-Cyrl")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["title"] == "Disclosure of subscriber information"  # the data as it is
    assert data["texts"]["lang"] == "sr-Cyrl"
    assert data["texts"]["type.subscriber_order"] == TEXTS.type_title("subscriber_order", "sr-Cyrl")
    assert all(k == "lang" or k.startswith("type.subscriber_order") for k in data["texts"])
