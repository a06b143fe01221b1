"""The law's labels in the languages evidex speaks.

English is the rule data itself (titles, labels, messages, descriptions): `source_texts` derives
every key and its English from the loaded data, so nothing is listed twice. Each other language
has one file, `data/i18n/<locale>.yaml`, mapping a key to `{en: <the English it translates>,
t: <translation>}`. Keeping the English lets the loader refuse a translation gone stale when the
English changes, as it refuses a key the data no longer has or a key a language lacks: the file
and the key are named, like every other broken rule file.

Key scheme (a key is a dotted path; an element name or an article reference may be its last part):
  instrument.<code>, article.<code>.<n>
  type.<type>, type.<type>.element.<name>, .channel.<n>, .obligation.<n>, .warning.<code>,
    .deadline.<name> (.deadline.<name>.<article> when a type has two deadlines of one name),
    .deadline.<...>.on_lapse, .refusal.<article>, .postponement.<article>, .urgent_means,
    .addressee_kind, .mla_elements, .mla_treaty.channel, .mla_treaty.warning
  declaration.<reference>, declaration.<reference>.message, .element.<name>, .parameter.<name>,
    .route_message
  period.<id>, period.<id>.practice, actor.<name>, outside_evidex.<means>, element_word.<name>
  state.<state> (description), state_name.<state>, event.<event>, role.<role>,
    data_withheld.<reason>, letter.<kind>, letter.<kind>.statement  (the lifecycle's)
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from evidex.core.errors import EvidexError, RuleDataError
from evidex.rules.loader import Rulebook, _validate, data_dir, read_yaml
from evidex.rules.refs import parse_reference
from evidex.rules.schema import Notification, RequestTypeSpec

# The one list of languages (BCP 47 tags): the web, the CLI and the data use this tuple.
LOCALES: tuple[str, ...] = ("en", "sr-Cyrl", "sr-Latn", "cnr", "sl", "fr")
SOURCE_LOCALE = "en"  # the rule data's own language: no file of its own
GroundKind = Literal["refusal", "postponement"]

_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_MAX_PROBLEMS = 8


class UnknownLocale(EvidexError):
    """A language evidex does not speak."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        super().__init__(f"unknown language {locale!r}; evidex speaks: {', '.join(LOCALES)}")


class LifecycleWords(Protocol):
    """What the request lifecycle (requests/data/lifecycle.yaml) says in words: rules cannot import
    it (it sits above), so it is handed in."""

    @property
    def states(self) -> Mapping[str, str]: ...

    @property
    def state_names(self) -> Mapping[str, str]: ...

    @property
    def event_labels(self) -> Mapping[str, str]: ...

    @property
    def role_labels(self) -> Mapping[str, str]: ...

    @property
    def withheld_reasons(self) -> Mapping[str, str]: ...

    @property
    def letter_words(self) -> Mapping[str, str]: ...


# --------------------------------------------------------------------------- keys and their English
def _deadline_suffixes(spec: RequestTypeSpec) -> list[str]:
    names = [d.name for d in spec.deadlines]
    return [d.name if names.count(d.name) == 1 else f"{d.name}.{d.article}" for d in spec.deadlines]


def source_texts(rulebook: Rulebook, lifecycle: LifecycleWords) -> dict[str, str]:
    """Every key and its English, derived from the loaded rule data and lifecycle."""
    out: dict[str, str] = {}

    def add(key: str, text: str, where: str) -> None:
        if key in out:
            raise RuleDataError(f"{where}: two texts would share the key {key!r}; make them distinguishable")
        out[key] = text

    for code, inst in rulebook.instruments.items():
        add(f"instrument.{code}", inst.title, "instruments.yaml")
        for number, title in inst.articles.items():
            add(f"article.{code}.{number}", title, "instruments.yaml")
    for name, label in rulebook.actors.items():
        add(f"actor.{name}", label, "request_types.yaml: actors")
    for name, label in rulebook.outside_evidex.items():
        add(f"outside_evidex.{name}", label, "request_types.yaml: outside_evidex")
    for name, words in rulebook.element_words.items():
        add(f"element_word.{name}", words, "request_types.yaml: element_words")
    for t, spec in rulebook.types.items():
        where = f"request_types.yaml: types[{t}]"
        add(f"type.{t}", spec.title, where)
        for e in (*spec.elements, *spec.optional_elements):
            add(f"type.{t}.element.{e.name}", e.label, f"{where}.elements")
        for i, c in enumerate(spec.channels):
            add(f"type.{t}.channel.{i}", c.means, f"{where}.channels")
        for i, o in enumerate(spec.obligations):
            add(f"type.{t}.obligation.{i}", o.message, f"{where}.obligations")
        for w in spec.warnings:
            add(f"type.{t}.warning.{w.code}", w.message, f"{where}.warnings")
        for suffix, d in zip(_deadline_suffixes(spec), spec.deadlines, strict=True):
            add(f"type.{t}.deadline.{suffix}", d.description, f"{where}.deadlines")
            if d.on_lapse is not None:
                add(f"type.{t}.deadline.{suffix}.on_lapse", d.on_lapse.message, f"{where}.deadlines")
        for g in spec.refusal_grounds:
            add(f"type.{t}.refusal.{g.article}", g.message, f"{where}.refusal_grounds")
        for g in spec.postponement_grounds:
            add(f"type.{t}.postponement.{g.article}", g.message, f"{where}.postponement_grounds")
        if spec.urgent_means is not None:
            add(f"type.{t}.urgent_means", spec.urgent_means.means, where)
        if spec.addressee_kind is not None:
            add(f"type.{t}.addressee_kind", spec.addressee_kind.message, where)
        if spec.mla_elements is not None:
            add(f"type.{t}.mla_elements", spec.mla_elements.label, where)
        if spec.displaced_by_mla_treaty is not None:
            add(f"type.{t}.mla_treaty.channel", spec.displaced_by_mla_treaty.channel, where)
            add(f"type.{t}.mla_treaty.warning", spec.displaced_by_mla_treaty.warning, where)
            for g in spec.displaced_by_mla_treaty.postponement_grounds:  # ground_text finds them as the type's
                add(f"type.{t}.postponement.{g.article}", g.message, f"{where}.displaced_by_mla_treaty")
    for ref, entry in rulebook.catalogue.items():
        where = f"declarations.yaml: {ref}"
        add(f"declaration.{ref}", entry.title, where)
        add(f"declaration.{ref}.message", entry.effect.message, where)
        for e in getattr(entry.effect, "elements", []):
            add(f"declaration.{ref}.element.{e.name}", e.label, where)
        for name, description in entry.parameters.items():
            add(f"declaration.{ref}.parameter.{name}", description, where)
        if isinstance(entry.effect, Notification):
            add(f"declaration.{ref}.route_message", entry.effect.route_message, where)
    for pid, period in rulebook.periods.items():
        add(f"period.{pid}", period.description, "periods.yaml")
        if period.practice is not None:
            add(f"period.{pid}.practice", period.practice, "periods.yaml")
    for state, description in lifecycle.states.items():
        add(f"state.{state}", description, "lifecycle.yaml: states")
    for state, name in lifecycle.state_names.items():
        add(f"state_name.{state}", name, "lifecycle.yaml: state_names")
    for event, label in lifecycle.event_labels.items():
        add(f"event.{event}", label, "lifecycle.yaml: event_labels")
    for role, label in lifecycle.role_labels.items():
        add(f"role.{role}", label, "lifecycle.yaml: role_labels")
    for reason, words in lifecycle.withheld_reasons.items():
        add(f"data_withheld.{reason}", words, "lifecycle.yaml: data_sending.reasons")
    for key, words in lifecycle.letter_words.items():
        add(f"letter.{key}", words, "lifecycle.yaml: letters")
    return out


# --------------------------------------------------------------------------- the catalogue
@dataclass(frozen=True)
class Texts:
    """The labels of the law in every language: `text(key, locale)` and the helpers the UI uses."""

    source: Mapping[str, str]  # key -> English (the rule data)
    translations: Mapping[str, Mapping[str, str]]  # locale -> key -> text
    versions: Mapping[str, dt.date]  # locale -> its file's version
    element_keys: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (type, element) -> key

    def text(self, key: str, locale: str = SOURCE_LOCALE) -> str:
        """The text of `key` in `locale`. An unknown key is a programming error (KeyError): the
        loader checked that every language has every key the data derives."""
        english = self.source[key]
        if locale == SOURCE_LOCALE:
            return english
        table = self.translations.get(locale)
        if table is None:
            raise UnknownLocale(locale)
        return table[key]

    def keys_with_prefix(self, prefix: str) -> list[str]:
        return [k for k in self.source if k == prefix or k.startswith(prefix + ".")]

    # ---- helpers, one per thing a page shows
    def instrument_title(self, code: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"instrument.{code}", locale)

    def article_title(self, reference: str, locale: str = SOURCE_LOCALE) -> str | None:
        """The title of the article a reference cites (`ETS185 Art 29(2)(a)` -> Art 29's), or None
        where instruments.yaml gives none (the UN convention's are not entered yet)."""
        instrument, number = parse_reference(reference)
        key = f"article.{instrument}.{number}"
        return self.text(key, locale) if key in self.source else None

    def type_title(self, request_type: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"type.{request_type}", locale)

    def element_label(self, request_type: str, name: str, locale: str = SOURCE_LOCALE) -> str | None:
        """The label of an element of a type, or of an element a declaration adds to it; None for a
        name only a Party profile requires (its own law names it)."""
        key = self.element_keys.get((request_type, name))
        return self.text(key, locale) if key is not None else None

    def channel_text(self, request_type: str, index: int, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"type.{request_type}.channel.{index}", locale)

    def obligation_text(self, request_type: str, index: int, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"type.{request_type}.obligation.{index}", locale)

    def deadline_text(self, request_type: str, name: str, article: str, locale: str = SOURCE_LOCALE,
                      *, on_lapse: bool = False) -> str | None:
        """A deadline's description (or, with `on_lapse`, the next step once it has passed), as a
        verdict names it: by name and article. None for a deadline the type's data does not have
        (the node's own four_eyes_review)."""
        tail = ".on_lapse" if on_lapse else ""
        for key in (f"type.{request_type}.deadline.{name}.{article}{tail}",
                    f"type.{request_type}.deadline.{name}{tail}"):
            if key in self.source:
                return self.text(key, locale)
        return None

    def ground_text(self, request_type: str, kind: GroundKind, article: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"type.{request_type}.{kind}.{article}", locale)

    def declaration_text(self, reference: str, locale: str = SOURCE_LOCALE) -> str:
        """The title of a declaration or reservation in the catalogue."""
        return self.text(f"declaration.{reference}", locale)

    def declaration_message(self, reference: str, locale: str = SOURCE_LOCALE) -> str:
        """What a declaration or reservation changes, as a sentence."""
        return self.text(f"declaration.{reference}.message", locale)

    def period_text(self, period: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"period.{period}", locale)

    def actor_label(self, actor: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"actor.{actor}", locale)

    def means_label(self, means: str, locale: str = SOURCE_LOCALE) -> str:
        """The words of a means by which a request travels outside evidex (post, e-mail, Interpol ...)."""
        return self.text(f"outside_evidex.{means}", locale)

    def element_words(self, name: str, locale: str = SOURCE_LOCALE) -> str | None:
        """The words of an element only a Party's own law requires (request_types.yaml element_words)."""
        key = f"element_word.{name}"
        return self.text(key, locale) if key in self.source else None

    def state_label(self, state: str, locale: str = SOURCE_LOCALE) -> str:
        """The short name of a lifecycle state (`state_description` says more)."""
        return self.text(f"state_name.{state}", locale)

    def state_description(self, state: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"state.{state}", locale)

    def event_label(self, event: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"event.{event}", locale)

    def role_label(self, role: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"role.{role}", locale)

    def letter_title(self, kind: str, locale: str = SOURCE_LOCALE) -> str:
        """The title of a letter of the lifecycle (lifecycle.yaml letters)."""
        return self.text(f"letter.{kind}", locale)

    def letter_statement(self, kind: str, locale: str = SOURCE_LOCALE) -> str:
        return self.text(f"letter.{kind}.statement", locale)
    def withheld_reason(self, reason: str, locale: str = SOURCE_LOCALE) -> str:
        """Why the data produced for a request may not be sent in a state (lifecycle data_sending)."""
        return self.text(f"data_withheld.{reason}", locale)

    def route_channel(self, spec: RequestTypeSpec, route: Mapping[str, Any], requesting: str, requested: str,
                      locale: str = SOURCE_LOCALE) -> ChannelWords | None:
        """The channel of a verdict's `route` (its JSON form) of a `spec` request from `requesting` to
        `requested` in `locale`, from what the route says it is: the type's channel at `channel_index`
        (with the urgent means if `urgent_means`), or the route of an MLA treaty (`mla_treaty`). None
        where it cannot be said from the rule data: a verdict stored before routes said it, or one
        whose English `channel` the rule data no longer gives (changed since); show its English then."""
        t, channel, index = spec.type, route.get("channel"), route.get("channel_index")
        treaty, urgent = spec.displaced_by_mla_treaty, spec.urgent_means
        if route.get("mla_treaty") is True and treaty is not None:
            names = {"requesting": requesting, "requested": requested}
            if channel != treaty.channel.format(**names):
                return None
            return ChannelWords(self.text(f"type.{t}.mla_treaty.channel", locale).format(**names))
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(spec.channels):
            return None
        means = spec.channels[index].means
        if route.get("urgent_means") is True:
            if urgent is None or channel != urgent.added_to(means):
                return None
            return ChannelWords(self.channel_text(t, index, locale), self.text(f"type.{t}.urgent_means", locale),
                                urgent.article)
        return ChannelWords(self.channel_text(t, index, locale)) if channel == means else None

    @functools.cached_property
    def _key_of_english(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, english in self.source.items():
            out.setdefault(english, key)
        return out

    def finding_text(self, finding: Mapping[str, Any], request_type: str, requesting: str, requested: str,
                     locale: str = SOURCE_LOCALE) -> str | None:
        """A finding of the rules engine (a problem, warning or obligation, in its JSON form) in `locale`,
        where the rule data words it: its message is a text of the data (a type's obligation or warning, a
        declaration's effect ...), or the warning that an MLA treaty governs (ETS185 Art 27(1)). None where
        the engine composed the message itself: show its English."""
        message = finding.get("message")
        if not isinstance(message, str):
            return None
        key = self._key_of_english.get(message)
        if key is not None:
            return self.text(key, locale)
        treaty = f"type.{request_type}.mla_treaty.warning"
        if finding.get("code") == "mla_treaty_applies" and treaty in self.source:
            for names in ({"requesting": requesting, "requested": requested},
                          {"requesting": requested, "requested": requesting}):
                if self.source[treaty].format(**names) == message:
                    return self.text(treaty, locale).format(**names)
        return None

    def route_notification(self, notification: Mapping[str, Any], locale: str = SOURCE_LOCALE) -> str | None:
        """What a route's notification (its JSON form) tells the requesting Party, in `locale`; None
        where its `message_key` is not given or the rule data's English no longer says its `message`."""
        key = notification.get("message_key")
        if not isinstance(key, str) or self.source.get(key) != notification.get("message"):
            return None
        return self.text(key, locale)


@dataclass(frozen=True)
class ChannelWords:
    """A route's channel in one language: the channel's means, and the urgent means it adds with their article."""

    means: str
    urgent_means: str | None = None
    urgent_article: str | None = None


def readable(name: str) -> str:
    """A name from the data as words (`record_partial_execution` -> `Record partial execution`): the
    fallback where the data has no label of its own (in English, the data's language)."""
    text = str(name).replace("_", " ").replace(".", " – ").strip()
    return text[:1].upper() + text[1:]


def check_locale(locale: str) -> str:
    """`locale` if evidex speaks it, else UnknownLocale (the tags are exact: `sr-Cyrl`, not `sr`)."""
    if locale not in LOCALES:
        raise UnknownLocale(locale)
    return locale


# --------------------------------------------------------------------------- loading
class TextEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    en: str = Field(min_length=1)  # the English this translates, as it was when translated
    t: str = Field(min_length=1)


class TextsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    locale: str
    version: dt.date
    texts: dict[str, TextEntry]


def i18n_dir(directory: Path | None = None) -> Path:
    return (directory or data_dir()) / "i18n"


def _problems(found: Mapping[str, TextEntry], source: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for key, entry in found.items():
        english = source.get(key)
        if english is None:
            out.append(f"texts.{key}: unknown key (the rule data has no such text)")
        elif entry.en != english:
            out.append(f"texts.{key}: stale: the English is now {english!r}, the translation is of {entry.en!r}")
        elif not entry.t.strip():
            out.append(f"texts.{key}.t: empty")
        elif sorted(_PLACEHOLDER.findall(entry.t)) != sorted(_PLACEHOLDER.findall(english)):
            out.append(f"texts.{key}.t: must keep the placeholders {sorted(set(_PLACEHOLDER.findall(english)))} "
                       "of the English, no more, no fewer")
    out += [f"texts.{key}: missing (English: {english!r})" for key, english in source.items() if key not in found]
    return out


def _read_translations(source: Mapping[str, str], d: Path) -> tuple[dict[str, dict[str, str]], dict[str, dt.date]]:
    expected = [loc for loc in LOCALES if loc != SOURCE_LOCALE]
    if not d.is_dir():
        raise RuleDataError(f"{d}: no such folder; it holds the translations {', '.join(f'{x}.yaml' for x in expected)}")
    for f in sorted(d.glob("*.yaml")):
        if f.stem not in expected:
            raise RuleDataError(f"{f}: {f.stem!r} is not a language evidex speaks ({', '.join(expected)})")
    translations: dict[str, dict[str, str]] = {}
    versions: dict[str, dt.date] = {}
    for locale in expected:
        path = d / f"{locale}.yaml"
        if not path.is_file():
            raise RuleDataError(f"{path}: missing: every language of {', '.join(LOCALES)} but English needs its file")
        parsed = _validate(TextsFile, read_yaml(path), path)
        if parsed.locale != locale:
            raise RuleDataError(f"{path}: locale: {parsed.locale!r}, but the file is named for {locale!r}")
        problems = _problems(parsed.texts, source)
        if problems:
            more = f"; ... and {len(problems) - _MAX_PROBLEMS} more" if len(problems) > _MAX_PROBLEMS else ""
            raise RuleDataError(f"{path}: " + "; ".join(problems[:_MAX_PROBLEMS]) + more)
        translations[locale] = {k: e.t for k, e in parsed.texts.items()}
        versions[locale] = parsed.version
    return translations, versions


def _element_keys(rulebook: Rulebook) -> dict[tuple[str, str], str]:
    """(type, element) -> the key of its label: the type's own, else that of a declaration in the
    catalogue that applies to the type and adds the element."""
    out: dict[tuple[str, str], str] = {}
    for ref, entry in rulebook.catalogue.items():
        for e in getattr(entry.effect, "elements", []):
            for t in entry.applies_to:
                out.setdefault((t, e.name), f"declaration.{ref}.element.{e.name}")
    for t, spec in rulebook.types.items():
        for e in (*spec.elements, *spec.optional_elements):
            out[(t, e.name)] = f"type.{t}.element.{e.name}"
    return out


def load_texts(rulebook: Rulebook, lifecycle: LifecycleWords, directory: Path | None = None) -> Texts:
    """The labels of `rulebook` and `lifecycle` in every language, their translations read from
    `<directory>/i18n/` (default: the shipped rule data's) and checked: one file per language of
    LOCALES but English, each with every key, none unknown, none stale."""
    source = source_texts(rulebook, lifecycle)
    translations, versions = _read_translations(source, i18n_dir(directory))
    return Texts(source=source, translations=translations, versions=versions, element_keys=_element_keys(rulebook))
