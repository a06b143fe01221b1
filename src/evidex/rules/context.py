"""The state of one check (the document, its plan, the findings so far), the conditions of the
rule data reduced to what they test, and the texts an engine builds once per rulebook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evidex.rules.elements import PRESENT, element_value, is_present
from evidex.rules.loader import Rulebook
from evidex.rules.refs import article_of
from evidex.rules.schema import Condition
from evidex.rules.verdict import Finding

if TYPE_CHECKING:
    from evidex.rules.document import RequestDocument
    from evidex.rules.plan import Plan

# Keys of a Condition decided by the two Parties alone (see Test.static).
_STATIC_KEYS = frozenset({"mla_treaty", "declared", "not_declared"})


@dataclass(frozen=True, slots=True)
class Test:
    """A `Condition` of the rule data reduced to the keys it sets; all must hold (AND)."""

    checks: tuple[tuple[str, Any], ...]

    @staticmethod
    def of(condition: Condition | None) -> Test | None:
        if condition is None:
            return None
        return Test(tuple((k, frozenset(v) if isinstance(v, list) else v)
                          for k, v in condition.__dict__.items() if v is not None))

    def static(self, declared: dict[str, Any], mla_treaty: bool) -> bool | None:
        """Whether the test holds, when it depends only on the Parties; None when it reads the document."""
        if any(k not in _STATIC_KEYS for k, _ in self.checks):
            return None
        for key, want in self.checks:
            if key == "mla_treaty":
                ok = mla_treaty == want
            elif key == "declared":
                ok = want in declared
            else:
                ok = want not in declared
            if not ok:
                return False
        return True


@dataclass(slots=True)
class Context:
    doc: RequestDocument
    plan: Plan
    texts: Texts
    problems: list[Finding]
    warnings: list[Finding] = field(default_factory=list)
    present: dict[str, bool] = field(default_factory=dict)  # filled by has()
    notification: bool = False  # CETS224 Art 7(5)(a): the requested Party is notified of this order
    applies: bool = True  # LEGAL.md §5: False once the type cannot apply between these Parties

    def has(self, name: str) -> bool:
        hit = self.present.get(name)
        if hit is None:
            getter = PRESENT.get(name)
            hit = self.present[name] = getter(self.doc) if getter is not None else is_present(
                element_value(self.doc, name))
        return hit

    def holds(self, test: Test | None) -> bool:
        if test is None:
            return True
        d = self.doc
        for key, want in test.checks:
            if key == "urgent":
                ok = d.urgent == want
            elif key == "mla_treaty":
                ok = self.plan.mla_treaty == want
            elif key == "sent_by":
                ok = d.sent_by in want
            elif key == "data_category":
                ok = d.data_category in want
            elif key == "element_present":
                ok = self.has(want)
            elif key == "declared":
                ok = want in self.plan.declared
            elif key == "not_declared":
                ok = want not in self.plan.declared
            else:  # notification
                ok = self.notification == want
            if not ok:
                return False
        return True

    def missing(self, name: str, article: str, label: str) -> None:
        self.problems.append(self.texts.missing(name, article, label))

    def not_applicable(self, finding: Finding) -> None:
        """A problem that means the request type cannot apply: no deadline of it (LEGAL.md §5)."""
        self.problems.append(finding)
        self.applies = False


class Texts:
    """Article titles and missing-element findings of one rulebook, built once and shared (the
    findings are frozen). Owned by one Engine, so they live and die with its rulebook."""

    def __init__(self, rulebook: Rulebook) -> None:
        self.rulebook = rulebook
        self._titles: dict[str, str] = {}
        self._missing: dict[tuple[str, str, str], Finding] = {}

    def title(self, reference: str) -> str:
        """`CETS224 Art 7(3)(d)` -> `CETS224 Art 7 — Disclosure of subscriber information`."""
        hit = self._titles.get(reference)
        if hit is None:
            t = self.rulebook.article_title(reference)
            hit = self._titles[reference] = f"{article_of(reference)} — {t}" if t else article_of(reference)
        return hit

    def missing(self, name: str, article: str, label: str) -> Finding:
        key = (name, article, label)
        hit = self._missing.get(key)
        if hit is None:
            hit = Finding(code="missing_element", article=article, element=name,
                          message=f"Missing: {label} ({article}; {self.title(article)})")
            if len(self._missing) < 50_000:  # labels of declared additional elements come from profiles
                self._missing[key] = hit
        return hit
