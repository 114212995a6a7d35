"""Per-request context shared by the middleware and the handlers that stream their own responses."""

from aiohttp import web

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = web.RequestKey("request_id", str)
