"""Every route of the front door, in one list."""

from aiohttp import web

from service import converters, fileservice, health, metrics, parts, queuedjobs, tus, viewer, viewing, workfiles

SESSION = "/PCCIS/V1/ViewingSession/u{sessionId}"
UPLOAD = "/PCCIS/V1/WorkFile/UploadSession"
SEED_UPLOAD = "/archives/{archiveId}/entities/H:{entityHandle}/create_sessions"

ROUTES = [
    # The route clients poll comes first: the router tries routes in this order.
    web.get("/v2/contentConverters/{processId}", converters.get_converter),
    web.post("/PCCIS/V1/WorkFile", workfiles.post_workfile),
    web.get("/PCCIS/V1/WorkFile/{fileId}", workfiles.get_workfile),
    web.get("/PCCIS/V1/WorkFile/{fileId}/Info", workfiles.get_workfile_info),
    web.delete("/PCCIS/V1/WorkFile/{fileId}", workfiles.delete_workfile),
    *[
        route
        for base, ext in ((UPLOAD, ""), (SEED_UPLOAD, ".json"))  # the seed's routes end in .json
        for route in (
            web.post(base + ext, parts.create_session),
            web.put(base + "/{uploadId}", parts.put_part),
            web.post(base + "/{uploadId}/save" + ext, parts.save_session),
            web.delete(base + "/{uploadId}" + ext, parts.delete_session),
        )
    ],
    web.options("/tus/files", tus.options),
    web.post("/tus/files", tus.create),
    web.head("/tus/files/{uploadId}", tus.head),
    web.patch("/tus/files/{uploadId}", tus.patch),
    web.delete("/tus/files/{uploadId}", tus.delete),
    web.get("/tus/files/{uploadId}", tus.status, allow_head=False),
    *[
        route
        for base in ("/api_gateway/file-service", "/PCCIS/V1/Files")
        for route in (
            web.post(base + "/{namespace}/{filename}", fileservice.upload),
            web.get(base + "/{namespace}/{filename}", fileservice.download),
            web.get(base + "/{namespace}/{filename}/versions", fileservice.list_versions),
            web.delete(base + "/{namespace}/{filename}", fileservice.delete),
        )
    ],
    web.get("/files/signed/{namespace}/{filename}", fileservice.signed_download),
    web.get("/api/QueuedJobs", queuedjobs.list_jobs),
    web.get("/api/QueuedJobs/OutputFile", queuedjobs.get_output),
    web.get("/api/QueuedJobs/OutputFile/{id}", queuedjobs.get_output),
    web.get("/api/QueuedJobs/{id}", queuedjobs.get_job),
    web.post("/v2/contentConverters", converters.post_converter),
    web.post("/PCCIS/V1/ViewingSession", viewing.post_session),
    web.get(SESSION, viewing.get_session),
    web.delete(SESSION, viewing.delete_session),
    web.put(SESSION + "/SourceFile", viewing.put_source_file),
    web.get(SESSION + "/SourceFile", viewing.get_source_file),
    web.put(SESSION + "/SourceRef", viewing.put_source_ref),
    web.get(SESSION + "/FileId", viewing.get_file_id),
    web.post(SESSION + "/Notification/SessionStarted", viewing.post_session_started),
    web.post(SESSION + "/Notification/SessionStopped", viewing.post_session_stopped),
    web.get("/PCCIS/V1/Page/q/{page}", viewer.get_page),
    web.get("/PCCIS/V1/Page/q/{page}/Attributes", viewer.get_page_attributes),
    web.get(r"/PCCIS/V1/Page/q/{page}/{width:[0-9]{1,5}}x{height:[0-9]{1,5}}", viewer.get_thumbnail),
    web.get("/PCCIS/V1/Document/q/Attributes", viewer.get_document_attributes),
    web.get(r"/PCCIS/V1/Document/q/{first:[0-9]{1,9}}-{last:[0-9]{1,9}}/Text", viewer.get_text),
    web.get("/metrics", metrics.get_metrics),
    web.get("/openapi.json", health.get_openapi),
    web.get("/PCCIS/V1/Service/Current/Health", health.get_health),
    web.get("/PCCIS/V1/Service/Current/Ready", health.get_ready),
    web.get("/PCCIS/V1/Service/Current/Info", health.get_info),
]
