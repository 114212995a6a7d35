"""Every route of the front door, in one list."""

from aiohttp import web

from service import converters, health, workfiles

ROUTES = [
    web.post("/PCCIS/V1/WorkFile", workfiles.post_workfile),
    web.get("/PCCIS/V1/WorkFile/{fileId}", workfiles.get_workfile),
    web.get("/PCCIS/V1/WorkFile/{fileId}/Info", workfiles.get_workfile_info),
    web.delete("/PCCIS/V1/WorkFile/{fileId}", workfiles.delete_workfile),
    web.post("/v2/contentConverters", converters.post_converter),
    web.get("/v2/contentConverters/{processId}", converters.get_converter),
    web.get("/PCCIS/V1/Service/Current/Health", health.get_health),
    web.get("/PCCIS/V1/Service/Current/Info", health.get_info),
]
