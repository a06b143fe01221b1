"""The law's labels (rules/texts.py) over the shipped rule data and this package's lifecycle: the
catalogue the node, the web and the CLI read, loaded and checked once."""

from __future__ import annotations

import functools

from evidex.requests.lifecycle import default_lifecycle
from evidex.rules import default_rulebook
from evidex.rules.texts import Texts, load_texts


@functools.lru_cache(maxsize=1)
def default_texts() -> Texts:
    return load_texts(default_rulebook(), default_lifecycle())
