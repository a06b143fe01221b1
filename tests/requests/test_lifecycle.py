"""The transition table, exhaustively: every pair in it is allowed to its roles only; every pair
outside it raises and lists what is allowed."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from evidex.core.errors import RuleDataError
from evidex.parties.roles import Role
from evidex.requests.lifecycle import TransitionNotAllowed, default_lifecycle, load_lifecycle

LC = default_lifecycle()
EVENTS = sorted({t.event for t in LC.spec.transitions})
ALL = list(itertools.product(("outgoing", "incoming"), sorted(LC.states), EVENTS))


@pytest.mark.parametrize(("direction", "state", "event"), ALL)
def test_every_pair_of_the_table(direction, state, event):
    t = LC.table.get((direction, state, event))
    for role in Role:
        if t is not None and role in t.roles:
            assert LC.find(direction, state, event, role).to == t.to
        else:
            with pytest.raises(TransitionNotAllowed) as e:
                LC.find(direction, state, event, role)
            assert e.value.allowed == LC.events_from(direction, state, role)


def test_table_shape():
    assert LC.initial("outgoing") == "draft" and LC.initial("incoming") == "received"
    assert LC.find("outgoing", "approved", "send", Role.central_authority).to == "sent"
    assert "send" not in LC.events_from("outgoing", "draft")  # a draft cannot be sent
    assert LC.events_from("outgoing", "closed") == []
    for s in LC.spec.final:
        assert LC.events_from("outgoing", s) == LC.events_from("incoming", s) == []
    # Refusal and postponement always need reasons (ETS185 Art 27(7)).
    for t in LC.spec.transitions:
        if t.to in ("refused", "postponed", "partly_executed"):
            assert "reasons" in t.guards, t.event
    # A request can be sent only through guards that run the rules engine.
    assert "admissible" in LC.find("outgoing", "approved", "send", Role.central_authority).guards


def _write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "src/evidex/requests/data/lifecycle.yaml").read_text())
    mutate(data)
    p = tmp_path / "lifecycle.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["states"].update(limbo="Nowhere"), "unreachable states: limbo"),
    (lambda d: d["transitions"].append({"event": "x", "from": ["draft"], "to": "nowhere", "direction": "outgoing",
                                        "roles": ["central_authority"]}), "unknown state 'nowhere'"),
    (lambda d: d["transitions"][0].update(roles=["minister"]), "transitions[0].roles"),
    (lambda d: d.update(final=["closed"]), "no transition out"),
    (lambda d: d["transitions"].append(dict(d["transitions"][0])), "two transitions"),
    (lambda d: d["transitions"].append({"event": "reopen", "from": ["closed"], "to": "draft", "direction": "outgoing",
                                        "roles": ["central_authority"]}), "leaves final state"),
    (lambda d: d["events_by_type"].update(preservaton=["check"]), "events_by_type.preservaton: unknown request type"),
    (lambda d: d["events_by_type"]["preservation"].append("presrve"), "unknown event 'presrve'"),
    (lambda d: [v.remove("expire") for v in d["events_by_type"].values() if "expire" in v],
     "events offered to no request type: expire"),
    (lambda d: d["four_eyes_waiver"]["when"][0].update(types=["emergency"]), "unknown request type 'emergency'"),
    (lambda d: d["four_eyes_waiver"]["when"][0].update(article="Art 9"), "four_eyes_waiver.when[0].article"),
    # data_sending: every type once, every state it reaches said, a final state never sends.
    (lambda d: d["data_sending"]["by_type"][0]["states"].pop("conditions_proposed"),
     "a received mutual_assistance request reaches conditions_proposed: say whether its data may go there"),
    (lambda d: d["data_sending"]["by_type"].pop(), "data_sending.by_type: no states for emergency_mutual_assistance"),
    (lambda d: d["data_sending"]["by_type"][1]["types"].append("mutual_assistance"),
     "data_sending.by_type: mutual_assistance listed more than once"),
    (lambda d: d["data_sending"]["by_type"][0]["types"].append("letter_rogatory"),
     "data_sending.by_type: unknown request type 'letter_rogatory'"),
    (lambda d: d["data_sending"]["by_type"][0]["states"].update(closed={"send": True, "article": "ETS185 Art 31"}),
     "data_sending.by_type[0].states.closed: a final state sends nothing"),
    (lambda d: d["data_sending"]["by_type"][0]["states"].update(refused={"send": True}),
     "data_sending.by_type[0].states.refused: data that may go needs the article"),
    (lambda d: d["data_sending"]["by_type"][0]["states"].update(
        received={"send": False, "because": "not_yet", "article": "ETS185 Art 25(4)"}),
     "'not_yet' is not a reason of data_sending.reasons"),
    (lambda d: d["data_sending"]["by_type"][0]["states"].update(limbo={"send": False, "because": "closed"}),
     "data_sending.by_type[0].states.limbo: unknown state"),
    (lambda d: d["data_sending"]["reasons"].update(moon_phase="the moon is full"),
     "data_sending.reasons: moon_phase given for no state"),
    (lambda d: d["data_sending"]["by_type"][0]["states"]["acknowledged"].update(article="Art 31"),
     "data_sending.by_type[0].states.acknowledged.article: Value error, 'Art 31' is not a canonical reference"),
])
def test_broken_lifecycle_is_refused_at_start_up(tmp_path, mutate, message):
    with pytest.raises(RuleDataError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        load_lifecycle(_write(tmp_path, mutate))


def test_each_event_is_offered_only_to_the_types_it_concerns():
    """ETS185 Art 29: preserved, renewed, released, lapsed are preservation events; a preservation is
    neither executed nor postponed (29(5) has refusal grounds only) and transmits no data."""
    for ev in ("record_preserved", "preserve", "renew", "release", "expire"):
        assert LC.concerns(ev, "preservation") and not LC.concerns(ev, "mutual_assistance"), ev
    for ev in ("record_execution", "record_postponement", "postpone", "transmit_data"):
        assert LC.concerns(ev, "mutual_assistance") and not LC.concerns(ev, "preservation"), ev
    assert "record_preserved" in LC.events_from("outgoing", "sent", Role.contact_24_7)  # the table alone
    assert "record_preserved" not in LC.events_from("outgoing", "sent", Role.contact_24_7, "mutual_assistance")
    with pytest.raises(TransitionNotAllowed, match="does not concern mutual_assistance"):
        LC.find("outgoing", "sent", "record_preserved", Role.contact_24_7, "mutual_assistance")


def test_only_emergencies_may_be_sent_alone():
    assert LC.waiver("emergency_disclosure", urgent=False).article == "CETS224 Art 9"
    assert LC.waiver("emergency_mutual_assistance", urgent=False).article == "CETS224 Art 10"
    assert LC.waiver("mutual_assistance", urgent=True).article == "ETS185 Art 25(3)"
    assert LC.waiver("mutual_assistance", urgent=False) is None
    assert LC.waiver("subscriber_order", urgent=True) is None
    assert "send_alone" in LC.events_from("outgoing", "checked", Role.contact_24_7, "emergency_disclosure")
    assert "send_alone" not in LC.events_from("outgoing", "checked", Role.contact_24_7, "mutual_assistance")
    assert "send_alone" not in LC.events_from("outgoing", "checked", Role.central_authority, "emergency_disclosure")
    with pytest.raises(TransitionNotAllowed, match="keeps four eyes"):
        LC.find("outgoing", "checked", "send_alone", Role.contact_24_7, "mutual_assistance", urgent=False)


# The states in which the data produced for a request received may go to the requesting Party (evidence
# packages), per type, as data_sending says: the table a lawyer reviews, held here so a change is seen.
EXECUTING = {"acknowledged", "in_execution", "executed", "partly_executed", "conditions_accepted", "data_transmitted"}
MAY_SEND = {
    "mutual_assistance": EXECUTING,  # ETS185 Art 31(2), 27(6), 28(3)
    "realtime_traffic": EXECUTING,  # ETS185 Art 33
    "interception": EXECUTING,  # ETS185 Art 34
    "emergency_mutual_assistance": EXECUTING,  # CETS224 Art 10(4), 10(7)
    "give_effect_order": EXECUTING,  # CETS224 Art 8(6)(b), 8(9)(b)
    "emergency_disclosure": EXECUTING | {"received"},  # CETS224 Art 9(1)(a): on receipt
    "subscriber_order": EXECUTING | {"received"},  # CETS224 Art 7(2)(a): the provider discloses directly
    "domain_registration": EXECUTING | {"received"},  # CETS224 Art 6(2): the registrar discloses directly
    "preservation": {"in_execution", "preserved", "renewed"},  # ETS185 Art 30(1): in the course of execution
    "spontaneous_information": set(),  # ETS185 Art 26: nothing asked
}


@pytest.mark.parametrize("request_type", sorted(MAY_SEND))
def test_data_go_only_in_the_states_the_law_allows(request_type):
    rules = {s: LC.data_sending(request_type, s) for s in LC.states}
    assert {s for s, r in rules.items() if r is not None and r.send} == MAY_SEND[request_type]
    for rule in rules.values():
        if rule is None:  # a state an incoming request of the type never reaches (the start-up check)
            continue
        if rule.send:
            assert rule.article and rule.because is None
        else:
            assert rule.because in LC.withheld_reasons
    # Never while conditions are only proposed (ETS185 Art 28(3); CETS224 Art 8(9)(b), 9(7)(a)), nor refused,
    # postponed, declined, or once the request ended.
    never = {"conditions_proposed", "conditions_declined", "refused", "postponed", *LC.final}
    assert not any(rules[s] is not None and rules[s].send for s in never)
    conditions = rules["conditions_proposed"]
    assert conditions is not None and conditions.because in ("conditions_proposed", "nothing_asked")


def test_each_reason_cites_the_article_of_its_type():
    assert LC.data_sending("mutual_assistance", "conditions_proposed").article == "ETS185 Art 28(3)"
    assert LC.data_sending("give_effect_order", "conditions_proposed").article == "CETS224 Art 8(9)(b)"
    assert LC.data_sending("emergency_disclosure", "conditions_proposed").article == "CETS224 Art 9(7)(a)"
    assert LC.data_sending("emergency_mutual_assistance", "conditions_proposed").article == "CETS224 Art 10(7)"
    assert LC.data_sending("preservation", "preserved").article == "ETS185 Art 30(1)"
    assert LC.data_sending("mutual_assistance", "refused").article == "ETS185 Art 27(4)"
    assert LC.data_sending("mutual_assistance", "closed").article is None  # the lifecycle's own end
    assert LC.data_sending("mutual_assistance", "draft") is None  # never an incoming state
