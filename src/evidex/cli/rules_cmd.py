"""`evidex rules`: explain the law as evidex holds it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from evidex.cli.common import emit_json, fail
from evidex.rules import default_rulebook
from evidex.rules.explain import deadlines_of

app = typer.Typer(help="Explain request types: elements, articles, routes, deadlines.", no_args_is_help=True)


@app.command("list")
def list_types(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the request types."""
    rb = default_rulebook()
    if json_out:
        emit_json([{"type": t.type, "article": t.article, "title": t.title, "instruments": t.instruments} for t in rb.types.values()])
        return
    width = max(len(t) for t in rb.types)
    for t in rb.types.values():
        typer.echo(f"{t.type:<{width}}  {t.article:<14}  {t.title}")


@app.command("show")
def show_type(
    request_type: Annotated[str, typer.Argument(help="A request type, e.g. subscriber_order.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a request type: elements and the article requiring each, route, deadlines, grounds."""
    rb = default_rulebook()
    spec = rb.types.get(request_type)
    if spec is None:
        raise fail(f"unknown request type {request_type!r}; known: {', '.join(rb.types)}")
    entries = rb.entries_for(spec.type)
    if json_out:
        data = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["declarations_and_reservations"] = [
            {"reference": e.reference, "kind": e.kind, "title": e.title, "effect": e.effect.kind} for e in entries
        ]
        emit_json(data)
        return
    out = [f"{spec.type} — {spec.title}", f"  {spec.article}; class {spec.class_name}; instruments: {', '.join(spec.instruments)}", ""]
    out.append("Mandatory elements:")
    for e in spec.elements:
        out.append(f"  {e.name:<34} {e.article:<22} {e.label}")
    if spec.mla_elements is not None:
        out.append(f"  {'(requested Party law)':<34} {spec.mla_elements.article:<22} "
                   "the requested Party's mla_required_elements")
    if spec.optional_elements:
        out += ["", "Optional elements:"]
        for e in spec.optional_elements:
            out.append(f"  {e.name:<34} {e.article:<22} {e.label}")
    out += ["", "Channels:"]
    for c in spec.channels:
        cond = f" when {c.when.model_dump(exclude_none=True)}" if c.when else ""
        out.append(f"  sent by {', '.join(c.sent_by)}: {c.from_} → {c.to} ({c.article}){cond}")
        out.append(f"      {c.means}")
    if spec.deadlines:
        out += ["", "Deadlines:"]
        for dl in deadlines_of(rb, spec, dt.date.today()):
            d = dl.spec
            days = f"{dl.days} ({d.period})" if dl.days is not None else f"from element {d.days_from_element}"
            longer = f", or {d.longer_of_element}.days if longer" if d.longer_of_element else ""
            out.append(f"  {d.name}: {days} days{longer} from {d.start.replace('_', ' ')} ({d.article})")
            out.append(f"      {d.description}")
            if d.on_lapse is not None:
                out.append(f"      once lapsed ({d.on_lapse.article}): {d.on_lapse.message}")
    if spec.refusal_grounds:
        out += ["", "Refusal grounds:"] + [f"  {g.article}: {g.message}" for g in spec.refusal_grounds]
    if spec.postponement_grounds:
        out += ["", "Postponement grounds:"] + [f"  {g.article}: {g.message}" for g in spec.postponement_grounds]
    if entries:
        out += ["", "Declarations and reservations that change the answer:"]
        out += [f"  {e.reference} ({e.kind}): {e.title}" for e in entries]
    if spec.obligations:
        out += ["", "Obligations:"] + [f"  [{o.by}] {o.article}: {o.message}" for o in spec.obligations]
    typer.echo("\n".join(out))
