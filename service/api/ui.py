"""The browser viewer: its page (GET /viewer?session=) and its files, shipped in service/static/viewer."""

import html
from functools import cache
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from service.auth import SESSION_ID
from service.errors import NotFound
from service.params import is_number

MAX_PAGE = 10**9
FOLDER = Path(__file__).resolve().parent.parent / "static" / "viewer"
ASSETS = {  # the files the page uses -> their Content-Type (nothing else of the folder is served)
    "viewer.css": "text/css",
    "viewer.js": "text/javascript",
    "api.js": "text/javascript",
    "layout.js": "text/javascript",
    "pages.js": "text/javascript",
    "thumbs.js": "text/javascript",
    "status.js": "text/javascript",
    "printing.js": "text/javascript",
    "textlayer.js": "text/javascript",
    "search.js": "text/javascript",
}
# The page itself and the module graph are the viewer's own: no inline script, nothing from elsewhere.
# Page images arrive as blob: URLs (fetched, so the viewer reads error statuses and can abort).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",  # the page's URL holds the session id
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@cache
def page_template() -> str:
    return (FOLDER / "viewer.html").read_text(encoding="utf-8")


def first_page_preload(session_id: str, page: int) -> str:
    """A preload of the first page shown, as the viewer will fetch it, so it is on its way while the
    modules load (the viewer asks for it with the same URL and mode, and gets this response)."""
    url = f"/PCCIS/V1/Page/q/{page}?DocumentID=u{quote(session_id)}"
    return f'<link rel="preload" as="fetch" crossorigin="anonymous" href="{html.escape(url)}">'


async def get_viewer(request: web.Request) -> web.Response:
    session_id, page = request.query.get("session", ""), request.query.get("page", "1")
    page_number = int(page) - 1 if is_number(page) and 1 <= int(page) <= MAX_PAGE else 0
    preload = first_page_preload(session_id, page_number) if SESSION_ID.match(session_id) else ""
    text = page_template().replace("<!--preload-->", preload)
    return web.Response(text=text, content_type="text/html", headers=SECURITY_HEADERS)


async def get_viewer_asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise NotFound("NoSuchFile")
    # no-cache: revalidated by ETag on every load, so an upgraded server never runs an old module graph.
    headers = {"Content-Type": ASSETS[name], "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return web.FileResponse(FOLDER / name, headers=headers)
