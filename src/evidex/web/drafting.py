"""The drafting form and the request document (LEGAL.md §2) it writes: posted fields read into a
document, with the errors a person can fix, and a document (an example, a stored draft) written back
into the fields. The form's element fields are named `el-<element>`; the document's top-level fields
keep their names (`ia-` the issuing authority, `ad-` the addressee); dates are GOV.UK date inputs."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evidex.rules.elements import TIME_FRAME_MAX_DAYS, in_elements
from evidex.rules.form import DraftForm
from evidex.web.i18n import _

ELEMENT = "el-"
SHAPE = "shape-"  # how a structured element's text is read back: `lines` (key: value) or `json`
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
LINE = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*:\s*(.*?)\s*$")
MAX_TEXT = 10_000  # characters in one field: a long summary of facts fits; a pasted file does not
MAX_ELEMENTS = 100
DATES = ("issued_on", "received_on")
# LEGAL.md §2: `deadline_and_manner` is `{days, manner}`; the form asks for each.
TIME_FRAME = "deadline_and_manner"
# Where each top-level element of the document is entered (a verdict's missing element links there).
TOP_LEVEL_FIELDS = {
    "case_reference": "case_reference", "issued_on": "issued_on-day", "received_on": "received_on-day",
    "language": "language", "data_category": "data_category", "issuing_authority": "ia-name",
    "issuing_authority.contact": "ia-contact-email", "addressee.name": "ad-name",
    "addressee.address": "ad-address", "addressee.kind": "ad-name",
}


def field_id(element: str) -> str:
    """The id of the field where `element` is entered."""
    if element == TIME_FRAME:
        return f"{ELEMENT}{TIME_FRAME}-days"
    return TOP_LEVEL_FIELDS.get(element) or f"{ELEMENT}{element}"


@dataclass
class Draft:
    """A document read from the form, and what could not be read (field id -> message)."""

    document: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


def _text(values: Mapping[str, str], key: str) -> str:
    return (values.get(key) or "").strip()


def _date(values: Mapping[str, str], name: str, errors: dict[str, str]) -> str | None:
    parts = [_text(values, f"{name}-{p}") for p in ("day", "month", "year")]
    if not any(parts):
        return None
    try:
        day, month, year = (int(p) for p in parts)
        if year < 1900:
            raise ValueError(year)
        return dt.date(year, month, day).isoformat()
    except ValueError:
        errors[f"{name}-day"] = _("Enter a real date, for example 23 11 2026")
        return None


def _structured(text: str, shape: str) -> Any:
    """A structured element's text as the value it stood for: `key: value` lines or JSON. Text
    that does not read so stays text (the engine counts any non-blank text as present)."""
    if shape == "json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        m = LINE.match(line)
        if m is None:
            return text
        key, value = m.groups()
        out[key] = True if value == "true" else False if value == "false" else int(value) if value.isdigit() \
            else value
    return out or text


def _time_frame(values: Mapping[str, str], errors: dict[str, str]) -> dict[str, Any] | None:
    days_text = _text(values, f"{ELEMENT}{TIME_FRAME}-days")
    manner = _text(values, f"{ELEMENT}{TIME_FRAME}-manner")
    out: dict[str, Any] = {}
    if days_text:
        if not days_text.isdigit() or not 0 < int(days_text) <= TIME_FRAME_MAX_DAYS:
            errors[f"{ELEMENT}{TIME_FRAME}-days"] = _(
                "Enter the time frame as a whole number of days, from 1 to %(most)s", most=TIME_FRAME_MAX_DAYS)
        else:
            out["days"] = int(days_text)
    if manner:
        out["manner"] = manner
    return out or None


def element_names(values: Mapping[str, str]) -> list[str]:
    """The elements the posted form carries, in their order."""
    names: list[str] = []
    for key in values:
        if key.startswith(ELEMENT):
            name = key[len(ELEMENT):].split("-", 1)[0]
            if NAME.match(name) and name not in names:
                names.append(name)
    return names


def read_form(values: Mapping[str, str], *, request_type: str, requesting: str, requested: str,
              addressee_kind: str | None, default_case_reference: str = "") -> Draft:
    """The document the form shows. Empty fields are left out (the engine reports what is missing);
    a value that cannot be read is an error on its field, and left out too."""
    errors: dict[str, str] = {}
    doc: dict[str, Any] = {"type": request_type, "requesting_party": requesting, "requested_party": requested}
    for key, value in values.items():
        if len(value) > MAX_TEXT:
            errors[key] = _("Shorten this to at most %(most)s characters", most=MAX_TEXT)
    case_reference = _text(values, "case_reference") or default_case_reference.strip()
    if case_reference:
        doc["case_reference"] = case_reference
    for name in DATES:
        day = _date(values, name, errors)
        if day:
            doc[name] = day
    for key in ("language", "translation_language", "sent_by", "data_category"):
        if _text(values, key):
            doc[key] = _text(values, key)
    if values.get("urgent") == "true":
        doc["urgent"] = True
    contact = {k: _text(values, f"ia-contact-{k}") for k in ("address", "email", "phone")}
    authority: dict[str, Any] = {"name": _text(values, "ia-name"), "kind": _text(values, "ia-kind"),
                                 "contact": {k: v for k, v in contact.items() if v}}
    if values.get("ia-independent_supervision") == "true":
        authority["independent_supervision"] = True
    authority = {k: v for k, v in authority.items() if v}
    if authority:
        doc["issuing_authority"] = authority
    languages = [x for x in re.split(r"[\s,;]+", _text(values, "ad-accepted_languages")) if x]
    addressee: dict[str, Any] = {"name": _text(values, "ad-name"), "address": _text(values, "ad-address"),
                                 "accepted_languages": languages}
    addressee = {k: v for k, v in addressee.items() if v}
    if addressee or addressee_kind:
        doc["addressee"] = {**({"kind": addressee_kind} if addressee_kind else {}), **addressee}
    elements: dict[str, Any] = {}
    names = element_names(values)
    if len(names) > MAX_ELEMENTS:
        errors["elements"] = _("A document carries at most %(most)s elements", most=MAX_ELEMENTS)
        names = names[:MAX_ELEMENTS]
    for name in names:
        if name == TIME_FRAME:
            frame = _time_frame(values, errors)
            if frame is not None:
                elements[name] = frame
            continue
        text = _text(values, f"{ELEMENT}{name}")
        if text:
            shape = values.get(f"{SHAPE}{name}", "")
            elements[name] = _structured(text, shape) if shape in ("lines", "json") else text
    doc["elements"] = elements
    return Draft(doc, errors)


def _as_text(value: Any) -> tuple[str, str]:
    """An element's value as form text, and how to read it back (`` for plain text)."""
    if isinstance(value, dict) and all(isinstance(v, str | bool | int | float | dt.date) or v is None
                                       for v in value.values()):
        lines = [f"{k}: {'true' if v is True else 'false' if v is False else '' if v is None else v}"
                 for k, v in value.items()]
        return "\n".join(lines), "lines"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str), "json"
    if value is True:
        return "true", ""
    return ("" if value is None or value is False else str(value)), ""


def form_values(document: Mapping[str, Any]) -> dict[str, str]:
    """The form's fields for a document (an example, a stored draft), so that reading them back
    gives the same document."""
    values: dict[str, str] = {}
    for key in ("case_reference", "language", "translation_language", "sent_by", "data_category"):
        v = document.get(key)
        if isinstance(v, str) and v:
            values[key] = v
    for name in DATES:
        v = document.get(name)
        day = v if isinstance(v, dt.date) else None
        if isinstance(v, str):
            try:
                day = dt.date.fromisoformat(v)
            except ValueError:
                day = None
        if day is not None:
            values.update({f"{name}-day": str(day.day), f"{name}-month": str(day.month), f"{name}-year": str(day.year)})
    if document.get("urgent") is True:
        values["urgent"] = "true"
    ia = document.get("issuing_authority")
    if isinstance(ia, dict):
        for k in ("name", "kind"):
            if isinstance(ia.get(k), str):
                values[f"ia-{k}"] = ia[k]
        if ia.get("independent_supervision") is True:
            values["ia-independent_supervision"] = "true"
        contact = ia.get("contact")
        if isinstance(contact, dict):
            for k in ("address", "email", "phone"):
                if isinstance(contact.get(k), str):
                    values[f"ia-contact-{k}"] = contact[k]
    ad = document.get("addressee")
    if isinstance(ad, dict):
        for k in ("name", "address"):
            if isinstance(ad.get(k), str):
                values[f"ad-{k}"] = ad[k]
        if isinstance(ad.get("accepted_languages"), list):
            values["ad-accepted_languages"] = ", ".join(str(x) for x in ad["accepted_languages"])
    elements = document.get("elements")
    if isinstance(elements, dict):
        for name, value in elements.items():
            if not isinstance(name, str) or not NAME.match(name):
                continue
            if name == TIME_FRAME and isinstance(value, dict):
                if value.get("days") is not None:
                    values[f"{ELEMENT}{name}-days"] = str(value["days"])
                if value.get("manner") is not None:
                    values[f"{ELEMENT}{name}-manner"] = str(value["manner"])
                continue
            text, shape = _as_text(value)
            values[f"{ELEMENT}{name}"] = text
            if shape:
                values[f"{SHAPE}{name}"] = shape
    return values


def other_elements(values: Mapping[str, str], form: DraftForm | None) -> list[str]:
    """Elements the document carries that the form for its type and Parties does not ask for."""
    known = {e.name for e in form.elements} if form is not None else set()
    return [n for n in element_names(values) if n not in known and in_elements(n)]


def keep_only(values: Mapping[str, str], form: DraftForm) -> dict[str, str]:
    """The values without the elements the form does not ask for (after the type changed)."""
    known = {e.name for e in form.elements}
    out = {}
    for key, value in values.items():
        for prefix in (ELEMENT, SHAPE):
            if key.startswith(prefix) and key[len(prefix):].split("-", 1)[0] not in known:
                break
        else:
            out[key] = value
    return out
