"""The messages of the web application, extracted from its Python files and templates (the same
extraction the catalog script and the catalog test use, so they cannot disagree)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

WEB = Path(__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy": None}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}


def extract() -> Catalog:
    catalog = Catalog(project="evidex", domain="messages")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(WEB), METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog
