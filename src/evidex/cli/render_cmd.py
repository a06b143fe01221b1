"""`evidex render FILE|REQUEST_ID`: a request as an official document (PDF/A-3b, tagged), in a language
the receiving side accepts (CETS224 Art 4) unless --lang names another; with `--letter EVENT`, the letter
that event of a stored request's history gives the requesting Party (acknowledgement, refusal ...), in the
requesting Party's language."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from evidex.cli.common import fail, get_parties, parse_date, read_document
from evidex.rules.texts import LOCALES

if TYPE_CHECKING:
    from evidex.exchange.keys import NodeIdentity

LANG_HELP = (f"Language of the labels and fixed text: {', '.join(LOCALES)} (default: one the receiving side "
             "accepts, the request's own when it is one).")


def _request_id(source: str) -> uuid.UUID | None:
    """A request id, unless a file of that name is there (a file wins: it is what the person points at)."""
    if source == "-" or Path(source).exists():
        return None
    try:
        return uuid.UUID(source)
    except ValueError:
        return None


def render_command(
    source: Annotated[str, typer.Argument(
        metavar="FILE|REQUEST_ID", help="A request document (JSON or YAML; - for standard input), or the id of a "
                                        "request this node holds.")],
    lang: Annotated[str | None, typer.Option("--lang", help=LANG_HELP, show_default=False)] = None,
    translation_lang: Annotated[str | None, typer.Option(
        "--translation-lang", help="A second language beside the first: a bilingual document (default: the "
                                   "request's translation_language, if any; 'none': one language only).",
        show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the PDF (default: its own name, here).",
                                             show_default=False)] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="FILE only: the day the law is applied "
                                                              "(YYYY-MM-DD; default: today in the requested Party).")] = None,
    parties: Annotated[Path | None, typer.Option("--parties", help="FILE only: Party profiles to use instead of "
                                                                     "the shipped ones.")] = None,
    letter: Annotated[int | None, typer.Option(
        "--letter", metavar="EVENT", min=1, help="REQUEST_ID only: the letter the event numbered EVENT of the "
                                                 "request's history gives the requesting Party (an acknowledgement, "
                                                 "refusal, postponement, conditions, preservation), sealed by this "
                                                 "node; by default in the requesting Party's language.",
        show_default=False)] = None,
) -> None:
    """Render a request as an official document: PDF/A-3b, tagged, fonts embedded, with the instrument and
    article, both authorities, every element under its treaty label, route, deadlines, place, date and
    signature block, and the reference and a QR code on every page."""
    from evidex.documents import service as documents

    now = dt.datetime.now(dt.UTC)
    request_id = _request_id(source)
    if request_id is None and letter is not None:
        raise fail("--letter needs the id of a request this node holds: a letter answers a request it received")
    if request_id is None:
        from evidex.cases.service import Law

        data = read_document(source)
        law = Law(parties=get_parties(parties))
        doc = documents.document_from_file(law, data, now=now, lang=lang, translation_lang=translation_lang,
                                           as_of=parse_date(as_of), identity=_identity_if_configured())
    else:
        if as_of is not None or parties is not None:
            raise fail("--as-of and --parties apply to a FILE; a stored request is rendered as the node holds it")
        from evidex.cli.common import load_settings
        from evidex.node import build_node
        from evidex.parties.roles import Principal, Role

        settings = load_settings()
        # The operator at the node's console, as `evidex requests list`: reads are audited under "cli".
        operator = Principal(user_id=None, username="cli", party=settings.node_party, role=Role.central_authority)
        node = build_node(settings)
        try:
            with node.sessions() as db:
                if letter is not None:
                    doc = documents.official_letter(db, actor=operator, law=node.law, request_id=request_id,
                                                    event_id=letter, now=now, lang=lang,
                                                    translation_lang=translation_lang, identity=node.identity)
                else:
                    doc = documents.official_document(db, actor=operator, law=node.law, request_id=request_id,
                                                      now=now, lang=lang, translation_lang=translation_lang,
                                                      identity=node.identity)
        finally:
            node.dispose()
    target = out or Path(doc.filename)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        tmp.write_bytes(doc.pdf)
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise fail(f"cannot write {target}: {e.strerror or e}") from e
    languages = doc.lang + (f" + {doc.translation_lang}" if doc.translation_lang else "")
    if doc.letter is not None:
        sealed = "sealed by this node" if doc.sealed else "not sealed (no node keys)"
        typer.echo(f"wrote {target}: {len(doc.pdf)} bytes, letter ({doc.letter}), {languages}, {sealed}, "
                   f"SHA-256 of the letter {doc.digest}")
        return
    sealed = "sealed by this node" if doc.sealed else "not sealed (a draft, another Party's request, or no node keys)"
    typer.echo(f"wrote {target}: {len(doc.pdf)} bytes, {languages}, {sealed}, SHA-256 of the request {doc.digest}")


def _identity_if_configured() -> NodeIdentity | None:
    """The node's identity when this machine is a node with its keys and passphrase (a FILE is then sealed as
    the node's own document, if its Party issues it); none elsewhere: the document is rendered unsealed."""
    from evidex.cli.common import load_settings
    from evidex.exchange import keys

    try:
        return keys.load_configured(load_settings())
    except Exception:  # no node here, or its keys cannot be opened: an unsealed document, said so
        return None
