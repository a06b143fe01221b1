"""A preservation's period across two nodes: the requested node records the day it preserved the
data, the requesting node counts its period from that same day, by the law in force on it (a
period that changed at a date in the data gives the same end on both nodes). SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import yaml

from evidex.cases import service as requests
from evidex.requests.models import Request
from evidex.rules import load_rulebook
from evidex.rules.loader import data_dir
from tests.exchange.conftest import Link
from tests.exchange.test_faults import deliver, incoming, now, send_request


def test_both_nodes_count_the_preservation_from_the_day_it_was_carried_out(two_nodes, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(data_dir(), rules)
    periods = yaml.safe_load((rules / "periods.yaml").read_text(encoding="utf-8"))
    periods["periods"]["preservation_minimum"]["values"].append({"from": dt.date(2026, 11, 1), "days": 90})
    (rules / "periods.yaml").write_text(yaml.safe_dump(periods), encoding="utf-8")
    law = load_rulebook(rules)
    rs, me = (dataclasses.replace(n, law=dataclasses.replace(n.law, rulebook=law)) for n in two_nodes)
    rid = send_request(rs, kind="preservation")
    deliver(rs, Link(me, now))
    (got,) = incoming(me)
    with me.sessions() as db:
        for ev, data in (("acknowledge", {}), ("preserve", {"preserved_on": "2026-11-20"})):
            requests.transition(db, actor=me.people["p247"], law=me.law, request_id=got.id, event=ev,
                                now=now(), command=requests.Command(data=data))
        db.commit()
    deliver(me, Link(rs, now))
    ends = []
    for node, req_id in ((me, got.id), (rs, rid)):
        with node.sessions() as db:
            req = db.get(Request, req_id)
            assert req.status == "preserved"
            ends.append(req.preserved_until)
    assert ends == [dt.date(2026, 11, 20) + dt.timedelta(days=90)] * 2
