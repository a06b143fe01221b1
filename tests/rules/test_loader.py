"""A broken rule or profile file fails with a message naming the file and the field."""

from __future__ import annotations

import pytest
import yaml

from evidex.core.errors import RuleDataError
from evidex.rules import load_parties, load_rulebook
from evidex.rules.loader import data_dir
from tests.rules.conftest import edit


def test_shipped_data_loads():
    rb = load_rulebook()
    assert len(rb.types) == 10 and {"ETS185", "CETS224", "UNCC"} <= set(rb.instruments)
    assert rb.article_title("CETS224 Art 7(3)(d)") == "Disclosure of subscriber information"


@pytest.mark.parametrize(("file", "mutate", "expect"), [
    ("request_types.yaml", lambda d: d["types"][0]["elements"][1].update(article="Budapest 29"),
     "types[0].elements[1].article"),
    ("request_types.yaml", lambda d: d["types"][2].update(alternatives=["nothing"]), "types[2].alternatives"),
    ("request_types.yaml", lambda d: d["types"][0]["elements"][0].pop("label"), "types[0].elements[0].label"),
    ("request_types.yaml", lambda d: d["types"][0]["elements"][0].update(article="ETS185 Art 99(1)"),
     "ETS185 Art 99 has no title"),
    ("declarations.yaml", lambda d: d["entries"][0]["effect"].update(kind="explode"), "entries[0].effect"),
    ("instruments.yaml", lambda d: d["instruments"][0].update(adopted_on="someday"), "instruments[0].adopted_on"),
])
def test_broken_rule_file_names_file_and_field(data_copy, file, mutate, expect):
    edit(data_copy / file, mutate)
    with pytest.raises(RuleDataError) as e:
        load_rulebook(data_copy)
    assert file in str(e.value) and expect in str(e.value)


def test_invalid_yaml_names_line(data_copy):
    (data_copy / "instruments.yaml").write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(RuleDataError, match=r"instruments.yaml:.*line"):
        load_rulebook(data_copy)


@pytest.mark.parametrize(("mutate", "expect"), [
    (lambda p: p.update(code="Serbia"), "[0].code"),
    (lambda p: p["declarations"].update({"CETS224 Art 99(1)": True}), "not in the catalogue"),
    (lambda p: p["declarations"].update({"CETS224 Art 8(13)": True}), "is a reservation"),
    (lambda p: p.update(timezone="Mars/Olympus"), "unknown time zone"),
    (lambda p: p["declarations"].update({"CETS224 Art 8(4)": {"additional_elements": []}}), "additional_elements"),
    (lambda p: p["declarations"].update({"CETS224 Art 7(5)(a)": {"when": "sometimes"}}), ".when"),
    (lambda p: p["authorities"].update(minister={"name": "x"}), "authorities.minister"),
])
def test_broken_party_file_names_file_and_field(tmp_path, mutate, expect):
    profile = yaml.safe_load((data_dir() / "parties" / "RS.yaml").read_text(encoding="utf-8"))[0]
    mutate(profile)
    f = tmp_path / "parties.yaml"
    f.write_text(yaml.safe_dump([profile], allow_unicode=True), encoding="utf-8")
    with pytest.raises(RuleDataError) as e:
        load_parties(f)
    assert str(f) in str(e.value) and expect in str(e.value), str(e.value)


def test_party_file_in_legal_md_format_loads(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("""
- code: XA
  name: {en: Xanadu}
  instruments: [ETS185, CETS224]
  languages: [xa, en]
  timezone: Europe/Belgrade
  authorities:
    central_authority: {name: MoJ, contact: {email: a@b.c}}
  declarations:
    "CETS224 Art 7(2)(b)": true
    "CETS224 Art 7(5)(a)": {when: always}
  reservations:
    "CETS224 Art 8(13)": true
  mla_treaties: [ME]
""", encoding="utf-8")
    p = load_parties(f)
    assert p.codes() == ["XA"]
