"""Every route of the front door, in one list: each declares its handler and its OpenAPI contract."""

from core.processes import MARKUP_BURNING, PLAIN_TEXT_REDACTION, REDACTION_CREATION, SEARCH_CONTEXT, SEARCH_TASK
from schemas import responses as r
from schemas.converters import ConvertRequest
from schemas.redaction import MarkupBurnerRequest, PlainTextRedactorRequest, RedactionCreatorRequest
from schemas.search import SearchContextRequest, SearchTaskRequest
from schemas.viewing import SessionStarted, SessionStopped, SourceRef, ViewingSessionProperties
from service.api import (
    conversions,
    docs,
    files,
    health,
    metrics,
    parts,
    processes,
    queuedjobs,
    redaction,
    search,
    sessions,
    tus,
    ui,
    viewer,
    workfiles,
)
from service.operation import INTEGER, Operation, Param, route_defs

SESSION = "/PCCIS/V1/ViewingSession/u{sessionId}"
UPLOAD = "/PCCIS/V1/WorkFile/UploadSession"
SEED_UPLOAD = "/archives/{archiveId}/entities/H:{entityHandle}/create_sessions"
FILES = {"/api_gateway/file-service": "", "/PCCIS/V1/Files": "Pccis"}  # base -> operationId suffix

WORK_FILES, UPLOADS, TUS, FILE_SERVICE = "Work files", "Uploads", "tus", "File service"
TILE = ("x", "y", "width", "height")
CONVERSIONS, QUEUED_JOBS, SESSIONS, VIEWER = "Conversions", "Queued jobs", "Viewing sessions", "Viewer"
SERVICE, SEARCH, REDACTION = "Service", "Search", "Redaction"

AFFINITY = Param(
    "Accusoft-Affinity-Token", "The affinityToken of an earlier file, to keep files together", in_="header"
)
# What the handlers accept, stated in the schemas too, so clients (and generated requests) can see it.
PLAIN_NAME = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": '^[^\\x00-\\x1f\\x7f/\\\\"]+$',
              "not": {"enum": [".", ".."]}, "examples": ["report.pdf"]}  # fmt: skip
FILENAME = Param("ContentDispositionFilename", "The file name for Content-Disposition (no separators)", PLAIN_NAME)
MIN_SECONDS = Param("MinSecondsAvailable", "Keep the file at least this long (capped by the server)", INTEGER)
EXTENSION = Param(
    "FileExtension",
    "The file's extension when its bytes do not tell (no leading period)",
    {"type": "string", "pattern": "^[A-Za-z0-9]{1,16}$", "examples": ["pdf"]},
)
WAIT = Param(
    "wait",
    "pagemill extension: seconds (0-30) to wait for a processing process to end before answering",
    {"type": "number", "minimum": 0, "maximum": 30, "examples": [10]},
)
SCALE = Param("Scale", "0.05 to 8", {"type": "number", "minimum": 0.05, "maximum": 8})
QUALITY = Param("Quality", "jpeg quality, 1 to 100", {"type": "integer", "minimum": 1, "maximum": 100})
DOCUMENT_ID = Param(
    "DocumentID",
    '"u" + the viewing session id, or "e" + its base64',
    {"type": "string", "pattern": "^(u[A-Za-z0-9_-]{16,128}|e[A-Za-z0-9_=+/-]{20,200})$"},
    required=True,
)
FILE_NAMES = (
    Param("namespace", "1-64 letters, digits, '.', '_' or '-'", {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
          "path"),
    Param("filename", "A file name without path separators or control characters",
          {**PLAIN_NAME, "pattern": "^[^\\x00-\\x1f\\x7f/\\\\]+$"}, "path"),
)  # fmt: skip
TUS_RESUMABLE = Param("Tus-Resumable", "The tus version", {"type": "string", "enum": ["1.0.0"]}, "header", True)
UPLOAD_CHECKSUM = Param("Upload-Checksum", "`sha1|sha256 <base64 digest>` of this request's body", in_="header")
VIEWER_ERRORS = ("Accusoft-Status-Number", "Accusoft-Status-Message")
FILE_HEADERS = ("Content-Disposition",)
IMAGES = {"image/png": "binary", "image/jpeg": "binary"}
VIEWER_CREDENTIAL = (
    "Needs no API key: the viewing session id is the credential (unless PAGEMILL_VIEWER_REQUIRES_KEY=true)."
)
TUS_STATE = ("Tus-Resumable", "Upload-Offset", "Upload-Expires", "Pagemill-File-Id")

OPERATIONS = [
    # The route clients poll comes first: the router tries routes in this order.
    Operation("GET", "/v2/contentConverters/{processId}", conversions.get_converter, "Poll a conversion process",
              CONVERSIONS, "Poll until `state` is no longer `processing`; `output.results` then lists the work files. "
              "pagemill extension: with `wait=N` a processing process is answered the moment it ends, or after N "
              "seconds (at most 30) as it then is.",
              params=(WAIT,), response=r.Process, errors=(404, 480)),
    Operation("POST", "/PCCIS/V1/WorkFile", workfiles.post_workfile, "Upload a work file", WORK_FILES,
              "The raw body is streamed to storage; magic bytes (pdf, png, jpeg, gif, bmp, tiff) beat FileExtension.",
              params=(EXTENSION, MIN_SECONDS, AFFINITY), body="binary", response=r.WorkFileRef, errors=(413, 480)),
    Operation("GET", "/PCCIS/V1/WorkFile/{fileId}", workfiles.get_workfile, "Download a work file", WORK_FILES,
              params=(FILENAME,), response="file", response_headers=FILE_HEADERS, ranges=True, errors=(404, 480)),
    Operation("GET", "/PCCIS/V1/WorkFile/{fileId}/Info", workfiles.get_workfile_info, "Describe a work file",
              WORK_FILES, response=r.WorkFileInfo, errors=(404, 480)),
    Operation("DELETE", "/PCCIS/V1/WorkFile/{fileId}", workfiles.delete_workfile, "Delete a work file", WORK_FILES,
              status=204, errors=(404, 480)),
    *[
        op
        for base, ext, seed in ((UPLOAD, "", ""), (SEED_UPLOAD, ".json", "Seed"))  # the seed's routes end in .json
        for op in (
            Operation("POST", base + ext, parts.create_session, "Start an upload in parts", UPLOADS,
                      params=(MIN_SECONDS,), body=parts.CreateSession, body_required=False,
                      response=r.UploadSessionCreated, errors=(413, 480), name=f"createUploadSession{seed}"),
            Operation("PUT", base + "/{uploadId}", parts.put_part, "Upload the next part", UPLOADS,
                      "A part must start where the previous one ended; resending the last part changes nothing.",
                      params=(Param("Content-Range", "`start-end` or `bytes start-end/total` (0-based, inclusive)",
                                    in_="header", required=True),),
                      body="binary", response=r.UploadProgress, errors=(400, 404, 409, 411, 413),
                      name=f"putUploadPart{seed}"),
            Operation("POST", base + "/{uploadId}/save" + ext, parts.save_session, "Save the upload as a work file",
                      UPLOADS, params=(AFFINITY,), body=parts.SaveSession, body_required=False,
                      response=r.UploadSaved, errors=(404, 409, 413, 480), name=f"saveUploadSession{seed}"),
            Operation("DELETE", base + "/{uploadId}" + ext, parts.delete_session, "Cancel an upload", UPLOADS,
                      response=r.Empty, errors=(404,), name=f"deleteUploadSession{seed}"),
        )
    ],
    Operation("OPTIONS", "/tus/files", tus.options, "tus discovery: version, extensions, size limit", TUS,
              status=204, stateful=False,
              response_headers=("Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size",
                                "Tus-Checksum-Algorithm")),
    Operation("POST", "/tus/files", tus.create, "Create a tus upload", TUS,
              "With a body of `application/offset+octet-stream` (creation-with-upload) the first bytes come along.",
              params=(TUS_RESUMABLE,
                      Param("Upload-Length", "The upload's size in bytes", INTEGER, "header", True),
                      Param("Upload-Metadata", "`key base64value` pairs; `filename` and `filetype` are read",
                            in_="header"),
                      UPLOAD_CHECKSUM, AFFINITY),
              body={"application/offset+octet-stream": "binary"}, body_required=False, status=201,
              response_headers=("Location", *TUS_STATE), errors=(400, 409, 412, 413, 415, 423, 460)),
    Operation("HEAD", "/tus/files/{uploadId}", tus.head, "The upload's offset", TUS, params=(TUS_RESUMABLE,),
              response_headers=(*TUS_STATE, "Upload-Length", "Upload-Metadata"), errors=(404, 410, 412)),
    Operation("PATCH", "/tus/files/{uploadId}", tus.patch, "Append to a tus upload", TUS,
              "The body is appended at Upload-Offset; the upload becomes a work file when it is complete.",
              params=(TUS_RESUMABLE,
                      Param("Upload-Offset", "Where this chunk starts", INTEGER, "header", True),
                      UPLOAD_CHECKSUM, AFFINITY),
              body={"application/offset+octet-stream": "binary"}, status=204, response_headers=TUS_STATE,
              errors=(400, 404, 409, 410, 412, 413, 415, 423, 460)),
    Operation("DELETE", "/tus/files/{uploadId}", tus.delete, "Terminate a tus upload", TUS,
              params=(TUS_RESUMABLE,), status=204, response_headers=("Tus-Resumable",),
              errors=(404, 410, 412, 423)),
    Operation("GET", "/tus/files/{uploadId}", tus.status, "The upload's state and work file", TUS,
              "A pagemill extension: progress as JSON, with the work file once the upload is complete.",
              response=r.TusUpload, response_headers=("Tus-Resumable",), errors=(404, 410)),
    *[
        op
        for base, suffix in FILES.items()
        for op in (
            Operation("POST", base + "/{namespace}/{filename}", files.upload, "Store a new version of a file",
                      FILE_SERVICE, "The raw body, or the first file of a multipart form.", params=FILE_NAMES,
                      body={"application/octet-stream": "binary", "multipart/form-data": "form"},
                      response=r.FileStored, errors=(400, 413), name=f"storeFile{suffix}"),
            Operation("GET", base + "/{namespace}/{filename}", files.download, "Download a file", FILE_SERVICE,
                      params=(*FILE_NAMES, Param("version", "A version number (default: the latest)", INTEGER)),
                      response="file", response_headers=FILE_HEADERS, ranges=True, errors=(400, 404),
                      name=f"downloadFile{suffix}"),
            Operation("GET", base + "/{namespace}/{filename}/versions", files.list_versions,
                      "List a file's versions", FILE_SERVICE, params=FILE_NAMES, response=r.FileVersions,
                      errors=(400, 404),
                      name=f"listFileVersions{suffix}"),
            Operation("DELETE", base + "/{namespace}/{filename}", files.delete,
                      "Delete a file (or one version)", FILE_SERVICE,
                      params=(*FILE_NAMES, Param("version", "Delete only this version", INTEGER)),
                      response=r.FileDeleted, errors=(400, 404), name=f"deleteFile{suffix}"),
        )
    ],
    Operation("GET", "/files/signed/{namespace}/{filename}", files.signed_download,
              "Download through a signed link", FILE_SERVICE,
              "The `secureFilePath` of an upload: no credentials needed; 403 once expired or altered.",
              params=(*FILE_NAMES, *(Param(name, "Part of the signed link", required=True)
                                     for name in ("version", "tenant", "expires", "signature"))),
              response="file", response_headers=FILE_HEADERS, ranges=True, errors=(400, 403, 404)),
    Operation("GET", "/api/QueuedJobs", queuedjobs.list_jobs, "List queued jobs", QUEUED_JOBS,
              params=(Param("page", "1-based page", INTEGER), Param("pageSize", "Jobs per page (1-200)", INTEGER),
                      Param("state", "Only jobs in this state",
                            {"type": "string", "enum": ["processing", "complete", "error"]})),
              response=r.QueuedJobPage, errors=(480,)),
    *[
        Operation("GET", path, queuedjobs.get_output, "Download a job's output, base64-encoded", QUEUED_JOBS,
                  "One output comes as its bytes, several as one zip, either way base64-encoded.",
                  params=params, response={"text/plain": "text"}, response_headers=FILE_HEADERS,
                  errors=(404, 409, 410, 480), name=name)
        for path, params, name in (
            ("/api/QueuedJobs/OutputFile", (Param("id", "The job's number", INTEGER, required=True),),
             "getOutputByQuery"),
            ("/api/QueuedJobs/OutputFile/{id}", (), "getOutput"),
        )
    ],
    Operation("GET", "/api/QueuedJobs/{id}", queuedjobs.get_job, "Get a queued job", QUEUED_JOBS,
              response=r.QueuedJob, errors=(404, 480)),
    Operation("DELETE", "/api/QueuedJobs/{id}", queuedjobs.delete_job, "Cancel a queued job", QUEUED_JOBS,
              "pagemill extension: cancels the job's process (see DELETE /v2/contentConverters/{processId}).",
              response=r.QueuedJob, errors=(404, 409, 480)),
    Operation("DELETE", "/v2/contentConverters/{processId}", conversions.delete_converter,
              "Cancel a conversion process", CONVERSIONS,
              "pagemill extension: queued work is dropped, running jobs stop at their next page and partial "
              'outputs are deleted; the process then reads state "error", errorCode "Cancelled". 409 once it has '
              "ended.", response=r.Process, errors=(404, 409, 480)),
    Operation("GET", "/v2/contentConverters/{processId}/output.zip", conversions.get_output_zip,
              "Download every result as one zip", CONVERSIONS,
              "pagemill extension: the results of a complete process in order (output-0001.png, ...), streamed.",
              response={"application/zip": "binary"}, response_headers=FILE_HEADERS, errors=(404, 409, 410, 480)),
    Operation("POST", "/v2/contentConverters", conversions.post_converter, "Start a conversion process", CONVERSIONS,
              "Validated at once (480 with the JSON path in errorDetails.at); poll the process for its output. "
              "A retry with the same Idempotency-Key and body gets the first process back. dest.header and "
              "dest.footer (pdf and tiff, one source, no pages, no forceOneFilePerPage) add lines of left, center "
              "and right text with {{pageNumber}}, {{pageCount}} and Bates tokens above and below every page. "
              "dest.pdfOptions.ocr makes scans searchable (Tesseract; 480 at ocr.language lists the languages "
              "offered). dest.format svg gives one SVG per page.",
              params=(Param("Idempotency-Key", "Makes retries of this request safe (1-255 characters)",
                            in_="header"),),
              body=ConvertRequest, response=r.Process, response_headers=("Idempotent-Replayed",),
              errors=(409, 413, 429, 480)),
    Operation("POST", "/PCCIS/V1/ViewingSession", sessions.post_session, "Create a viewing session", SESSIONS,
              body=ViewingSessionProperties, response=r.ViewingSessionCreated, errors=(413, 480)),
    Operation("GET", SESSION, sessions.get_session, "Get a viewing session's properties", SESSIONS,
              response=r.ViewingSession, errors=(404,), error_headers=VIEWER_ERRORS),
    Operation("DELETE", SESSION, sessions.delete_session, "Delete a viewing session", SESSIONS,
              "Only sessions with `serverCaching: none` (580 CannotDeleteCachedViewingSession otherwise, as "
              "PrizmDoc); the session's queued rendering is dropped at once.",
              status=204, errors=(404,)),
    Operation("PUT", SESSION + "/SourceFile", sessions.put_source_file, "Provide the session's document", SESSIONS,
              params=(EXTENSION,), body="binary", errors=(404, 413, 480), error_headers=VIEWER_ERRORS),
    Operation("GET", SESSION + "/SourceFile", sessions.get_source_file, "Download the session's document", SESSIONS,
              VIEWER_CREDENTIAL, params=(FILENAME,), response="file", response_headers=FILE_HEADERS, ranges=True,
              errors=(404, 480), error_headers=VIEWER_ERRORS),
    Operation("GET", SESSION + "/Pdf", viewer.get_pdf, "Download the session's document as a PDF", SESSIONS,
              "pagemill extension: the original when it is a PDF, else the PDF LibreOffice made of an office "
              "document (waits, bounded, until it is made); 404 `PdfNotAvailable` for images. " + VIEWER_CREDENTIAL,
              params=(FILENAME,), response={"application/pdf": "binary"}, response_headers=FILE_HEADERS, ranges=True,
              errors=(403, 404, 480, 504), error_headers=VIEWER_ERRORS),
    Operation("PUT", SESSION + "/SourceRef", sessions.put_source_ref, "Use a work file as the session's document",
              SESSIONS, body=SourceRef, errors=(404, 413, 480), error_headers=VIEWER_ERRORS),
    Operation("GET", SESSION + "/FileId", sessions.get_file_id, "The work file behind the session", SESSIONS,
              response=r.FileIdAnswer, errors=(404, 480), error_headers=VIEWER_ERRORS),
    Operation("POST", SESSION + "/Notification/SessionStarted", sessions.post_session_started,
              "The viewer has started: convert now", SESSIONS, body=SessionStarted, body_required=False,
              errors=(404, 413, 480), error_headers=VIEWER_ERRORS),
    Operation("POST", SESSION + "/Notification/SessionStopped", sessions.post_session_stopped, "Stop the session",
              SESSIONS, "Every later request of the session gets the given status and message; its queued "
              "rendering is dropped and running page jobs stop at their next page.",
              body=SessionStopped, body_required=False, errors=(404, 413, 480)),
    Operation("GET", "/PCCIS/V1/Page/q/{page}", viewer.get_page, "A page as an image", VIEWER,
              "Waits (bounded) until the page is rendered. SVG content types answer JSON SvgNotAvailable.",
              params=(DOCUMENT_ID,
                      Param("ContentType", "png (default), jpeg; svg, svga, svgb answer JSON",
                            {"type": "string", "enum": ["png", "jpeg", "jpg", "svg", "svga", "svgb"]}),
                      SCALE, QUALITY),
              response={**IMAGES, "application/json": r.SvgNotAvailable}, ranges=True,
              errors=(403, 404, 480, 504), error_headers=VIEWER_ERRORS),
    Operation("GET", "/PCCIS/V1/Page/q/{page}/Tile/" + "/".join(f"{{{n}:[0-9]{{1,9}}}}" for n in TILE), viewer.get_tile,
              "A region of a page image", VIEWER,
              "x, y, width, height in pixels of the page image at Scale (the page's natural size x Scale, with no "
              "pixel cap: only the tile is drawn); a tile reaching past the page is cut at its edge; width and "
              "height up to 2048. Tiles are cached for 5 minutes.",
              params=(DOCUMENT_ID,
                      Param("ContentType", "png (default) or jpeg", {"type": "string", "enum": ["png", "jpeg", "jpg"]}),
                      SCALE, QUALITY),
              response=IMAGES, ranges=True, errors=(403, 404, 480, 504), error_headers=VIEWER_ERRORS),
    Operation("GET", "/PCCIS/V1/Page/q/{page}/Attributes", viewer.get_page_attributes, "A page's size", VIEWER,
              params=(DOCUMENT_ID, Param("ContentType", "Echoed in contentType")),
              response=r.PageAttributes, errors=(403, 404, 480, 504), error_headers=VIEWER_ERRORS),
    Operation("GET", r"/PCCIS/V1/Page/q/{page}/{width:[0-9]{1,5}}x{height:[0-9]{1,5}}", viewer.get_thumbnail,
              "A thumbnail fitted into width x height (up to 2000)", VIEWER,
              params=(DOCUMENT_ID, Param("ContentType", "png (default) or jpeg (svg types: png)",
                                         {"type": "string", "enum": ["png", "jpeg", "jpg", "svg", "svga", "svgb"]})),
              response=IMAGES, ranges=True, errors=(403, 404, 480, 504), error_headers=VIEWER_ERRORS),
    Operation("GET", "/PCCIS/V1/Document/q/Attributes", viewer.get_document_attributes, "The page count", VIEWER,
              "DesiredPageCountConfidence <= 50 may answer at once with an estimate (confidence 50).",
              params=(DOCUMENT_ID, Param("DesiredPageCountConfidence", "0 to 100 (default 100)",
                                         {"type": "integer", "minimum": 0, "maximum": 100}),
                      Param("IncludePageSizes", "pagemill: add every page's size to the real count",
                            {"type": "boolean"})),
              response=r.DocumentAttributes, errors=(403, 404, 480, 504), error_headers=VIEWER_ERRORS),
    Operation("GET", r"/PCCIS/V1/Document/q/{first:[0-9]{1,9}}-{last:[0-9]{1,9}}/Text", viewer.get_text,
              "The text of pages first..last (0-based, up to 500)", VIEWER,
              "With Positions=characters, every character's box too (for selecting and highlighting text).",
              params=(DOCUMENT_ID, Param("Positions", "characters: add each character's box (`chars`)",
                                         {"type": "string", "enum": ["characters"]})),
              response=r.DocumentText, errors=(403, 404, 480, 504), error_headers=VIEWER_ERRORS),
    Operation("POST", "/v2/searchContexts", search.post_search_context, "Extract the text of a work file", SEARCH,
              "Poll the context until `state` is no longer `processing`; records appear page by page meanwhile.",
              body=SearchContextRequest, response=r.SearchContext, errors=(413, 429, 480)),
    Operation("GET", "/v2/searchContexts/{contextId}", processes.poll(SEARCH_CONTEXT, "contextId"),
              "Poll a search context", SEARCH, response=r.SearchContext, errors=(404, 480), name="getSearchContext"),
    Operation("DELETE", "/v2/searchContexts/{contextId}", search.delete_search_context, "Delete a search context",
              SEARCH, "Stops it if it is still extracting.", status=204, errors=(404, 480)),
    Operation("GET", "/v2/searchContexts/{contextId}/records", search.get_search_context_records,
              "The text of some pages", SEARCH, "Pages extracted so far among those asked for, in page order.",
              params=(Param("pages", '0-based pages: "0-", "3", "2-5" or "1,4-6"', required=True),),
              response=r.SearchRecords, errors=(404, 480)),
    Operation("POST", "/v2/viewingSessions/{sessionId}/searchTasks", search.post_search_task,
              "Search a viewing session's document", SEARCH,
              "Every match of each term's regular expression, with its rectangles; read them with the results route "
              "while the task runs.", body=SearchTaskRequest, response=r.SearchTask, errors=(404, 413, 429, 480)),
    Operation("GET", "/v2/searchTasks/{processId}", processes.poll(SEARCH_TASK), "Poll a search task", SEARCH,
              response=r.SearchTask, errors=(404, 480), name="getSearchTask"),
    Operation("DELETE", "/v2/searchTasks/{processId}", processes.cancel(SEARCH_TASK), "Cancel a search task",
              SEARCH, "409 once it has ended.", response=r.SearchTask, errors=(404, 409, 480),
              name="deleteSearchTask"),
    Operation("GET", "/v2/searchTasks/{processId}/results", search.get_search_task_results,
              "A search task's results so far", SEARCH,
              "Up to `limit` results from `continueToken` on; the answer's continueToken asks for the next ones.",
              params=(Param("limit", "At most this many results (1-1000, default 1000)",
                            {"type": "integer", "minimum": 1, "maximum": 1000}),
                      Param("continueToken", "The continueToken of the previous answer")),
              response=r.SearchResults, errors=(404, 480)),
    Operation("POST", "/v2/redactionCreators", redaction.post_redaction_creator, "Create redactions from rules",
              REDACTION, "Every match of each rule's regular expression becomes a RectangleRedaction (one per match "
              "and line) in a markup JSON work file: output.markupFileId.",
              body=RedactionCreatorRequest, response=r.RedactionCreator, errors=(413, 429, 480)),
    Operation("GET", "/v2/redactionCreators/{processId}", processes.poll(REDACTION_CREATION),
              "Poll a redaction creator", REDACTION, response=r.RedactionCreator, errors=(404, 480),
              name="getRedactionCreator"),
    Operation("POST", "/PCCIS/V1/MarkupBurner", redaction.post_markup_burner, "Burn markup into a document",
              REDACTION, "A PDF with the marks burned in (output.documentFileId): redactions remove what lies under "
              "them (the page is rebuilt as a picture with invisible text for what remains), other marks are drawn.",
              body=MarkupBurnerRequest, response=r.MarkupBurner, errors=(413, 429, 480)),
    Operation("GET", "/PCCIS/V1/MarkupBurner/{processId}", processes.poll(MARKUP_BURNING), "Poll a markup burner",
              REDACTION, response=r.MarkupBurner, errors=(404, 480), name="getMarkupBurner"),
    Operation("POST", "/v2/plainTextRedactors", redaction.post_plain_text_redactor, "Redact a document to text",
              REDACTION, 'The text of every page with what the redactions cover replaced by "<Text Redacted>", '
              "with the requested line endings (output.fileId, a txt work file).",
              body=PlainTextRedactorRequest, response=r.PlainTextRedactor, errors=(413, 429, 480)),
    Operation("GET", "/v2/plainTextRedactors/{processId}", processes.poll(PLAIN_TEXT_REDACTION),
              "Poll a plain-text redactor", REDACTION, response=r.PlainTextRedactor, errors=(404, 480),
              name="getPlainTextRedactor"),
    Operation("GET", "/metrics", metrics.get_metrics, "Prometheus metrics", SERVICE, response={"text/plain": "text"}),
    Operation("GET", "/openapi.json", docs.get_openapi, "This OpenAPI document", SERVICE,
              response=r.OpenApiDocument, stateful=False),
    Operation("GET", "/docs", docs.get_docs, "The API documentation (Swagger UI)", SERVICE,
              response={"text/html": "text"}, stateful=False),
    Operation("GET", "/docs/static/{name}", docs.get_asset, "A file of the documentation page", SERVICE,
              params=(Param("name", "The file", {"type": "string", "enum": sorted(docs.ASSETS)}, "path"),),
              response={media: "binary" for media in sorted(set(docs.ASSETS.values()))}, errors=(404,),
              stateful=False),
    Operation("GET", "/viewer", ui.get_viewer, "The document viewer (a web page)", VIEWER,
              "Shows the session's document in the browser; embed it in an iframe. " + VIEWER_CREDENTIAL,
              params=(Param("session", "The viewing session id"),
                      Param("page", "The page to open (1-based)", INTEGER)),
              response={"text/html": "text"}, stateful=False),
    Operation("GET", "/viewer/static/{name}", ui.get_viewer_asset, "A file of the document viewer", VIEWER,
              params=(Param("name", "The file", {"type": "string", "enum": sorted(ui.ASSETS)}, "path"),),
              response={media: "binary" for media in sorted(set(ui.ASSETS.values()))}, errors=(404,),
              stateful=False),
    Operation("GET", "/PCCIS/V1/Service/Current/Health", health.get_health, "Health: Redis, storage, a worker",
              SERVICE, response={"text/plain": "text"}, responses={500: None}, stateful=False),
    Operation("GET", "/PCCIS/V1/Service/Current/Ready", health.get_ready, "Readiness: the checks of Health, named",
              SERVICE, response=r.Readiness, responses={503: r.Readiness}, stateful=False),
    Operation("GET", "/PCCIS/V1/Service/Current/Info", health.get_info, "Service, versions and worker status",
              SERVICE, response=r.ServiceInfo, stateful=False),
]  # fmt: skip
ROUTES = route_defs(OPERATIONS)
