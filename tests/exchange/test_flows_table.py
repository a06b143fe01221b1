"""The cross-node table agrees with the lifecycle table: every announced transition lands on an
allowed record_* transition at the other node, from the mirrored state to the mirrored state."""

from __future__ import annotations

import pytest

from evidex.exchange.flows import ANNOUNCED
from evidex.parties.roles import Role
from evidex.requests.lifecycle import default_lifecycle

LC = default_lifecycle()
MIRROR = {"received": "sent"}  # every other state has the same name on both sides


def mirror(state: str) -> str:
    return MIRROR.get(state, state)


CASES = [(d, src, ev) for (d, src, ev) in LC.table if ev in ANNOUNCED and ANNOUNCED[ev][1]]


@pytest.mark.parametrize(("direction", "source", "event"), CASES)
def test_announced_transition_applies_remotely(direction, source, event):
    here = LC.table[(direction, source, event)]
    remote_direction = "outgoing" if direction == "incoming" else "incoming"
    remote_event = ANNOUNCED[event][1]
    remote_source = mirror(source) if direction == "incoming" else {v: k for k, v in MIRROR.items()}.get(source, source)
    remote = LC.find(remote_direction, remote_source, remote_event, Role.system)
    expected = mirror(here.to) if direction == "incoming" else here.to
    assert remote.to == expected, (event, source, remote.to, expected)
