"""`evidex verify X.pdf`: check an official document against its seal (issue 15 item 4)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from evidex.cli.common import emit_json, fail, load_settings
from evidex.core.errors import InvalidInput
from evidex.exchange.trust import TrustList

LABELS = {"valid": "VALID", "altered": "ALTERED", "unknown_signer": "UNKNOWN SIGNER", "not_sealed": "NOT SEALED"}


def _read_pdf(path: Path, limit: int) -> bytes:
    try:
        if path.is_dir():
            raise InvalidInput(f"{path}: is a folder, not a PDF")
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise InvalidInput(f"{path}: cannot be read ({e.strerror or e})") from e
    if not data:
        raise InvalidInput(f"{path}: the file is empty")
    return data


def _node_document(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("no keys")
        TrustList.from_public_document(document)  # refused here, in one line, if it is not one
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise fail(f"{path}: not a public node document (node.json: party, valid_from, valid_until, keys)") from e
    return document


def verify_command(
    file: Annotated[Path, typer.Argument(help="The official document (PDF) to verify.")],
    json_output: Annotated[bool, typer.Option("--json", help="The answer as JSON.")] = False,
    trust: Annotated[list[Path] | None, typer.Option(
        "--trust", help="A public node document (node.json) whose signing key to trust; repeatable. With it the "
                        "check is offline: this node's database and trust list are not used, nothing is recorded.")
    ] = None,
) -> None:
    """Verify an official document: its seal against the trust list (and this node's own key), the
    request (or letter) it carries and every page against what was sealed. Exit 0 if valid; 1 if altered, sealed
    by an unknown signer or not sealed; 2 if the file cannot be read."""
    from evidex.documents.seal import MAX_PDF_BYTES, Verification, verify_pdf
    from evidex.documents.verification import trust_of

    pdf = _read_pdf(file, MAX_PDF_BYTES)
    result: Verification
    if trust:
        result = verify_pdf(pdf, trust=trust_of(TrustList(), node_documents=[_node_document(p) for p in trust]))
    else:
        from evidex.documents.verification import verify_document
        from evidex.exchange.keys import PUBLIC_FILE
        from evidex.node import build_node
        from evidex.parties.roles import Principal, Role

        settings = load_settings()
        own = settings.node_dir / PUBLIC_FILE
        documents = [_node_document(own)] if own.exists() else []  # the public keys: no passphrase needed
        operator = Principal(user_id=None, username="cli", party=settings.node_party, role=Role.administrator)
        with build_node(settings).sessions() as db:
            result = verify_document(db, pdf=pdf, actor=operator, now=dt.datetime.now(dt.UTC), node=None,
                                     node_documents=documents, channel="cli")
    if json_output:
        emit_json(result.as_json())
    else:
        typer.echo(_human(result))
    raise typer.Exit(0 if result.valid else 1)


def _human(result: Any) -> str:
    lines = [f"{LABELS[result.status]}: {result.detail}"]
    if result.party:
        lines += [f"  sealed by:  the node of {result.party}" + (" (as the seal claims)"
                                                                 if result.status == "unknown_signer" else ""),
                  f"  authority:  {result.authority or '–'}",
                  f"  sealed on:  {result.signed_at.isoformat() if result.signed_at else '–'}",
                  f"  key:        {result.kid}"]
    if result.kind == "letter":
        lines.append(f"  letter:     {result.letter or '–'}, answering the request {result.request_id or '–'}")
    if result.reference:
        lines.append(f"  reference:  {result.reference}")
    if result.differences:
        lines.append("what differs:")
        lines += [f"  - {d}" for d in result.differences]
        if result.more_differences:
            lines.append(f"  … and {result.more_differences} more")
    return "\n".join(lines)
