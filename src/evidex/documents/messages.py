"""The fixed text of the official documents, extracted from this package's Python files and templates
(the same extraction scripts/dev/document-messages and the catalog test use, so they cannot disagree)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir

PACKAGE = Path(__file__).parent
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}


def extract() -> Catalog:
    catalog = Catalog(project="evidex", domain="documents")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(PACKAGE), METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog
