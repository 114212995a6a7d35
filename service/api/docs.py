"""API documentation: the OpenAPI document and a Swagger UI page, its files shipped by a Python package."""

from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from service import keys
from service.errors import NotFound

ASSETS = {  # the files the page uses -> their Content-Type
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>pagemill API</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script>
    // validatorUrl null: the page must not call out to an online validator (it works offline).
    SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null});
  </script>
</body>
</html>
"""


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[keys.OPENAPI])


async def get_docs(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def get_asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ASSETS:  # only these names: nothing else of the package (or the disk) is served
        raise NotFound("NoSuchFile")
    headers = {"Content-Type": ASSETS[name], "Cache-Control": "public, max-age=86400"}
    return web.FileResponse(Path(str(swagger_ui_path / name)), headers=headers)
