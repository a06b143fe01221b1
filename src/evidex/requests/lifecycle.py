"""The lifecycle table (data/lifecycle.yaml) and the one function that applies it.

Like a state machine library's transition list, the table is data: it can be listed, drawn,
reviewed by a lawyer and tested exhaustively. It is validated when loaded: unknown states or
roles, unreachable states and non-final states with no way out are errors.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evidex.core.errors import EvidexError, RuleDataError
from evidex.core.yamlio import load_yaml_text
from evidex.parties.roles import Role
from evidex.rules.refs import Reference

Direction = Literal["outgoing", "incoming"]
Guard = Literal["admissible", "reasons", "refusal_grounds", "postponement_grounds", "conditions", "four_eyes",
                "four_eyes_waived", "lapsed", "evidex_node", "outside_evidex"]
# The guards that decide, at the moment of sending, whether evidex delivers the request.
DELIVERY_GUARDS: frozenset[Guard] = frozenset({"evidex_node", "outside_evidex"})
DEFAULT_TYPES = "default"  # events_by_type: the set of every request type not named


class TransitionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    event: str = Field(pattern=r"^[a-z_]+$")
    from_: list[str] = Field(alias="from", min_length=1)
    to: str
    direction: Literal["outgoing", "incoming", "any"]
    roles: list[Role] = Field(min_length=1)
    guards: list[Guard] = []


class DeadlinesEnd(BaseModel):
    """The states in which a request's deadlines end: met, or cancelled."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    met: list[str]
    cancelled: list[str]
class WaiverCase(BaseModel):
    """Request types (and, if said, only urgent ones) a 24/7 contact may send alone, with the article."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    types: list[str] = Field(min_length=1)
    urgent: bool = False
    article: str = Field(pattern=r"^(ETS185|CETS224|UNCC) Art \d+")


class FourEyesWaiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    review_within_days: int = Field(ge=0, le=30)
    review_roles: list[Role] = Field(min_length=1)
    when: list[WaiverCase] = Field(min_length=1)


class SendingRule(BaseModel):
    """Whether the data produced for a request received may go to the requesting Party's node in a
    state: `send`, with the article that lets it go; or not, `because` (a reason of
    data_sending.reasons) and the article that rests on (none where the lifecycle itself decides)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    send: bool
    article: Reference | None = None
    because: str | None = None


class SendingGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    types: list[str] = Field(min_length=1)
    states: dict[str, SendingRule] = Field(min_length=1)


class DataSending(BaseModel):
    """When the data produced for a request received may be sent (evidence packages), per type."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Why not: the words the sender reads (their translations' English source: data_withheld.<reason>).
    reasons: dict[Annotated[str, Field(pattern=r"^[a-z_]+$")], Annotated[str, Field(min_length=1)]]
    by_type: list[SendingGroup] = Field(min_length=1)
class LetterSpec(BaseModel):
    """The letter an event gives the requesting Party (documents/): its kind, title, statement and the
    articles it cites (by default, and for the request types whose own article governs the answer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = Field(pattern=r"^[a-z_]+$")
    title: str = Field(min_length=1)
    statement: str = Field(min_length=1)
    cites: list[Reference] = []
    cites_by_type: dict[str, list[Reference]] = {}


class LifecycleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: dt.date
    initial: dict[Direction, str]
    states: dict[str, str]
    final: list[str]
    awaiting: list[str]
    # The words a person reads (and their translations' English source, rules/data/i18n/): a short
    # name of each state, a label of each event, a label of each role.
    state_names: dict[str, Annotated[str, Field(min_length=1)]]
    event_labels: dict[str, Annotated[str, Field(min_length=1)]]
    role_labels: dict[Role, Annotated[str, Field(min_length=1)]]
    deadlines_end: DeadlinesEnd
    # The kinds of condition the `conditions` guard accepts, each with the article it cites (or none).
    condition_kinds: dict[Annotated[str, Field(pattern=r"^[a-z_]+$")], Reference | None] = Field(min_length=1)
    # The article a guard cites when it refuses (e.g. `reasons`: written reasons are mandatory).
    guard_articles: dict[Guard, Reference] = {}
    # The events by which the requested Party answers that give the requesting Party a letter.
    letters: dict[str, LetterSpec] = {}
    transitions: list[TransitionSpec]
    four_eyes_waiver: FourEyesWaiver
    events_by_type: dict[str, list[str]]
    data_sending: DataSending


class TransitionNotAllowed(EvidexError):
    """An event the current state, direction or role does not allow (HTTP 409)."""

    def __init__(self, status: str, event: str, allowed: list[str], why: str = "") -> None:
        self.status, self.event, self.allowed = status, event, allowed
        reason = why or f"'{event}' is not allowed from '{status}'"
        super().__init__(f"{reason}; allowed now: {', '.join(allowed) or 'none'}")


class Lifecycle:
    def __init__(self, spec: LifecycleFile) -> None:
        self.spec = spec
        self.table: dict[tuple[Direction, str, str], TransitionSpec] = {}
        for t in spec.transitions:
            for direction in (("outgoing", "incoming") if t.direction == "any" else (t.direction,)):
                for source in t.from_:
                    key = (direction, source, t.event)
                    if key in self.table:
                        raise ValueError(f"two transitions for {key}")
                    self.table[key] = t  # type: ignore[index]
        self.sending: dict[tuple[str, str], SendingRule] = {
            (rtype, state): rule for group in spec.data_sending.by_type for rtype in group.types
            for state, rule in group.states.items()}

    @property
    def states(self) -> Mapping[str, str]:
        return self.spec.states

    @property
    def state_names(self) -> Mapping[str, str]:
        return self.spec.state_names

    @property
    def event_labels(self) -> Mapping[str, str]:
        return self.spec.event_labels

    @property
    def role_labels(self) -> Mapping[str, str]:
        return {role.value: label for role, label in self.spec.role_labels.items()}

    @property
    def condition_kinds(self) -> Mapping[str, str | None]:
        """Condition kind -> the article a condition of that kind cites (None: no article of its own)."""
        return self.spec.condition_kinds

    @property
    def letters(self) -> Mapping[str, LetterSpec]:
        """Event -> the letter it gives the requesting Party (an event not listed gives none)."""
        return self.spec.letters

    @property
    def letter_words(self) -> Mapping[str, str]:
        """The letters' words (the English source of their translations): `<kind>` (the title) and
        `<kind>.statement`."""
        out: dict[str, str] = {}
        for spec in self.spec.letters.values():
            out[spec.kind] = spec.title
            out[f"{spec.kind}.statement"] = spec.statement
        return out

    def letter_cites(self, event: str, request_type: str) -> list[str]:
        """The articles the letter of `event` cites for a request of `request_type`."""
        spec = self.spec.letters[event]
        return list(spec.cites_by_type.get(request_type, spec.cites))

    def guard_article(self, guard: Guard) -> str | None:
        return self.spec.guard_articles.get(guard)

    @property
    def withheld_reasons(self) -> Mapping[str, str]:
        """Why data is not sent in a state (data_sending.reasons): reason -> the words a person reads."""
        return self.spec.data_sending.reasons

    def data_sending(self, request_type: str, status: str) -> SendingRule | None:
        """May the data produced for a request of this type received here go to the requesting
        Party's node in `status`? None where the data says nothing (a state incoming requests of
        the type never reach): then nothing goes."""
        return self.sending.get((request_type, status))

    def initial(self, direction: Direction) -> str:
        return self.spec.initial[direction]

    def deadlines_end(self, status: str) -> Literal["met", "cancelled"] | None:
        """How a request's open deadlines end in `status`, or None while they still run."""
        if status in self.spec.deadlines_end.met:
            return "met"
        if status in self.spec.deadlines_end.cancelled:
            return "cancelled"
        return None

    def concerns(self, event: str, request_type: str | None) -> bool:
        """Is `event` offered to requests of this type (events_by_type)? No type: any event."""
        if request_type is None:
            return True
        sets = self.spec.events_by_type
        return event in sets.get(request_type, sets.get(DEFAULT_TYPES, []))

    def waiver(self, request_type: str, urgent: bool) -> WaiverCase | None:
        """The emergency under which a 24/7 contact may send this request alone, if any."""
        for case in self.spec.four_eyes_waiver.when:
            if request_type in case.types and (urgent or not case.urgent):
                return case
        return None

    @property
    def emergencies(self) -> tuple[WaiverCase, ...]:
        """The emergencies of the data (CETS224 Art 9, 10; urgent ETS185 requests): what a desk sees first."""
        return tuple(self.spec.four_eyes_waiver.when)

    @property
    def final(self) -> frozenset[str]:
        return frozenset(self.spec.final)

    @property
    def awaiting(self) -> frozenset[str]:
        """States in which the request still waits for an answer or an act (not final, not answered)."""
        return frozenset(self.spec.awaiting)

    def events_from(self, direction: Direction, status: str, role: Role | None = None,
                    request_type: str | None = None, urgent: bool = False) -> list[str]:
        """The events allowed now; with a request type, only those its type (and urgency) is offered."""
        return sorted(
            ev for (d, s, ev), t in self.table.items()
            if d == direction and s == status and (role is None or role in t.roles)
            and self.concerns(ev, request_type)
            and (request_type is None or "four_eyes_waived" not in t.guards
                 or self.waiver(request_type, urgent) is not None)
        )

    def find(self, direction: Direction, status: str, event: str, role: Role, request_type: str | None = None,
             urgent: bool = False) -> TransitionSpec:
        t = self.table.get((direction, status, event))
        allowed = self.events_from(direction, status, role, request_type, urgent)
        if t is None:
            raise TransitionNotAllowed(status, event, allowed)
        if not self.concerns(event, request_type):
            raise TransitionNotAllowed(status, event, allowed, f"'{event}' does not concern {request_type} requests")
        if "four_eyes_waived" in t.guards and request_type is not None and self.waiver(request_type, urgent) is None:
            raise TransitionNotAllowed(status, event, allowed,
                                       f"'{event}' is only for emergencies; a {'' if urgent else 'non-urgent '}"
                                       f"{request_type} request keeps four eyes")
        if role not in t.roles:
            raise TransitionNotAllowed(status, event, allowed,
                                       f"role {role.value} may not '{event}' (roles: {', '.join(t.roles)})")
        return t


def _validate(spec: LifecycleFile, where: str, request_types: Collection[str] | None = None) -> Lifecycle:
    states = set(spec.states)
    for d, s in spec.initial.items():
        if s not in states:
            raise RuleDataError(f"{where}: initial.{d}: unknown state {s!r}")
    for key in ("final", "awaiting"):
        for s in getattr(spec, key):
            if s not in states:
                raise RuleDataError(f"{where}: {key}: unknown state {s!r}")
    if set(spec.awaiting) & set(spec.final):
        raise RuleDataError(f"{where}: awaiting: a final state waits for nothing: "
                            f"{', '.join(sorted(set(spec.awaiting) & set(spec.final)))}")
    ends = spec.deadlines_end
    for key in ("met", "cancelled"):
        for s in getattr(ends, key):
            if s not in states:
                raise RuleDataError(f"{where}: deadlines_end.{key}: unknown state {s!r}")
    both = set(ends.met) & set(ends.cancelled)
    if both:
        raise RuleDataError(f"{where}: deadlines_end: {', '.join(sorted(both))} both met and cancelled")
    open_at_end = set(spec.final) - set(ends.met) - set(ends.cancelled)
    if open_at_end:
        raise RuleDataError(f"{where}: deadlines_end: final state(s) {', '.join(sorted(open_at_end))} must end "
                            "the deadlines (list each under met or cancelled)")
    for i, t in enumerate(spec.transitions):
        for s in (*t.from_, t.to):
            if s not in states:
                raise RuleDataError(f"{where}: transitions[{i}] ({t.event}): unknown state {s!r}")
        for s in t.from_:
            if s in spec.final:
                raise RuleDataError(f"{where}: transitions[{i}] ({t.event}): leaves final state {s!r}")
    try:
        lc = Lifecycle(spec)
    except ValueError as e:
        raise RuleDataError(f"{where}: {e}") from e
    reachable = set(spec.initial.values())
    frontier = list(reachable)
    while frontier:
        s = frontier.pop()
        for (_, src, _), t in lc.table.items():
            if src == s and t.to not in reachable:
                reachable.add(t.to)
                frontier.append(t.to)
    unreachable = states - reachable
    if unreachable:
        raise RuleDataError(f"{where}: unreachable states: {', '.join(sorted(unreachable))}")
    for direction in ("outgoing", "incoming"):
        # Per direction too: a transition whose source that direction never reaches is dead.
        seen = {spec.initial[direction]}
        todo = list(seen)
        while todo:
            s = todo.pop()
            for (d, src, _), t in lc.table.items():
                if d == direction and src == s and t.to not in seen:
                    seen.add(t.to)
                    todo.append(t.to)
        dead = sorted({f"{ev} from {src}" for (d, src, ev) in lc.table if d == direction and src not in seen})
        if dead:
            raise RuleDataError(f"{where}: {direction} transitions from states an {direction} request never "
                                f"reaches: {'; '.join(dead)}")
    exits = {src for (_, src, _) in lc.table}
    traps = states - set(spec.final) - exits
    if traps:
        raise RuleDataError(f"{where}: non-final states with no transition out: {', '.join(sorted(traps))}")
    events = {t.event for t in spec.transitions}
    known_types = set(request_types) if request_types is not None else None
    for key, listed in spec.events_by_type.items():
        if key != DEFAULT_TYPES and known_types is not None and key not in known_types:
            raise RuleDataError(f"{where}: events_by_type.{key}: unknown request type")
        for ev in listed:
            if ev not in events:
                raise RuleDataError(f"{where}: events_by_type.{key}: unknown event {ev!r}")
    offered = {ev for listed in spec.events_by_type.values() for ev in listed}
    if events - offered:
        raise RuleDataError(f"{where}: events_by_type: events offered to no request type: "
                            f"{', '.join(sorted(events - offered))}")
    if known_types is not None and DEFAULT_TYPES not in spec.events_by_type and known_types - set(spec.events_by_type):
        raise RuleDataError(f"{where}: events_by_type: no events for "
                            f"{', '.join(sorted(known_types - set(spec.events_by_type)))} (and no default)")
    _check_labels(spec, where, events)
    _check_data_sending(spec, where, lc, known_types)
    _check_letters(spec, where, known_types)
    for i, case in enumerate(spec.four_eyes_waiver.when):
        for rtype in case.types:
            if known_types is not None and rtype not in known_types:
                raise RuleDataError(f"{where}: four_eyes_waiver.when[{i}]: unknown request type {rtype!r}")
    return lc


def _reached_by(lc: Lifecycle, request_type: str) -> set[str]:
    """The states an incoming request of this type reaches, by the events its type is offered."""
    seen = {lc.spec.initial["incoming"]}
    todo = list(seen)
    while todo:
        s = todo.pop()
        for (d, src, ev), t in lc.table.items():
            if d == "incoming" and src == s and lc.concerns(ev, request_type) and t.to not in seen:
                seen.add(t.to)
                todo.append(t.to)
    return seen


def _check_data_sending(spec: LifecycleFile, where: str, lc: Lifecycle, known_types: set[str] | None) -> None:
    """Every type listed once (every type of the rulebook, when known), every state its incoming
    requests reach listed, each rule complete; a final state never sends; every reason used."""
    ds, at = spec.data_sending, f"{where}: data_sending"
    listed: list[str] = [t for g in ds.by_type for t in g.types]
    twice = sorted({t for t in listed if listed.count(t) > 1})
    if twice:
        raise RuleDataError(f"{at}.by_type: {', '.join(twice)} listed more than once")
    if known_types is not None:
        unknown, missing = sorted(set(listed) - known_types), sorted(known_types - set(listed))
        if unknown:
            raise RuleDataError(f"{at}.by_type: unknown request type {unknown[0]!r}")
        if missing:
            raise RuleDataError(f"{at}.by_type: no states for {', '.join(missing)}")
    used: set[str] = set()
    for i, group in enumerate(ds.by_type):
        for state, rule in group.states.items():
            here = f"{at}.by_type[{i}].states.{state}"
            if state not in spec.states:
                raise RuleDataError(f"{here}: unknown state")
            if rule.send and state in spec.final:
                raise RuleDataError(f"{here}: a final state sends nothing")
            if rule.send and (rule.article is None or rule.because is not None):
                raise RuleDataError(f"{here}: data that may go needs the article that lets it go, and no reason")
            if not rule.send:
                if rule.because not in ds.reasons:
                    raise RuleDataError(f"{here}.because: {rule.because!r} is not a reason of data_sending.reasons")
                used.add(rule.because)
        for rtype in group.types:
            unlisted = sorted(_reached_by(lc, rtype) - set(group.states))
            if unlisted:
                raise RuleDataError(f"{at}.by_type[{i}]: a received {rtype} request reaches "
                                    f"{', '.join(unlisted)}: say whether its data may go there")
    unused = sorted(set(ds.reasons) - used)
    if unused:
        raise RuleDataError(f"{at}.reasons: {', '.join(unused)} given for no state")


def _check_labels(spec: LifecycleFile, where: str, events: set[str]) -> None:
    """One label for each state, event and role: none missing (the UI would show a bare name) and
    none for a state, event or role the table does not have (a label left behind by a rename)."""
    for field_name, labelled, known in (("state_names", set(spec.state_names), set(spec.states)),
                                        ("event_labels", set(spec.event_labels), events),
                                        ("role_labels", {r.value for r in spec.role_labels}, {r.value for r in Role})):
        missing, unknown = sorted(known - labelled), sorted(labelled - known)
        if missing:
            raise RuleDataError(f"{where}: {field_name}: no label for {', '.join(missing)}")
        if unknown:
            raise RuleDataError(f"{where}: {field_name}.{unknown[0]}: no such "
                                f"{field_name.split('_')[0]} in the lifecycle")


def _check_letters(spec: LifecycleFile, where: str, known_types: set[str] | None) -> None:
    """A letter is given by an event of the requested Party (incoming, or either side), one kind per
    event, and names only request types the rulebook has."""
    answering = {t.event for t in spec.transitions if t.direction in ("incoming", "any")}
    kinds: dict[str, str] = {}
    for event, letter in spec.letters.items():
        if event not in answering:
            raise RuleDataError(f"{where}: letters.{event}: no event of the requested Party (incoming) has that name")
        if letter.kind in kinds:
            raise RuleDataError(f"{where}: letters.{event}: kind {letter.kind!r} is already given by "
                                f"letters.{kinds[letter.kind]}")
        kinds[letter.kind] = event
        for rtype in letter.cites_by_type:
            if known_types is not None and rtype not in known_types:
                raise RuleDataError(f"{where}: letters.{event}.cites_by_type: unknown request type {rtype!r}")


def load_lifecycle(path: Path | None = None, request_types: Collection[str] | None = None) -> Lifecycle:
    """`request_types`: the rulebook's (default: the shipped rulebook's), to check the names used."""
    p = path or Path(str(resources.files("evidex.requests") / "data" / "lifecycle.yaml"))
    data = load_yaml_text(p.read_text(encoding="utf-8"), str(p), RuleDataError)
    try:
        spec = LifecycleFile.model_validate(data)
    except ValidationError as e:
        from evidex.rules.loader import describe_validation_error

        raise RuleDataError(f"{p}: {describe_validation_error(e)}") from e
    if request_types is None:
        from evidex.rules import default_rulebook

        request_types = list(default_rulebook().types)
    return _validate(spec, str(p), request_types)


@functools.lru_cache(maxsize=1)
def default_lifecycle() -> Lifecycle:
    return load_lifecycle()
