"""`/ui`: the dashboard page, served by the daemon (its data comes from the JSON routes).

The page's files hold no data, and a browser sends no bearer header when it navigates, so
they are answered without the token (`api.security` opens them); every JSON route the page
then asks keeps needing it. `/` sends a browser to the page and tells anything else what
Ollama's root says, since Ollama clients probe it to see that a server is up.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from tierd.api.paths import ROOT, UI, UI_FILE, UI_PAGE
from tierd.dashboard.site import PAGE_FILES, page_text
from tierd.errors import TierdError

router = APIRouter(tags=["dashboard"])

CONTENT_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                 "css": "text/css; charset=utf-8"}
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # The page needs nothing from elsewhere: no CDN, no inline script, no framing.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


class NoSuchPageFile(TierdError):
    http_status = 404


@router.get(UI.path, include_in_schema=False)
async def ui() -> RedirectResponse:
    # Relative, so the page also works behind a proxy that serves tierd under a prefix.
    return RedirectResponse("ui/", status_code=307)


@router.get(UI_PAGE.path, include_in_schema=False)
@router.get(UI_FILE.path, include_in_schema=False)
async def ui_file(name: str = "") -> Response:
    name = name or "index.html"
    if name not in PAGE_FILES:
        raise NoSuchPageFile(f"the dashboard has no file {name!r}")
    return Response(page_text(name, static=False), headers=PAGE_HEADERS,
                    media_type=CONTENT_TYPES[name.rsplit(".", 1)[1]])


@router.get(ROOT.path, include_in_schema=False)
@router.head(ROOT.path, include_in_schema=False)
async def root(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("ui/", status_code=303)
    return PlainTextResponse("Ollama is running (tierd)")
