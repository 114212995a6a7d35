"""CORS for browser clients on other origins: PAGEMILL_CORS_ORIGINS lists them (unset: no CORS headers)."""

from aiohttp import web

METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSED = ", ".join(
    (
        "X-Request-Id", "Accusoft-Status-Number", "Accusoft-Status-Message", "Pagemill-File-Id",
        "Idempotent-Replayed", "Content-Disposition", "Content-Range", "ETag", "Location", "Retry-After",
        "Upload-Offset", "Upload-Length", "Upload-Expires", "Upload-Metadata", "Tus-Resumable", "Tus-Version",
        "Tus-Extension", "Tus-Max-Size", "Tus-Checksum-Algorithm",
    )
)  # fmt: skip
MAX_AGE_S = 600


def allowed_origin(origins: tuple[str, ...], request: web.Request) -> str | None:
    """The Access-Control-Allow-Origin value for this request, or None (no CORS headers)."""
    origin = request.headers.get("Origin")
    if not origins or not origin:
        return None
    if "*" in origins:
        return "*"
    return origin if origin.rstrip("/") in origins else None


def preflight(origins: tuple[str, ...], request: web.Request) -> web.Response | None:
    """The answer to a CORS preflight from an allowed origin (before authentication: browsers send no key)."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    origin = allowed_origin(origins, request)
    if origin is None:
        return None
    headers = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": METHODS,
        "Access-Control-Max-Age": str(MAX_AGE_S),
        "Vary": "Origin",
    }
    if "Access-Control-Request-Headers" in request.headers:
        headers["Access-Control-Allow-Headers"] = request.headers["Access-Control-Request-Headers"]
    return web.Response(status=204, headers=headers)


def response_signal(origins: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """An on_response_prepare hook: CORS headers on every answer to an allowed origin, streamed ones too."""

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        origin = allowed_origin(origins, request)
        if origin is not None and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSED
            response.headers.add("Vary", "Origin")

    return add_headers
