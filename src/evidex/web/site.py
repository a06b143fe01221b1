"""The node as a person meets it: the API (api/app.py) with the web application mounted at `/`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from evidex.api.app import create_app
from evidex.core.memory import retain_freed_memory
from evidex.core.settings import Settings
from evidex.web import page, static, templates
from evidex.web.routes import (
    account,
    admin,
    audit,
    auth,
    dashboard,
    documents,
    drafting,
    evidence,
    law,
    requests,
    verify,
)
from evidex.web.security import WebSecurity


def install(app: FastAPI) -> FastAPI:
    """Mount the pages on an API app built by create_app (same node, same services)."""
    assets = static.load_assets()
    env = templates.environment()
    env.globals["asset"] = lambda name: static.url_for(assets, name)
    app.state.web_security = WebSecurity(app.state.settings)
    app.state.browser_session = app.state.web_security.script_session  # the upload script's calls: api/deps.py
    app.include_router(static.router(assets))
    for router in (auth.router, account.router, dashboard.router, drafting.router, requests.router,  # drafting before /requests/{id}
                   documents.router, evidence.router, law.router, audit.router, admin.router, verify.router):
        app.include_router(router)
    page.install_error_pages(app)
    return app


def create_site(settings: Settings, **kwargs: Any) -> FastAPI:
    """create_app(settings, **kwargs) with the web application."""
    return install(create_app(settings, **kwargs))


def create_worker_site() -> FastAPI:
    """One of several API worker processes (`evidex serve --workers N`): settings from the environment
    the parent validated; no deadline/outbox worker here (the parent runs the one)."""
    retain_freed_memory()
    return create_site(Settings())
