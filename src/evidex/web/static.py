"""The pages' own static files (CSS, JS, images), served by the node itself: a ministry's network is
closed, nothing loads from outside. Read once at start-up, gzip-compressed once, and named with a
version (`?v=` its hash) so a browser keeps each for a year and never uses a stale one."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

ROOT = Path(__file__).parent / "static"
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
         ".txt": "text/plain; charset=utf-8", ".ico": "image/x-icon", ".png": "image/png"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    version: str


def load_assets() -> dict[str, Asset]:
    out: dict[str, Asset] = {}
    for path in sorted(ROOT.rglob("*")):
        if not path.is_file() or path.name == "SHA256SUMS":
            continue
        body = path.read_bytes()
        media = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        squeezed = gzip.compress(body, 9, mtime=0) if media.startswith(("text/", "image/svg")) else None
        out[path.relative_to(ROOT).as_posix()] = Asset(body, squeezed if squeezed and len(squeezed) < len(body) else None,
                                                       media, hashlib.sha256(body).hexdigest()[:12])
    return out


def router(assets: dict[str, Asset]) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/static/{name:path}")
    def static_file(name: str, request: Request) -> Response:
        asset = assets.get(name)
        if asset is None:
            return Response(status_code=404, media_type="text/plain", content=b"not found")
        headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{asset.version}"',
                   "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            return Response(asset.gzipped, media_type=asset.media_type, headers={**headers, "Content-Encoding": "gzip"})
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return r


def url_for(assets: dict[str, Asset], name: str) -> str:
    asset = assets[name]  # a template naming a file that does not exist fails at once, in the tests
    return f"/static/{name}?v={asset.version}"
