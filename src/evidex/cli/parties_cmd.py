"""`evidex parties`: the Party profiles evidex answers with."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from evidex.cli.common import emit_json, fail, get_parties, parse_date
from evidex.rules import default_rulebook
from evidex.rules.explain import declarations_of

app = typer.Typer(help="List and show Party profiles (authorities, declarations, reservations).", no_args_is_help=True)

PartiesOpt = Annotated[Path | None, typer.Option("--parties", help="Party profiles (YAML) replacing the shipped set.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Date (YYYY-MM-DD); default today.")]


@app.command("list")
def list_parties(parties_file: PartiesOpt = None, as_of: AsOfOpt = None,
                 json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the Parties with their instruments and languages."""
    parties = get_parties(parties_file)
    on = parse_date(as_of) or dt.date.today()
    rows: list[dict[str, Any]] = []
    for code in parties.codes():
        p = parties.get(code, on)
        if p is None:
            continue
        rows.append({"code": p.code, "name": p.display_name(), "source": p.source,
                     "instruments": [i.code for i in p.instruments if i.in_force(on)], "languages": p.languages,
                     "valid_from": p.valid_from.isoformat() if p.valid_from else None})
    if json_out:
        emit_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['code']}  {r['name']:<24} {','.join(r['instruments']):<16} {','.join(r['languages']):<14} source: {r['source']}")


@app.command("show")
def show_party(code: Annotated[str, typer.Argument(help="ISO 3166-1 alpha-2 code, e.g. RS.")],
               parties_file: PartiesOpt = None, as_of: AsOfOpt = None,
               json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a Party's profile as of a date."""
    parties = get_parties(parties_file)
    on = parse_date(as_of) or dt.date.today()
    code = code.strip().upper()
    p = parties.get(code, on)
    if p is None:
        known = ", ".join(parties.codes())
        raise fail(f"no profile of {code!r} in effect on {on.isoformat()}; known: {known}")
    rb = default_rulebook()
    if json_out:
        data = p.model_dump(mode="json")
        data["in_effect"] = parties.in_effect(p, on)
        emit_json(data)
        return
    # The article that makes a Party's own requirements apply, as the rule data cites it (ETS185 Art 25(4)).
    mla_articles = ", ".join(sorted({t.mla_elements.article for t in rb.types.values() if t.mla_elements}))
    out = [f"{p.code} — {p.display_name()}  (source: {p.source}; profile valid from {p.valid_from or 'always'})",
           f"  instruments: {', '.join(f'{i.code} since {i.since}' if i.since else i.code for i in p.instruments)}",
           f"  languages: {', '.join(p.languages)} (domestic: {', '.join(p.domestic())}); time zone {p.timezone}",
           f"  MLA treaties with: {', '.join(p.mla_treaties) or 'none'}",
           f"  MLA required elements ({mla_articles}): {', '.join(p.mla_required_elements) or 'none listed'}",
           "", "Authorities:"]
    for role, a in p.authorities.items():
        contact = ", ".join(x for x in (a.contact.model_dump().values() if a.contact else []) if x)
        out.append(f"  {role:<18} {a.name}" + (f" — {contact}" if contact else ""))
    out += ["", f"Declarations and reservations in effect on {on.isoformat()}:"]
    for d in declarations_of(p, rb, on):
        state = "in effect" if d.in_effect else "not in effect"
        extra = f" {d.parameters}" if d.in_effect and d.parameters else ""
        out.append(f"  {d.reference} ({d.kind}, {state}): {d.title}{extra}")
    typer.echo("\n".join(out))
