"""The node reads the law by id: the preservation period, the reminder lead time and the next step
after a lapsed deadline come from the rule data, and where deadlines end from the lifecycle data.
Each test changes a copy of the data and shows the service or the worker follow it, on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from evidex.cases import service
from evidex.core.db import make_engine, make_sessionmaker
from evidex.core.errors import Invalid, RuleDataError
from evidex.parties.roles import Role
from evidex.requests.lifecycle import default_lifecycle, load_lifecycle
from evidex.requests.models import Deadline, Notification, RequestCondition, RequestEvent
from evidex.rules import load_rulebook
from evidex.rules.loader import data_dir
from evidex.workers.deadlines import run_once
from tests.factories import NOW, new_request, sent_outside, user

LIFECYCLE_YAML = Path(__file__).resolve().parents[2] / "src/evidex/requests/data/lifecycle.yaml"


def rulebook_with(tmp_path: Path, edit) -> service.Law:
    """The shipped law with one edit, as the law of a node."""
    d = tmp_path / "rules"
    shutil.copytree(data_dir(), d)
    for name in ("periods.yaml", "request_types.yaml"):
        data = yaml.safe_load((d / name).read_text(encoding="utf-8"))
        edit(name, data)
        (d / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return service.Law(rulebook=load_rulebook(d))


def preservation_days(*changes: tuple[dt.date, int]):
    def edit(name, data):
        if name == "periods.yaml":
            data["periods"]["preservation_minimum"]["values"] += [{"from": on, "days": n} for on, n in changes]
    return edit


def deadlines(db, req):
    return {d.name: d for d in db.execute(sa.select(Deadline).where(Deadline.request_id == req.id)).scalars()}


def test_the_preservation_period_in_force_on_its_first_day(db, tmp_path):
    """90 days from 2026-11-01 in the data: a preservation carried out on 2026-11-23 lasts 90 days,
    and its renewal too; with the change only from 2027-01-01, 60 days, and the renewal on
    2027-01-12 (its new period starts at the old end, 2027-01-22) 90."""
    for changed_on, first, renewed in ((dt.date(2026, 11, 1), 90, 90), (dt.date(2027, 1, 1), 60, 90)):
        law = rulebook_with(tmp_path / str(changed_on), preservation_days((changed_on, 90)))
        me = user(db, "ME", Role.contact_24_7, name=f"me-247-{changed_on}")
        req = new_request(db, me, law, kind="preservation", direction="incoming", case_ref=f"P{changed_on}")
        for ev in ("acknowledge", "preserve"):
            req = service.transition(db, actor=me, law=law, request_id=req.id, event=ev, now=NOW)
        start = dt.date(2026, 11, 23)
        assert req.preserved_until == start + dt.timedelta(days=first)
        exp = deadlines(db, req)["preservation_minimum"]
        assert (exp.days, exp.due_on, exp.article) == (first, req.preserved_until, "ETS185 Art 29(7)")
        # The event records the day the period began: the requesting node counts from it.
        last = db.execute(sa.select(RequestEvent).where(RequestEvent.request_id == req.id)
                          .order_by(RequestEvent.seq.desc())).scalars().first()
        assert last.data["preserved_on"] == start.isoformat()
        end = req.preserved_until
        req = service.transition(db, actor=me, law=law, request_id=req.id, event="renew",
                                 now=dt.datetime(2027, 1, 12, 9, tzinfo=dt.UTC))
        assert req.preserved_until == end + dt.timedelta(days=renewed)
        assert deadlines(db, req)["preservation_minimum"].days == renewed


def test_the_reminder_lead_time_is_the_data(db, tmp_path):
    def edit(name, data):
        if name == "periods.yaml":
            data["periods"]["reminder_lead"]["values"] = [{"from": dt.date(2001, 11, 23), "days": 5}]
    law = rulebook_with(tmp_path, edit)
    me = user(db, "ME", Role.contact_24_7)
    req = new_request(db, me, law, kind="preservation", direction="incoming")
    for ev in ("acknowledge", "preserve"):
        req = service.transition(db, actor=me, law=law, request_id=req.id, event=ev, now=NOW)
    exp = deadlines(db, req)["preservation_minimum"]
    assert exp.remind_on == exp.due_on - dt.timedelta(days=5)  # shipped: 10 days before


def test_the_next_step_after_a_lapsed_deadline_is_the_data(own_database_url, tmp_path):
    def edit(name, data):
        if name == "request_types.yaml":
            pres = next(t for t in data["types"] if t["type"] == "preservation")
            pres["deadlines"][0]["on_lapse"] = {"article": "ETS185 Art 29(1)", "message": "Send the MLA request today."}
    law = rulebook_with(tmp_path, edit)
    engine = make_engine(own_database_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as db:
            rs = user(db, "RS", Role.contact_24_7)
            req = new_request(db, rs, law, kind="preservation", direction="outgoing")
            due = deadlines(db, req)["preservation_minimum"].due_on
            db.commit()
        after = dt.datetime.combine(due + dt.timedelta(days=1), dt.time(9), dt.UTC)
        run_once(sessions, after, law.party_timezones(), rulebook=law.rulebook)
        with sessions() as db:
            steps = [(n.article, n.message) for n in db.execute(sa.select(Notification).where(
                Notification.request_id == req.id, Notification.kind == "next_step")).scalars()]
        assert steps == [("ETS185 Art 29(1)", "Send the MLA request today.")]
    finally:
        engine.dispose()


def test_where_deadlines_end_is_the_lifecycle_data(db):
    lc = default_lifecycle()
    assert [lc.deadlines_end(s) for s in ("data_transmitted", "closed", "refused", "expired", "sent", "preserved")] \
        == ["met", "met", "cancelled", "cancelled", None, None]
    # A refused request: its open deadlines are cancelled, as the data says.
    people = {r: user(db, "ME", r) for r in (Role.central_authority, Role.contact_24_7)}
    me = people[Role.contact_24_7]
    req = new_request(db, me, service.Law(), kind="preservation", direction="incoming")
    assert {d.status for d in deadlines(db, req).values()} == {"open"}
    req = service.transition(db, actor=me, law=service.Law(), request_id=req.id, event="refuse", now=NOW,
                             command=service.Command(reasons="Essential interests", grounds=["ETS185 Art 29(5)(b)"]))
    assert {d.status for d in deadlines(db, req).values()} == {"cancelled"}


def _lifecycle(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load(LIFECYCLE_YAML.read_text(encoding="utf-8"))
    mutate(data)
    p = tmp_path / "lifecycle.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["deadlines_end"]["met"].append("nowhere"), "deadlines_end.met: unknown state 'nowhere'"),
    (lambda d: d["deadlines_end"]["cancelled"].remove("expired"),
     "deadlines_end: final state(s) expired must end the deadlines"),
    (lambda d: d["deadlines_end"]["cancelled"].append("closed"), "deadlines_end: closed both met and cancelled"),
    (lambda d: d.pop("deadlines_end"), "deadlines_end: Field required"),
    (lambda d: d["condition_kinds"].update(confidentiality="Budapest 28"), "condition_kinds.confidentiality"),
    (lambda d: d["guard_articles"].update(reasons="ETS185 Article 27"), "guard_articles.reasons"),
    (lambda d: d["guard_articles"].update(explain="ETS185 Art 27(7)"), "guard_articles.explain"),
])
def test_broken_deadlines_end_is_refused_at_start_up(tmp_path, mutate, message):
    with pytest.raises(RuleDataError) as e:
        load_lifecycle(_lifecycle(tmp_path, mutate))
    assert "lifecycle.yaml" in str(e.value) and message in str(e.value), str(e.value)


def test_condition_kinds_and_guard_articles_are_the_lifecycle_data(db, tmp_path):
    p = _lifecycle(tmp_path, lambda d: (d["condition_kinds"].update(confidentiality="ETS185 Art 26(2)"),
                                        d["guard_articles"].update(reasons="ETS185 Art 25(4)")))
    law = service.Law(lifecycle=load_lifecycle(p))
    drafter, rs = user(db, "RS", Role.central_authority), user(db, "RS", Role.contact_24_7)
    req = new_request(db, drafter, law)
    for actor, event in ((drafter, "check"), (rs, "approve"), (drafter, "send_outside")):  # approve: four eyes
        req = service.transition(db, actor=actor, law=law, request_id=req.id, event=event, now=NOW,
                                 command=sent_outside(event))
    with pytest.raises(Invalid, match=r"needs written reasons \(ETS185 Art 25\(4\)\)"):
        service.transition(db, actor=rs, law=law, request_id=req.id, event="record_refusal", now=NOW,
                           command=service.Command(grounds=["ETS185 Art 27(5)"]))
    with pytest.raises(Invalid, match=r"kind: confidentiality\|other\|use_limitation"):
        service.transition(db, actor=rs, law=law, request_id=req.id, event="record_conditions", now=NOW,
                           command=service.Command(conditions=[{"kind": "secrecy", "text": "x"}]))
    service.transition(db, actor=rs, law=law, request_id=req.id, event="record_conditions", now=NOW,
                       command=service.Command(conditions=[{"kind": "confidentiality", "text": "Keep it secret"}]))
    c = db.execute(sa.select(RequestCondition).where(RequestCondition.request_id == req.id)).scalar_one()
    assert c.article == "ETS185 Art 26(2)"


def test_a_law_without_a_period_the_node_reads_is_refused_at_start_up(tmp_path):
    with pytest.raises(RuleDataError, match=r"periods\.yaml: periods: no 'reminder_lead'"):
        rulebook_with(tmp_path, lambda name, data: data["periods"].pop("reminder_lead") if name == "periods.yaml"
                      else None)
