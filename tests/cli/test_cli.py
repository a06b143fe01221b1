"""The real CLI, in a subprocess, as a user runs it."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.conftest import COMPLETE, EXAMPLES, ROOT, run_cli

pytestmark = pytest.mark.slow  # long-running: started first by parallel runs (tests/conftest.py)


def test_check_admissible_json_is_one_object_exit_0():
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23", str(EXAMPLES / "subscriber_order.yaml"))
    assert r.returncode == 0, r.stderr
    v = json.loads(r.stdout)
    assert v["admissible"] is True and v["request_type"] == "subscriber_order"
    assert set(v) >= {"admissible", "request_type", "problems", "warnings", "route", "deadlines", "obligations"}
    assert v["deadlines"] == [{"name": "provider_response", "days": 30, "due": "2026-12-23", "article": "CETS224 Art 7(7)"}]
    assert v["route"]["notifications"][0]["to"]["authority"] == "art7_notification"


def test_check_inadmissible_exit_1_with_article():
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23",
                str(EXAMPLES / "mistake_subscriber_order_missing_offence.yaml"))
    assert r.returncode == 1, r.stderr
    v = json.loads(r.stdout)
    assert {"code": "missing_element", "article": "CETS224 Art 7(3)(d)", "element": "offence"}.items() <= v["problems"][0].items()


def test_check_text_for_people():
    r = run_cli("check", "--format", "text", "--as-of", "2026-11-23",
                str(EXAMPLES / "mistake_subscriber_order_missing_offence.yaml"))
    assert r.returncode == 1
    assert "NOT ADMISSIBLE" in r.stdout
    assert "CETS224 Art 7(3)(d) (CETS224 Art 7: Disclosure of subscriber information)" in r.stdout
    assert "Deadlines:" in r.stdout and "2026-12-20" in r.stdout


def test_check_reads_standard_input_json():
    doc = yaml.safe_load((EXAMPLES / "preservation.yaml").read_text(encoding="utf-8"))
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23", "-", stdin=json.dumps(doc, default=str))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["deadlines"][0]["due"] == "2027-01-19"


def test_check_with_parties_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump([
        {"code": "RS", "name": "Serbia", "instruments": ["ETS185"], "languages": ["sr", "en"]},
        {"code": "ME", "name": "Montenegro", "instruments": ["ETS185"], "languages": ["cnr", "en"]},
    ]), encoding="utf-8")
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23", "--parties", str(f),
                str(EXAMPLES / "domain_registration.yaml"))
    assert r.returncode == 1
    assert json.loads(r.stdout)["problems"][0]["code"] == "instrument_not_binding"


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ("{not json", ".json", "not valid JSON"),
    ("[1, 2]", ".json", "must be an object"),
    ("type: preservation\nrequesting_party: RS\nrequested_party: XX\n", ".yaml", "unknown Party"),
    ("type: cake\nrequesting_party: RS\nrequested_party: ME\n", ".yaml", "unknown request type"),
    ("type: preservation\nrequesting_party: RS\nrequested_party: RS\n", ".yaml", "both RS"),
    ("type: preservation\nrequesting_party: RS\nrequested_party: ME\nissued_on: 2026-13-01\n", ".yaml", "not a date"),
    ("", ".yaml", "empty"),
    ("a: [b\n", ".yaml", "not valid YAML"),
])
def test_invalid_input_exit_2_one_line_no_traceback(tmp_path, content, suffix, message):
    f = tmp_path / f"doc{suffix}"
    f.write_text(content, encoding="utf-8")
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23", str(f))
    assert r.returncode == 2
    assert r.stdout == ""
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--as-of", "tomorrow"], ["--parties", "/nonexistent.yaml"]])
def test_bad_options_exit_2(args):
    r = run_cli("check", *args, str(EXAMPLES / "preservation.yaml"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.strip()


def test_missing_file_exit_2():
    r = run_cli("check", "/no/such/file.yaml")
    assert r.returncode == 2 and "cannot be read" in r.stderr


def test_broken_parties_file_names_file_and_field(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("- code: RS\n  name: Serbia\n  instruments: [ETS185]\n  languages: []\n", encoding="utf-8")
    r = run_cli("check", "--parties", str(f), str(EXAMPLES / "preservation.yaml"))
    assert r.returncode == 2 and str(f) in r.stderr and "[0].languages" in r.stderr


def test_several_files_worst_exit_code():
    r = run_cli("check", "--format", "text", "--as-of", "2026-11-23", *(str(p) for p in sorted(EXAMPLES.iterdir())))
    assert r.returncode == 1
    assert r.stdout.count("== ") == len(list(EXAMPLES.iterdir()))


def test_rules_list_and_show():
    r = run_cli("rules", "list")
    assert r.returncode == 0
    for t in COMPLETE:
        assert t in r.stdout
    r = run_cli("rules", "show", "give_effect_order")
    assert r.returncode == 0
    assert "CETS224 Art 8(3)(b)(viii)" in r.stdout and "CETS224 Art 8(13)" in r.stdout and "45" in r.stdout
    r = run_cli("rules", "show", "nonsense")
    assert r.returncode == 2 and "unknown request type" in r.stderr
    data = json.loads(run_cli("rules", "show", "preservation", "--json").stdout)
    assert data["article"] == "ETS185 Art 29"


def test_parties_list_and_show():
    r = run_cli("parties", "list")
    assert r.returncode == 0
    for code in ("RS", "ME", "SI", "AL", "BA", "MK"):
        assert code in r.stdout
    assert "source: example" in r.stdout
    r = run_cli("parties", "show", "MK", "--as-of", "2026-11-23")
    assert "CETS224 Art 7(5)(a) (declaration, not in effect)" in r.stdout
    r = run_cli("parties", "show", "MK", "--as-of", "2027-01-01")
    assert "CETS224 Art 7(5)(a) (declaration, in effect)" in r.stdout
    r = run_cli("parties", "show", "XX")
    assert r.returncode == 2


def test_schema_request_validates_every_example():
    r = run_cli("schema", "request")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    for f in EXAMPLES.iterdir():
        doc = json.loads(json.dumps(yaml.safe_load(f.read_text(encoding="utf-8")), default=str))
        jsonschema.validate(doc, schema)


def test_version_and_help():
    assert run_cli("--version").stdout.startswith("evidex ")
    r = run_cli("check", "--help")
    assert r.returncode == 0 and "Exit code" in r.stdout


def test_scripts_run_exists_and_is_executable():
    for s in ("scripts/run", "scripts/test", ".ci/run"):
        p = ROOT / s
        assert p.exists() and p.stat().st_mode & 0o111


@pytest.mark.parametrize("name", COMPLETE)
def test_every_complete_example_is_admissible_through_the_cli(name):
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23", str(EXAMPLES / f"{name}.yaml"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["request_type"] == name


@pytest.mark.parametrize(("name", "element", "article"), [
    ("preservation", "intent_to_request_mla", "ETS185 Art 29(2)(f)"),
    ("domain_registration", "protocol_statement", "CETS224 Art 6(3)(c)"),
    ("subscriber_order", "return_contact", "CETS224 Art 7(4)(c)"),
    ("give_effect_order", "reason_provider_holds_data", "CETS224 Art 8(3)(b)(iii)"),
    ("emergency_disclosure", "emergency_facts", "CETS224 Art 9(3)(e)"),
    ("emergency_mutual_assistance", "emergency_facts", "CETS224 Art 10(1)"),
    ("mutual_assistance", "assistance_sought", "ETS185 Art 25(4)"),
])
def test_a_removed_element_through_the_cli(name, element, article):
    doc = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    doc["elements"].pop(element)
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23", "-", stdin=json.dumps(doc, default=str))
    assert r.returncode == 1
    assert [element, article] in [[p["element"], p["article"]] for p in json.loads(r.stdout)["problems"]]


def test_a_declaration_through_the_cli(tmp_path):
    """SI reserved CETS224 Art 8(13): traffic data is refused; the same order for subscriber data passes."""
    r = run_cli("check", "--format", "json", "--as-of", "2026-11-23",
                str(EXAMPLES / "mistake_give_effect_traffic_reserved.json"))
    assert r.returncode == 1
    v = json.loads(r.stdout)
    assert v["problems"][0]["article"] == "CETS224 Art 8(13)"
    assert v["alternatives"][0]["request_type"] == "mutual_assistance"
