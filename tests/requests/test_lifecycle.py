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
