"""/docs (Swagger UI), /redoc and /openapi.json from files the node ships, so they work on a closed
network: the assets come from the pinned package fastapi-offline (Swagger UI, Apache-2.0; ReDoc,
MIT; the package, MIT), and the pages hold no inline script (the CSP of api/edge.py forbids it).
In production the pages and the schema need a valid Bearer token unless EVIDEX_PUBLIC_API_DOCS."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from evidex.api.deps import get_principal
from evidex.core.settings import Settings

STATIC = "/docs/static"
ASSETS = Path(str(files("fastapi_offline") / "static"))

SWAGGER_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null,
    deepLinking: true, presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]});
});
"""

SWAGGER_HTML = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>evidex API</title>
<link rel="stylesheet" href="{STATIC}/swagger-ui.css"><link rel="icon" href="{STATIC}/favicon.png"></head>
<body><div id="swagger-ui"></div>
<script src="{STATIC}/swagger-ui-bundle.js"></script><script src="{STATIC}/swagger-init.js"></script>
</body></html>
"""

REDOC_HTML = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>evidex API</title>
<link rel="icon" href="{STATIC}/favicon.png"></head>
<body><redoc spec-url="/openapi.json"></redoc><script src="{STATIC}/redoc.standalone.js"></script>
</body></html>
"""


def problems_as_problem_json(schema: dict[str, Any]) -> None:
    """Every error answer is an RFC 9457 problem document (api/errors.py): say so in the schema,
    in place of FastAPI's application/json and its HTTPValidationError list."""
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if not status.isdigit() or int(status) < 400 or "application/json" not in content:
                    continue
                body = content.pop("application/json")
                if body.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    body = {"schema": problem_ref}
                content["application/problem+json"] = body
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def install(app: FastAPI, settings: Settings) -> None:
    """The docs routes (the app is built with docs_url, redoc_url and openapi_url set to None)."""
    generate = app.openapi

    def schema_with_problems() -> dict[str, Any]:
        if app.openapi_schema is None:
            problems_as_problem_json(generate())  # FastAPI keeps what it generated in app.openapi_schema
        return app.openapi_schema or {}

    app.openapi = schema_with_problems  # type: ignore[method-assign]
    guard: list[Any] = []
    if settings.environment == "production" and not settings.public_api_docs:
        guard = [Depends(get_principal)]  # 401 without a valid token, like every other route

    @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    async def swagger() -> HTMLResponse:
        return HTMLResponse(SWAGGER_HTML)

    @app.get("/redoc", include_in_schema=False, dependencies=guard)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(REDOC_HTML)

    # Generic library code, no data of the node: served without sign-in so a signed-in page can load it.
    @app.get(f"{STATIC}/swagger-init.js", include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(SWAGGER_INIT, media_type="text/javascript")

    app.mount(STATIC, StaticFiles(directory=ASSETS), name="docs-static")

