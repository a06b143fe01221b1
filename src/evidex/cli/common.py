"""Shared CLI helpers: reading documents, dates and Party files; one-line errors."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from evidex.core.errors import InvalidInput
from evidex.core.yamlio import load_yaml_text
from evidex.rules import Parties, default_parties, load_parties

if TYPE_CHECKING:  # pydantic-settings is loaded by the commands that read settings (not `check`)
    from evidex.core.settings import Settings

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


def read_document(path: str) -> Any:
    """Read a request document (JSON or YAML) from a file, or from standard input for '-'."""
    name = "standard input" if path == "-" else path
    try:
        raw = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1) if path == "-" else _read_file(Path(path))
    except OSError as e:
        raise InvalidInput(f"{name}: cannot be read ({e.strerror or e})") from e
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise InvalidInput(f"{name}: larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB; not a request document")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{name}: not UTF-8 text (byte {e.start})") from e
    if not text.strip():
        raise InvalidInput(f"{name}: empty document")
    suffix = Path(path).suffix.lower()
    if suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip()[:1] in "{["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise InvalidInput(f"{name}: not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
        except RecursionError as e:
            raise InvalidInput(f"{name}: JSON nested too deeply") from e
    return load_yaml_text(text, name, InvalidInput)


def _read_file(p: Path) -> bytes:
    if p.is_dir():
        raise InvalidInput(f"{p}: is a folder, not a request document")
    with p.open("rb") as f:
        return f.read(MAX_DOCUMENT_BYTES + 1)


def parse_date(value: str | None, option: str = "--as-of") -> dt.date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError as e:
        raise InvalidInput(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from e


def parse_id(value: str, what: str) -> uuid.UUID:
    """An object id given on the command line, or a one-line error naming what it should be."""
    try:
        return uuid.UUID(value)
    except ValueError as e:
        raise fail(f"{value!r} is not {what} id") from e


def get_parties(path: Path | None) -> Parties:
    return default_parties() if path is None else load_parties(path)


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"evidex: error: {message}", err=True)
    return typer.Exit(code)


def emit_json(obj: Any, pretty: bool = True) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2 if pretty else None, default=str))


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a one-line error (exit 2). Commands that load
    settings work with the database: every model is registered first (foreign keys resolve)."""
    from evidex.core.settings import Settings
    from evidex.models import import_all_models
    from evidex.parties.service import use_password_profile

    import_all_models()
    try:
        settings = Settings()
    except ValueError as e:
        raise fail(f"settings: {e}") from e
    use_password_profile(settings.password_hash_profile)
    return settings
