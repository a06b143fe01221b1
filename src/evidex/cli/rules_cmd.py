"""`evidex rules`: explain the law as evidex holds it, in any language evidex speaks."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from evidex.cli.common import emit_json, fail
from evidex.core.errors import EvidexError
from evidex.rules import default_rulebook
from evidex.rules.explain import deadlines_of
from evidex.rules.texts import LOCALES, SOURCE_LOCALE, Texts, check_locale

app = typer.Typer(help="Explain request types: elements, articles, routes, deadlines.", no_args_is_help=True)

LangOption = Annotated[str, typer.Option(
    "--lang", help=f"Language of the law's labels: {', '.join(LOCALES)}. Article references stay as they are.")]


def _texts(lang: str) -> Texts:
    from evidex.requests.texts import default_texts  # the lifecycle's words too: loaded only here

    try:
        check_locale(lang)
    except EvidexError as e:
        raise fail(str(e)) from None
    return default_texts()


@app.command("list")
def list_types(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
               lang: LangOption = SOURCE_LOCALE) -> None:
    """List the request types."""
    rb = default_rulebook()
    texts = _texts(lang)
    if json_out:
        emit_json([{"type": t.type, "article": t.article, "title": texts.type_title(t.type, lang),
                    "instruments": t.instruments} for t in rb.types.values()])
        return
    width = max(len(t) for t in rb.types)
    for t in rb.types.values():
        typer.echo(f"{t.type:<{width}}  {t.article:<14}  {texts.type_title(t.type, lang)}")


@app.command("show")
def show_type(
    request_type: Annotated[str, typer.Argument(help="A request type, e.g. subscriber_order.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    lang: LangOption = SOURCE_LOCALE,
) -> None:
    """Show a request type: elements and the article requiring each, route, deadlines, grounds."""
    rb = default_rulebook()
    spec = rb.types.get(request_type)
    if spec is None:
        raise fail(f"unknown request type {request_type!r}; known: {', '.join(rb.types)}")
    texts = _texts(lang)
    t = spec.type
    entries = rb.entries_for(t)
    if json_out:
        data = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
        data["declarations_and_reservations"] = [
            {"reference": e.reference, "kind": e.kind, "title": e.title, "effect": e.effect.kind} for e in entries
        ]
        if lang != SOURCE_LOCALE:  # the data as it is, and its labels in that language by key
            data["texts"] = {"lang": lang, **{k: texts.text(k, lang) for k in texts.keys_with_prefix(f"type.{t}")}}
        emit_json(data)
        return

    def actor(name: str) -> str:
        return texts.actor_label(name, lang)

    out = [f"{t} — {texts.type_title(t, lang)}",
           f"  {spec.article}; class {spec.class_name}; instruments: {', '.join(spec.instruments)}", ""]
    out.append("Mandatory elements:")
    for e in spec.elements:
        out.append(f"  {e.name:<34} {e.article:<22} {texts.element_label(t, e.name, lang)}")
    if spec.mla_elements is not None:
        out.append(f"  {'(requested Party law)':<34} {spec.mla_elements.article:<22} "
                   + texts.text(f"type.{t}.mla_elements", lang).format(element="mla_required_elements",
                                                                      party=actor("requested")))
    if spec.optional_elements:
        out += ["", "Optional elements:"]
        for e in spec.optional_elements:
            out.append(f"  {e.name:<34} {e.article:<22} {texts.element_label(t, e.name, lang)}")
    out += ["", "Channels:"]
    for i, c in enumerate(spec.channels):
        cond = f" when {c.when.model_dump(exclude_none=True)}" if c.when else ""
        out.append(f"  sent by {', '.join(actor(s) for s in c.sent_by)}: {actor(c.from_)} → {actor(c.to)} ({c.article}){cond}")
        out.append(f"      {texts.channel_text(t, i, lang)}")
    if spec.deadlines:
        out += ["", "Deadlines:"]
        for dl in deadlines_of(rb, spec, dt.date.today()):
            d = dl.spec
            days = f"{dl.days} ({d.period})" if dl.days is not None else f"from element {d.days_from_element}"
            longer = f", or {d.longer_of_element}.days if longer" if d.longer_of_element else ""
            out.append(f"  {d.name}: {days} days{longer} from {d.start.replace('_', ' ')} ({d.article})")
            out.append(f"      {texts.deadline_text(t, d.name, d.article, lang)}")
            if d.on_lapse is not None:
                out.append(f"      once lapsed ({d.on_lapse.article}): "
                           f"{texts.deadline_text(t, d.name, d.article, lang, on_lapse=True)}")
    if spec.refusal_grounds:
        out += ["", "Refusal grounds:"] + [f"  {g.article}: {texts.ground_text(t, 'refusal', g.article, lang)}"
                                           for g in spec.refusal_grounds]
    if spec.postponement_grounds:
        out += ["", "Postponement grounds:"] + [
            f"  {g.article}: {texts.ground_text(t, 'postponement', g.article, lang)}" for g in spec.postponement_grounds]
    if entries:
        out += ["", "Declarations and reservations that change the answer:"]
        out += [f"  {e.reference} ({e.kind}): {texts.declaration_text(e.reference, lang)}" for e in entries]
    if spec.obligations:
        out += ["", "Obligations:"] + [f"  [{actor(o.by)}] {o.article}: {texts.obligation_text(t, i, lang)}"
                                       for i, o in enumerate(spec.obligations)]
    typer.echo("\n".join(out))
