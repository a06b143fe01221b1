"""A request as an official document: HTML from the document's own template, laid out by WeasyPrint
as a PDF/A-3b that is tagged (PDF/UA-1: a structure tree, the language, the title shown), with its
fonts embedded (Noto, from the system: fonts-noto-core), page numbers, and the reference and a QR
code on every page.

The same for a letter of the lifecycle (documents/letter.py, letter.html).

`render_pdf(sheet)` returns the PDF bytes without attachments: sealing (the request embedded as a
PDF/A-3 attachment and signed) is a separate step (documents/service.py names the one place).

The fonts and the style sheet are loaded once per process; WeasyPrint's font configuration is not
made for threads, so renders in one process take turns (a few tenths of a second each)."""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import functools
import io
import threading
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import segno
from markupsafe import Markup

from evidex.core.errors import Unavailable
from evidex.documents.i18n import Languages
from evidex.documents.letter import LetterSheet
from evidex.documents.sheet import Sheet

TEMPLATES = Path(__file__).parent / "templates"
# Debian's fonts-noto-core (scripts/_browser.sh installs it): Latin with ś and ź, Serbian Cyrillic with its
# own italic forms (locl), the combining acute of Montenegrin с́ and з́.
FONT_DIR = Path("/usr/share/fonts/truetype/noto")
FONT_FILES = ("NotoSerif-Regular.ttf", "NotoSerif-Italic.ttf", "NotoSerif-Bold.ttf", "NotoSerif-BoldItalic.ttf",
              "NotoSans-Regular.ttf", "NotoSans-Italic.ttf", "NotoSans-Bold.ttf")
PDF_VARIANT = "pdf/a-3b"  # archival; PDF/A-3 allows the request to be embedded (sealing)
PDFUA_NS = "http://www.aiim.org/pdfua/ns/id/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


class RenderUnavailable(Unavailable):
    """The node cannot produce official documents (a font is missing): HTTP 503, not the user's input."""


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


@functools.cache
def _fetcher() -> Any:
    """Only the fonts and inline images: a document never makes WeasyPrint fetch anything else."""
    from weasyprint.urls import URLFetcher

    class DocumentFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            local = url.startswith("file:") and Path(urllib.request.url2pathname(url.removeprefix("file:"))).parent == FONT_DIR
            if not (url.startswith("data:") or local):
                raise ValueError(f"official documents load nothing from {url[:80]!r}")
            return super().fetch(url, headers)

    return DocumentFetcher(allowed_protocols=("file", "data"), fail_on_errors=True)


class _Engine:
    """WeasyPrint's font configuration and the style sheet, built once."""

    def __init__(self) -> None:
        missing = [f for f in FONT_FILES if not (FONT_DIR / f).is_file()]
        if missing:
            raise RenderUnavailable(f"official documents need the Noto fonts (Debian: fonts-noto-core); missing: "
                                    f"{', '.join(str(FONT_DIR / f) for f in missing)}")
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        self.fonts = FontConfiguration()
        self.css = CSS(string=(TEMPLATES / "document.css").read_text(encoding="utf-8"),
                       base_url=FONT_DIR.as_uri() + "/", url_fetcher=_fetcher(), font_config=self.fonts)
        self.lock = threading.Lock()


@functools.cache
def engine() -> _Engine:
    return _Engine()


# Dropped before the interpreter tears its modules down: WeasyPrint's font configuration then removes the
# temporary folder of its fonts itself (at teardown it cannot, and says so on standard error).
atexit.register(engine.cache_clear)


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _page_css(sheet: Sheet | LetterSheet) -> str:
    """The page texts that depend on the document: "Page X of Y" in its languages, the reference."""
    parts = []
    for words in sheet.languages.words:
        pattern = words.gettext("Page %(page)s of %(pages)s")
        before, _sep, rest = pattern.partition("%(page)s")
        middle, _sep, after = rest.partition("%(pages)s")
        parts.append(f"{_css_string(before)} counter(page) {_css_string(middle)} counter(pages) {_css_string(after)}")
    pages = ' " / " '.join(parts)
    left = " · ".join(x for x in (sheet.reference, sheet.title.first, sheet.article) if x)
    return (f"@page {{ @bottom-right {{ content: {pages}; text-align: right; }} "
            f"@bottom-left {{ content: {_css_string(left)}; }} }}")


def qr_data_uri(text: str) -> str:
    """The QR code of `text` as an SVG image (segno: pure Python, no raster), in a data URI."""
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="svg", border=0, xmldecl=False, svgclass=None,
                                                   lineclass=None, omitsize=False, dark="#000")
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def html_of(sheet: Sheet | LetterSheet) -> str:
    """The document's HTML (what WeasyPrint lays out): a request's, or a letter's."""
    langs: Languages = sheet.languages
    created = sheet.generated_at.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    produced = langs.datetime(sheet.generated_at)
    qr_alt = langs.gettext(sheet.qr_alt).first
    return environment().get_template(sheet.template).render(
        sheet=sheet, _=langs.gettext, ngettext=langs.ngettext, created=created, produced=produced,
        qr_uri=qr_data_uri(sheet.qr_text), qr_alt=qr_alt, page_css=Markup(_page_css(sheet)))


EXT_NS, SCHEMA_NS, PROPERTY_NS = ("http://www.aiim.org/pdfa/ns/extension/", "http://www.aiim.org/pdfa/ns/schema#",
                                  "http://www.aiim.org/pdfa/ns/property#")


def _pdfua_extension_schema() -> ET.Element:
    """The PDF/A extension schema that declares pdfuaid:part: PDF/A allows in XMP only the predefined
    schemas and those a file describes itself (ISO 19005-3 6.6.2.3), and PDF/UA's identification is not
    predefined."""
    for prefix, ns in (("pdfaExtension", EXT_NS), ("pdfaSchema", SCHEMA_NS), ("pdfaProperty", PROPERTY_NS)):
        ET.register_namespace(prefix, ns)
    rdf = RDF_NS
    description = ET.Element(f"{{{rdf}}}Description", {f"{{{rdf}}}about": ""})
    bag = ET.SubElement(ET.SubElement(description, f"{{{EXT_NS}}}schemas"), f"{{{rdf}}}Bag")
    schema = ET.SubElement(bag, f"{{{rdf}}}li", {f"{{{rdf}}}parseType": "Resource"})
    for name, value in (("schema", "PDF/UA Universal Accessibility Schema"), ("namespaceURI", PDFUA_NS),
                        ("prefix", "pdfuaid")):
        ET.SubElement(schema, f"{{{SCHEMA_NS}}}{name}").text = value
    seq = ET.SubElement(ET.SubElement(schema, f"{{{SCHEMA_NS}}}property"), f"{{{rdf}}}Seq")
    prop = ET.SubElement(seq, f"{{{rdf}}}li", {f"{{{rdf}}}parseType": "Resource"})
    for name, value in (("name", "part"), ("valueType", "Integer"), ("category", "internal"),
                        ("description", "Indicates which part of ISO 14289 (PDF/UA) the file follows")):
        ET.SubElement(prop, f"{{{PROPERTY_NS}}}{name}").text = value
    return description


def _declare_pdfua(_document: Any, pdf: Any) -> None:
    """Say in the XMP metadata that the file is also PDF/UA-1 (WeasyPrint writes one identification,
    PDF/A-3b's; tagging, the language and the displayed title are what PDF/UA-1 asks of it here)."""
    reference = pdf.catalog["Metadata"]  # b"684 0 R"
    number = int((reference.decode() if isinstance(reference, bytes) else str(reference)).split()[0])
    stream = pdf.objects[number]
    packet = b"".join(x if isinstance(x, bytes) else str(x).encode() for x in stream.stream)
    start, end = packet.index(b"<rdf:RDF"), packet.index(b"</rdf:RDF>") + len(b"</rdf:RDF>")
    ET.register_namespace("pdfuaid", PDFUA_NS)
    rdf = ET.fromstring(packet[start:end])
    description = ET.SubElement(rdf, f"{{{RDF_NS}}}Description")
    description.set(f"{{{RDF_NS}}}about", "")
    description.set(f"{{{PDFUA_NS}}}part", "1")
    rdf.append(_pdfua_extension_schema())  # PDF/A-3 (ISO 19005-3 6.6.2.3.1): a property outside XMP's own schemas
    stream.stream = [packet[:start] + ET.tostring(rdf, encoding="unicode").encode() + packet[end:]]


def render_pdf(sheet: Sheet | LetterSheet, *, finisher: Callable[[Any, Any], None] | None = None) -> bytes:
    """The sheet as a PDF/A-3b, tagged, fonts embedded, no attachment."""
    from weasyprint import HTML

    e = engine()
    html = html_of(sheet)

    def finish(document: Any, pdf: Any) -> None:
        _declare_pdfua(document, pdf)
        if finisher is not None:
            finisher(document, pdf)

    with e.lock:
        out: bytes = HTML(string=html, base_url=FONT_DIR.as_uri() + "/", url_fetcher=_fetcher()).write_pdf(
            stylesheets=[e.css], font_config=e.fonts, pdf_variant=PDF_VARIANT, pdf_tags=True, finisher=finish)
    return out
