"""Load the law as data (YAML) into validated models. A broken file fails with a message
naming the file and the field; nothing half-loaded is ever used."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from evidex.core.errors import RuleDataError
from evidex.core.yamlio import load_yaml_text
from evidex.rules.refs import article_of, parse_reference
from evidex.rules.schema import (
    CatalogueEntry,
    CatalogueFile,
    Condition,
    ExcludesType,
    Instrument,
    InstrumentsFile,
    NextStep,
    Notification,
    PartyProfile,
    Period,
    PeriodsFile,
    RequestTypesFile,
    RequestTypeSpec,
    RequiresElements,
)

if TYPE_CHECKING:
    from evidex.rules.engine import Engine

M = TypeVar("M", bound=BaseModel)


def data_dir() -> Path:
    return Path(str(resources.files("evidex.rules") / "data"))


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        # Drop pydantic's union/discriminator tags from the location: users know field names.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in {
            "excludes_type", "requires_supervision", "requires_elements", "requires_one_of",
            "redirect_channels", "notification", "dual_criminality", "condition", "bool",
            "dict[str,any]", "str", "function-after[_check(), str]"})))
        parts.append(f"{_loc(loc)}: {err['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise RuleDataError(f"{path}: cannot be read ({e.strerror or e})") from e
    return load_yaml_text(text, str(path), RuleDataError)


def _validate(model: type[M], data: Any, path: Path, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise RuleDataError(f"{path}: {prefix}{describe_validation_error(e)}") from e


# --------------------------------------------------------------------------- rulebook
@dataclass(frozen=True)
class Rulebook:
    instruments: Mapping[str, Instrument]
    types: Mapping[str, RequestTypeSpec]
    catalogue: Mapping[str, CatalogueEntry]
    versions: Mapping[str, dt.date]
    vocabulary: frozenset[str] = field(default_factory=frozenset)
    periods: Mapping[str, Period] = field(default_factory=dict)
    actors: Mapping[str, str] = field(default_factory=dict)  # actor -> the words a person reads
    # means -> its words: how a request may travel when evidex does not carry it (request_types.yaml)
    outside_evidex: Mapping[str, str] = field(default_factory=dict)
    # element -> its words, for an element only a Party's own law requires (request_types.yaml); a
    # profile may name others (LEGAL.md's format is open): those are shown as their name in words
    element_words: Mapping[str, str] = field(default_factory=dict)

    def value(self, period: str, *, on: dt.date) -> int:
        """The days of a named period (periods.yaml) as they apply on `on`. An unknown id is a
        programming error: the loader checked every id the data names."""
        return self.periods[period].on(on)

    def article_of(self, period: str) -> str | None:
        return self.periods[period].article

    def next_step(self, request_type: str, deadline: str) -> NextStep | None:
        """What to propose once a deadline of a request type has lapsed (its `on_lapse`)."""
        spec = self.types.get(request_type)
        return next((d.on_lapse for d in spec.deadlines if d.name == deadline and d.on_lapse), None) if spec else None

    def article_title(self, reference: str) -> str | None:
        instrument, number = parse_reference(reference)
        inst = self.instruments.get(instrument)
        return inst.articles.get(number) if inst else None

    def entries_for(self, request_type: str) -> list[CatalogueEntry]:
        return [e for e in self.catalogue.values() if request_type in e.applies_to]


def _check_reference(rb_instruments: Mapping[str, Instrument], ref: str, path: Path, where: str) -> None:
    instrument, number = parse_reference(ref)
    inst = rb_instruments.get(instrument)
    if inst is None:
        raise RuleDataError(f"{path}: {where}: instrument {instrument} is not in instruments.yaml")
    if inst.articles and number not in inst.articles:
        raise RuleDataError(f"{path}: {where}: {article_of(ref)} has no title in instruments.yaml")


_REF_FIELDS = frozenset({"article", "reference", "under", "declared", "not_declared", "offences", "language_article"})


def _walk_refs(obj: Any, where: str = "", is_ref: bool = False) -> Iterable[tuple[str, str]]:
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            yield from _walk_refs(getattr(obj, name), f"{where}.{name}" if where else name, name in _REF_FIELDS)
    elif isinstance(obj, list):
        for i, x in enumerate(obj):
            yield from _walk_refs(x, f"{where}[{i}]", is_ref)
    elif isinstance(obj, str) and is_ref:
        yield where, obj


def load_rulebook(directory: Path | None = None) -> Rulebook:
    d = directory or data_dir()
    inst_file = _validate(InstrumentsFile, read_yaml(d / "instruments.yaml"), d / "instruments.yaml")
    instruments: dict[str, Instrument] = {i.code: i for i in inst_file.instruments}
    types_path = d / "request_types.yaml"
    types_file = _validate(RequestTypesFile, read_yaml(types_path), types_path)
    cat_path = d / "declarations.yaml"
    cat_file = _validate(CatalogueFile, read_yaml(cat_path), cat_path)
    periods_path = d / "periods.yaml"
    periods_file = _validate(PeriodsFile, read_yaml(periods_path), periods_path)
    for pid, period in periods_file.periods.items():
        for where, ref in _walk_refs(period, f"periods.{pid}"):
            _check_reference(instruments, ref, periods_path, where)

    types: dict[str, RequestTypeSpec] = {}
    for i, t in enumerate(types_file.types):
        if t.type in types:
            raise RuleDataError(f"{types_path}: types[{i}].type: duplicate request type {t.type!r}")
        types[t.type] = t
    for i, t in enumerate(types_file.types):
        for alt in t.alternatives:
            if alt not in types:
                raise RuleDataError(f"{types_path}: types[{i}].alternatives: unknown request type {alt!r}")
        for where, ref in _walk_refs(t, f"types[{i}]"):
            _check_reference(instruments, ref, types_path, where)
        for j, dl in enumerate(t.deadlines):
            if dl.period is not None and dl.period not in periods_file.periods:
                raise RuleDataError(f"{types_path}: types[{i}].deadlines[{j}].period: unknown period {dl.period!r}; "
                                    f"periods.yaml has: {', '.join(periods_file.periods)}")
    catalogue: dict[str, CatalogueEntry] = {}
    for i, e in enumerate(cat_file.entries):
        where = f"entries[{i}]"
        if e.reference in catalogue:
            raise RuleDataError(f"{cat_path}: {where}.reference: duplicate {e.reference!r}")
        for ty in e.applies_to:
            if ty not in types:
                raise RuleDataError(f"{cat_path}: {where}.applies_to: unknown request type {ty!r}")
        for w, ref in _walk_refs(e, where):
            _check_reference(instruments, ref, cat_path, w)
        catalogue[e.reference] = e
    for i, t in enumerate(types_file.types):
        for w, ref in _walk_refs(t, f"types[{i}]"):
            if (w.endswith(".declared") or w.endswith(".not_declared")) and ref not in catalogue:
                    raise RuleDataError(f"{types_path}: {w}: {ref!r} is not in declarations.yaml")

    vocab: set[str] = set()
    for t in types.values():
        vocab.update(e.name for e in (*t.elements, *t.optional_elements))
    for e in catalogue.values():
        vocab.update(spec.name for spec in getattr(e.effect, "elements", []))
        element = getattr(e.effect, "element", None)
        if isinstance(element, str):
            vocab.add(element)
    return Rulebook(
        instruments=instruments,
        types=types,
        catalogue=catalogue,
        versions={
            "instruments": inst_file.version,
            "request_types": types_file.version,
            "declarations": cat_file.version,
            "periods": periods_file.version,
        },
        vocabulary=frozenset(vocab),
        periods=dict(periods_file.periods),
        actors=dict(types_file.actors),
        outside_evidex=dict(types_file.outside_evidex),
        element_words=dict(types_file.element_words),
    )


@functools.lru_cache(maxsize=1)
def default_rulebook() -> Rulebook:
    return load_rulebook()


# --------------------------------------------------------------------------- Parties
class Parties:
    """Party profiles, versioned by `valid_from`; answers "as of" a date."""

    def __init__(self, profiles: Iterable[PartyProfile], source: str = "") -> None:
        by_code: dict[str, list[PartyProfile]] = {}
        for p in profiles:
            by_code.setdefault(p.code, []).append(p)
        for versions in by_code.values():
            versions.sort(key=lambda p: p.valid_from or dt.date.min)
        self._by_code = by_code
        self.source = source
        self._vocab: frozenset[str] | None = None
        self._get_cache: dict[tuple[str, dt.date], PartyProfile | None] = {}
        self._engines: list[tuple[Rulebook, Engine]] = []

    def engine(self, rulebook: Rulebook) -> Engine:
        """The engine that checks documents between these Parties under `rulebook`: built once and
        kept here, so what it derives lives and dies with these profiles and that rulebook."""
        for rb, eng in self._engines:
            if rb is rulebook:  # held alive by the pair: identity cannot be reused
                return eng
        from evidex.rules.engine import Engine  # engine.py imports this module

        eng = Engine(rulebook, self)
        self._engines = [(rulebook, eng), *self._engines[:3]]
        return eng

    def vocabulary(self) -> frozenset[str]:
        """Element names the profiles require (mla_required_elements, additional elements)."""
        if self._vocab is None:
            names: set[str] = set()
            for versions in self._by_code.values():
                for p in versions:
                    names.update(p.mla_required_elements)
                    for table in (p.declarations, p.reservations):
                        for value in table.values():
                            if isinstance(value, dict):
                                for v in value.values():
                                    if isinstance(v, list):
                                        names.update(x for x in v if isinstance(x, str))
            self._vocab = frozenset(names)
        return self._vocab

    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def versions(self, code: str) -> list[PartyProfile]:
        return list(self._by_code.get(code, []))

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str, as_of: dt.date) -> PartyProfile | None:
        key = (code, as_of)
        if key in self._get_cache:
            return self._get_cache[key]
        found = None
        for p in self._by_code.get(code, ()):
            if p.valid_from is None or p.valid_from <= as_of:
                found = p
        if len(self._get_cache) > 4096:
            self._get_cache.clear()
        self._get_cache[key] = found
        return found

    @staticmethod
    def in_effect(profile: PartyProfile, as_of: dt.date) -> dict[str, dict[str, Any]]:
        """Declarations and reservations of `profile` in effect on `as_of`: reference -> parameters.
        LEGAL.md §3: `since` is the first day in force; `until` the first day no longer in force."""
        out: dict[str, dict[str, Any]] = {}
        for table in (profile.declarations, profile.reservations):
            for ref, value in table.items():
                if value is False:
                    continue
                params = dict(value) if isinstance(value, dict) else {}
                since, until = params.pop("since", None), params.pop("until", None)
                if since is not None and as_of < since:
                    continue
                if until is not None and as_of >= until:
                    continue
                out[ref] = params
        return out


def _check_profile(p: PartyProfile, rb: Rulebook, path: Path, where: str) -> None:
    for table_name, kind in (("declarations", "declaration"), ("reservations", "reservation")):
        table: dict[str, Any] = getattr(p, table_name)
        for ref, value in table.items():
            w = f"{where}.{table_name}.{ref}"
            entry = rb.catalogue.get(ref)
            if entry is None:
                raise RuleDataError(f"{path}: {w}: not in the catalogue of declarations and reservations")
            if entry.kind != kind:
                raise RuleDataError(f"{path}: {w}: {ref} is a {entry.kind}; list it under {entry.kind}s")
            params = value if isinstance(value, dict) else {}
            for key in ("since", "until"):
                if key in params and not isinstance(params[key], dt.date):
                    raise RuleDataError(f"{path}: {w}.{key}: must be a date (YYYY-MM-DD)")
            unknown = set(params) - set(entry.parameters) - {"since", "until"}
            if unknown:
                allowed = ", ".join(sorted(entry.parameters)) or "none besides since/until"
                raise RuleDataError(f"{path}: {w}: unknown parameter(s) {sorted(unknown)}; allowed: {allowed}")
            eff = entry.effect
            if isinstance(eff, RequiresElements):
                v = params.get(eff.parameter)
                if not (isinstance(v, list) and v and all(isinstance(x, str) for x in v)):
                    raise RuleDataError(f"{path}: {w}.{eff.parameter}: a non-empty list of element names is required")
            if isinstance(eff, ExcludesType) and eff.parameter and eff.parameter in params:
                v = params[eff.parameter]
                if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                    raise RuleDataError(f"{path}: {w}.{eff.parameter}: must be a list of strings")
            if isinstance(eff, Notification) and "when" in params:
                v = params["when"]
                if v != "always":
                    if not isinstance(v, list) or not v:
                        raise RuleDataError(f"{path}: {w}.when: 'always' or a non-empty list of circumstances")
                    for i, c in enumerate(v):
                        if isinstance(c, dict):
                            _validate(Condition, c, path, f"{w}.when[{i}]: ")
                        elif not isinstance(c, str):
                            raise RuleDataError(f"{path}: {w}.when[{i}]: a text or a condition")
    for i, code in enumerate(p.mla_treaties):
        if code == p.code:
            raise RuleDataError(f"{path}: {where}.mla_treaties[{i}]: a Party has no MLA treaty with itself")


def parse_parties(data: Any, path: Path, rb: Rulebook) -> list[PartyProfile]:
    if isinstance(data, dict) and "parties" in data:
        data = data["parties"]
    if isinstance(data, dict) and "code" in data:
        data = [data]
    if not isinstance(data, list):
        raise RuleDataError(f"{path}: expected a list of Party profiles")
    out = []
    for i, item in enumerate(data):
        p = _validate(PartyProfile, item, path, f"[{i}].")
        _check_profile(p, rb, path, f"[{i}]")
        out.append(p)
    return out


def load_parties(path: Path | None = None, rulebook: Rulebook | None = None) -> Parties:
    """Shipped profiles (every file under data/parties), or the profiles of one file."""
    rb = rulebook or default_rulebook()
    profiles: list[PartyProfile] = []
    if path is None:
        for f in sorted((data_dir() / "parties").glob("*.yaml")):
            profiles.extend(parse_parties(read_yaml(f), f, rb))
        source = "shipped"
    else:
        if not path.is_file():
            raise RuleDataError(f"{path}: no such file")
        profiles = parse_parties(read_yaml(path), path, rb)
        source = str(path)
    seen: dict[tuple[str, dt.date | None], int] = {}
    for i, p in enumerate(profiles):
        k = (p.code, p.valid_from)
        if k in seen:
            raise RuleDataError(f"{source}: [{i}]: two profiles of {p.code} valid from {p.valid_from}")
        seen[k] = i
    return Parties(profiles, source)


@functools.lru_cache(maxsize=1)
def default_parties() -> Parties:
    return load_parties()
