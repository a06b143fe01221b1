"""The route: which channel the document's sender may use (the type's channels, as the requested
Party's declarations open, close or redirect them), from and to which registered authority, with
the copies and simultaneous notifications the treaty requires."""

from __future__ import annotations

from evidex.rules.context import Context, Test
from evidex.rules.plan import ChannelChoice, ChannelOption, RouteKey, RouteTemplate, remember
from evidex.rules.schema import AUTHORITY_ROLES, MlaTreatyRoute, Notification, PartyProfile, RedirectChannels
from evidex.rules.verdict import CopyOut, Endpoint, Finding, NotificationOut, Route

_GENERIC_TO = {
    "judicial_authority": "Competent judicial authority",
    "competent_authority": "Competent authority",
    "interpol": "Interpol National Central Bureau",
}
# The channel index, in a RouteKey, of the route an MLA treaty sets instead of the type's channels (ETS185 Art 27(1)).
_MLA_TREATY = -1


def _registered(party: PartyProfile, role: str) -> Endpoint | None:
    auth = party.authorities.get(role)  # type: ignore[call-overload]
    if auth is None:
        return None
    return Endpoint(party=party.code, authority=role, name=auth.name,
                    contact=dict(auth.contact.__dict__) if auth.contact else None)


def _from(ctx: Context, role: str) -> Endpoint:
    party, doc = ctx.plan.requesting, ctx.doc
    if role in AUTHORITY_ROLES:
        return _registered(party, role) or Endpoint(party=party.code, authority=role)
    if role == "interpol":
        return Endpoint(party=party.code, authority="interpol", name="Interpol National Central Bureau")
    ia = doc.issuing_authority  # the document's own issuing authority
    c = ia.contact if ia else None
    return Endpoint(party=party.code, authority=doc.sent_by or "competent_authority", name=ia.name if ia else None,
                    contact={"address": c.address, "email": c.email, "phone": c.phone} if c else None)


def _to(ctx: Context, role: str, article: str, warnings: list[Finding]) -> Endpoint:
    party = ctx.plan.requested
    if role in AUTHORITY_ROLES:
        ep = _registered(party, role)
        if ep is None:
            warnings.append(Finding(
                code="authority_not_registered", article=article, element=None,
                message=f"{party.code} has no {role} in its profile: the addressee must be confirmed from the official registry"))
            return Endpoint(party=party.code, authority=role)
        return ep
    if role == "addressee":
        ad = ctx.doc.addressee
        return Endpoint(party=party.code, authority="addressee", name=ad.name if ad else None,
                        contact={"address": ad.address} if ad and ad.address else None)
    return Endpoint(party=party.code, authority=role, name=f"{_GENERIC_TO[role]} of {party.display_name()}")


def _mla_treaty_route(ctx: Context, rule: MlaTreatyRoute) -> RouteTemplate:
    """With an MLA treaty in force, route and conditions follow that treaty (the type's
    `displaced_by_mla_treaty`, e.g. ETS185 Art 27(1), 28(1))."""
    plan = ctx.plan
    names = {"requesting": plan.requesting.code, "requested": plan.requested.code}
    warnings: list[Finding] = []
    to = _to(ctx, rule.to, rule.article, warnings)
    warnings.append(Finding(code="mla_treaty_applies", article=rule.article, element=None,
                            message=rule.warning.format(**names)))
    route = Route(from_=_from(ctx, rule.from_), to=to, article=rule.article, copies=[], notifications=[],
                  channel=rule.channel.format(**names), outside_evidex=list(rule.outside_evidex), mla_treaty=True)
    return RouteTemplate(route, route.from_, to, rule.to, route.channel, [], [], tuple(warnings), route.outside_evidex,
                         False)


def _mutually_determined(ctx: Context) -> ChannelOption | None:
    # CETS224 Art 8(11): "or by such other authority as mutually determined" — a channel closed
    # only by that declaration stays open to the authorities the Parties determined together.
    plan, sent_by = ctx.plan, ctx.doc.sent_by
    for option in plan.index.channels:
        when = option.spec.when
        if sent_by in option.spec.sent_by and when and when.not_declared:
            listed = plan.declared.get(when.not_declared, {}).get("authorities") or []
            rest = when.model_copy(update={"not_declared": None})
            if sent_by in listed and ctx.holds(Test.of(rest)):
                return option
    return None


def _select(ctx: Context) -> ChannelChoice:
    """The channel for the document's sender; a sender the treaty does not allow is a problem."""
    plan, sent_by = ctx.plan, ctx.doc.sent_by
    spec = plan.spec
    open_channels = [c for c in plan.channels if c.when is None or ctx.holds(c.when)]
    default = open_channels[0] if open_channels else plan.index.channels[0]
    problems: tuple[Finding, ...] = ()
    if sent_by is None:
        chosen = default
    else:
        found = next((c for c in open_channels if sent_by in c.spec.sent_by), None) or _mutually_determined(ctx)
        if found is None:
            same = next((c for c in spec.channels if sent_by in c.sent_by), None)
            article = (same.when.not_declared if same and same.when and same.when.not_declared
                       else same.article if same else spec.channel_rule_article or spec.channels[0].article)
            catalogue = ctx.texts.rulebook.catalogue
            why = f" ({catalogue[article].effect.message})" if article in catalogue else ""
            allowed = sorted({s for c in open_channels for s in c.spec.sent_by})
            problems = (Finding(
                code="channel_not_allowed", article=article, element="sent_by",
                message=f"A {spec.type} request cannot be sent by {sent_by} here{why}; "
                        f"allowed: {', '.join(allowed) or 'none'}"),)
        chosen = found or default
    from_role: str = chosen.spec.from_
    if from_role == "sender":
        from_role = sent_by if sent_by in AUTHORITY_ROLES else "issuing_authority"
    return ChannelChoice(chosen.spec, chosen.position, from_role, problems)


def _template(ctx: Context, choice: ChannelChoice) -> RouteTemplate:
    plan, chosen = ctx.plan, choice.channel
    warnings: list[Finding] = []
    to_role: str = chosen.to
    for e in plan.entries:
        if isinstance(e.effect, RedirectChannels) and chosen.under == e.effect.under:  # e.g. ETS185 Art 27(9)(e)
            to_role = e.effect.to
            warnings.append(Finding(code="route_changed_by_declaration", article=e.reference, element="sent_by",
                                    message=f"{plan.requested.code}: {e.effect.message}"))
    channel = chosen.means
    outside = list(chosen.outside_evidex)
    urgent = plan.spec.urgent_means if ctx.doc.urgent else None  # in the route's key (urgent)
    if urgent is not None:
        channel = urgent.added_to(channel)
        outside += [m for m in urgent.outside_evidex if m not in outside]  # ETS185 Art 25(3): fax, e-mail
    copies = [CopyOut(from_=_from(ctx, c.from_), to=_to(ctx, c.to, c.article, warnings), article=c.article)
              for c in chosen.copies]
    notifications = [
        NotificationOut(to=_to(ctx, e.effect.authority, e.reference, warnings), article=e.reference,
                        message=e.effect.route_message, message_key=f"declaration.{e.reference}.route_message")
        for e in plan.entries if ctx.notification and isinstance(e.effect, Notification)  # CETS224 Art 7(5)(a)
    ]
    from_ep = _from(ctx, choice.from_role) if choice.from_role in AUTHORITY_ROLES else None
    to_ep = _to(ctx, to_role, chosen.article, warnings) if to_role in AUTHORITY_ROLES else None
    # The channel's position and the urgent means are in the route's key: a template says them truly.
    route = (Route(from_=from_ep, to=to_ep, channel=channel, article=chosen.article, copies=copies,
                   notifications=notifications, outside_evidex=outside, channel_index=choice.position,
                   urgent_means=urgent is not None)
             if from_ep is not None and to_ep is not None else None)
    return RouteTemplate(route, from_ep, to_ep, to_role, channel, copies, notifications, tuple(warnings), outside,
                         urgent is not None)


def find_route(ctx: Context) -> Route:
    plan, doc = ctx.plan, ctx.doc
    displaced = plan.spec.displaced_by_mla_treaty
    if displaced is not None and plan.mla_treaty:
        key: RouteKey = (_MLA_TREATY, displaced.from_, False, False)
        treaty = plan.routes.get(key) or plan.routes.setdefault(key, _mla_treaty_route(ctx, displaced))
        ctx.warnings.extend(treaty.warnings)
        assert treaty.route is not None  # both ends are registered authority roles
        return treaty.route
    if plan.dynamic_channels:
        choice = _select(ctx)
    else:  # the choice depends only on the sender: decide once per plan
        choice = plan.selections.get(doc.sent_by) or plan.selections.setdefault(doc.sent_by, _select(ctx))
    ctx.problems.extend(choice.problems)
    # Everything but an endpoint that is the document's own issuing authority or addressee depends
    # only on the Parties and the channel: built once per plan.
    key = (choice.position, choice.from_role, doc.urgent, ctx.notification)
    template = plan.routes.get(key)
    if template is None:
        template = _template(ctx, choice)
        if len(plan.routes) < 64:
            plan.routes[key] = template
    ctx.warnings.extend(template.warnings)
    if template.route is not None:
        return template.route
    # An endpoint is the document's own issuing authority or addressee: the same ones, the same route.
    ia, ad = doc.issuing_authority, doc.addressee
    contact = ia.contact if ia else None
    by_value = (key, doc.sent_by, ia.name if ia else None, contact and (contact.address, contact.email, contact.phone),
                ad.name if ad else None, ad.address if ad else None)
    route = plan.document_routes.get(by_value)
    if route is None:
        article = choice.channel.article
        route = remember(plan.document_routes, by_value, Route(
            from_=template.from_ or _from(ctx, choice.from_role),
            to=template.to or _to(ctx, template.to_role, article, ctx.warnings),
            channel=template.channel, article=article, copies=template.copies, notifications=template.notifications,
            outside_evidex=template.outside_evidex, channel_index=choice.position, urgent_means=template.urgent_means))
    return route
