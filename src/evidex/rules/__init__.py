"""The law as data and the rules engine. Pure: no database, no clock, no network."""

from evidex.rules.document import RequestDocument, parse_document
from evidex.rules.engine import Engine, check
from evidex.rules.loader import (
    Parties,
    Rulebook,
    default_parties,
    default_rulebook,
    load_parties,
    load_rulebook,
)
from evidex.rules.texts import LOCALES, Texts
from evidex.rules.verdict import Verdict

__all__ = [
    "LOCALES",
    "Engine",
    "Parties",
    "RequestDocument",
    "Rulebook",
    "Texts",
    "Verdict",
    "check",
    "default_parties",
    "default_rulebook",
    "load_parties",
    "load_rulebook",
    "parse_document",
]
