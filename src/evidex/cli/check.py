"""`evidex check`: is a request admissible, and why."""

from __future__ import annotations

import datetime as dt
import json
import sys
import zoneinfo
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from evidex.cli.common import get_parties, parse_date, read_document
from evidex.core.errors import EvidexError, InvalidInput
from evidex.rules import Parties, Verdict, check, default_rulebook
from evidex.rules.refs import article_of


class Format(StrEnum):
    text = "text"
    json = "json"


def today_for(document: Any, parties: Parties) -> dt.date:
    """Deadlines are calendar days in the requested Party's time zone (LEGAL.md §5)."""
    tz = "UTC"
    if isinstance(document, dict) and isinstance(document.get("requested_party"), str):
        versions = parties.versions(document["requested_party"].strip().upper())
        if versions:
            tz = versions[-1].timezone
    return dt.datetime.now(zoneinfo.ZoneInfo(tz)).date()


def render_text(v: Verdict) -> str:
    rb = default_rulebook()
    spec = rb.types[v.request_type]
    lines = [
        f"{'ADMISSIBLE' if v.admissible else 'NOT ADMISSIBLE'} — {v.request_type} ({spec.article}: {spec.title})",
        f"{v.requesting_party} → {v.requested_party}, as of {v.as_of.isoformat()}",
    ]

    def title(ref: str) -> str:
        t = rb.article_title(ref)
        return f"{ref} ({article_of(ref)}: {t})" if t else ref

    if v.problems:
        lines += ["", f"Problems ({len(v.problems)}):"]
        for p in v.problems:
            lines.append(f"  ✗ {title(p.article)}" + (f" [{p.element}]" if p.element else ""))
            lines.append(f"      {p.message}")
    if v.warnings:
        lines += ["", f"Warnings ({len(v.warnings)}):"]
        for w in v.warnings:
            lines.append(f"  ! {w.article}" + (f" [{w.element}]" if w.element else "") + f": {w.message}")
    if v.route:
        r = v.route

        def ep(e: Any) -> str:
            bits = [f"{e.party} {e.authority}"]
            if e.name:
                bits.append(e.name)
            if e.contact:
                bits.append(", ".join(f"{x}" for x in e.contact.values() if x))
            return " — ".join(b for b in bits if b)

        lines += ["", f"Route ({r.article}):", f"  from: {ep(r.from_)}", f"  to:   {ep(r.to)}", f"  how:  {r.channel}"]
        for c in r.copies:
            lines.append(f"  copy at the same time ({c.article}): {ep(c.from_)} → {ep(c.to)}")
        for n in r.notifications:
            lines.append(f"  notify at the same time ({n.article}): {ep(n.to)}")
    if v.deadlines:
        lines += ["", "Deadlines:"]
        for d in v.deadlines:
            days = f"{d.days} days" if d.days is not None else "days not set"
            due = f"due {d.due.isoformat()} ({d.due.strftime('%A')})" if d.due else "starts at an event not yet known"
            lines.append(f"  {d.name}: {days}, {due} — {d.article}")
    if v.obligations:
        lines += ["", "Next steps:"]
        for o in v.obligations:
            lines.append(f"  [{o.by}] {o.article}: {o.message}")
    if v.alternatives:
        lines += ["", "Open instead:"]
        for a in v.alternatives:
            lines.append(f"  → {a.request_type} ({a.article})")
    return "\n".join(lines)


def check_command(
    files: Annotated[list[str], typer.Argument(help="Request document(s), JSON or YAML; '-' reads standard input.")],
    parties_file: Annotated[
        Path | None, typer.Option("--parties", help="Party profiles (YAML) replacing the shipped set.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date (YYYY-MM-DD) the law and profiles are read as of. Default: today in the requested Party's time zone.")
    ] = None,
    fmt: Annotated[
        Format | None, typer.Option("--format", help="text for people (default on a terminal), json for programs.")
    ] = None,
) -> None:
    """Check request documents against the treaties and the Parties' declarations.

    Exit code: 0 admissible, 1 not admissible, 2 invalid input.
    """
    output = fmt or (Format.text if sys.stdout.isatty() else Format.json)
    date = parse_date(as_of)
    parties = get_parties(parties_file)
    worst = 0
    for i, name in enumerate(files):
        try:
            document = read_document(name)
            verdict = check(document, parties, date or today_for(document, parties))
        except InvalidInput as e:
            typer.echo(f"evidex: error: {e}" if len(files) == 1 or str(e).startswith(name) else f"evidex: error: {name}: {e}", err=True)
            worst = 2
            continue
        except EvidexError as e:
            typer.echo(f"evidex: error: {e}", err=True)
            worst = 2
            continue
        if output is Format.json:
            typer.echo(json.dumps(verdict.to_json_dict(), ensure_ascii=False, indent=2 if len(files) == 1 else None))
        else:
            if len(files) > 1:
                typer.echo(("\n" if i else "") + f"== {name}")
            typer.echo(render_text(verdict))
        if not verdict.admissible and worst < 1:
            worst = 1
    raise typer.Exit(worst)
