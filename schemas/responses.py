"""JSON response bodies as the handlers write them, for the OpenAPI document (not used to serialise)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.converters import ConvertInput
from schemas.redaction import MarkupBurnerInput, PlainTextRedactorInput, RedactionCreatorInput
from schemas.search import SearchContextInput, SearchTaskInput
from schemas.viewing import ViewingSessionProperties

Timestamp = str  # ISO 8601 with milliseconds, e.g. 2015-11-04T19:20:09.280Z


class Closed(BaseModel):
    """A body with exactly these fields (the tests check real answers against it)."""

    model_config = ConfigDict(extra="forbid")


class WorkFileRef(Closed):
    """A work file as PrizmDoc returns it from POST /PCCIS/V1/WorkFile."""

    fileId: str
    fileExtension: str
    affinityToken: str


class WorkFileInfo(WorkFileRef):
    """GET /PCCIS/V1/WorkFile/{fileId}/Info."""

    contentType: str
    size: int
    sha256: str
    creationDateTime: Timestamp
    expirationDateTime: Timestamp


class ResultSource(Closed):
    """Which 1-based pages of which source a result was made from."""

    fileId: str
    pages: str | None = None
    password: str | None = None


class ProcessResult(Closed):
    """One output: a work file with its page count, or the errorCode that prevented it."""

    fileId: str | None = None
    pageCount: int | None = None
    errorCode: str | None = None
    message: str | None = Field(default=None, description="Why this result failed, in a sentence")
    sources: list[ResultSource]


class ProcessOutput(Closed):
    results: list[ProcessResult]


class Process(Closed):
    """A content conversion process (POST and GET /v2/contentConverters)."""

    input: ConvertInput = Field(description="The request's input, normalised (format defaults filled in)")
    processId: str
    expirationDateTime: Timestamp
    state: Literal["processing", "complete", "error"]
    percentComplete: int = Field(ge=0, le=100)
    affinityToken: str | None = None
    errorCode: str | None = Field(default=None, description='Why the process ended in state "error"')
    message: str | None = Field(default=None, description="The errorCode's reason in a sentence (pagemill)")
    output: ProcessOutput | None = Field(default=None, description="Present once the process is final")
    queuedJobId: int | None = Field(default=None, description="This process as a queued job (/api/QueuedJobs/{id})")


class QueuedJob(Closed):
    """GET /api/QueuedJobs/{id}."""

    id: int
    processId: str
    type: Literal[
        "ContentConversion", "SearchContext", "SearchTask", "RedactionCreation", "MarkupBurning", "PlainTextRedaction"
    ]
    status: Literal["InProcess", "Completed", "Failed"]
    state: Literal["processing", "complete", "error"]
    createdOn: Timestamp
    expirationDateTime: Timestamp
    outputFileIds: list[str]
    errorCode: str | None = None


class QueuedJobPage(Closed):
    """GET /api/QueuedJobs: one page of the tenant's jobs, newest first."""

    items: list[QueuedJob]
    page: int
    pageSize: int
    totalCount: int


class ViewingSessionCreated(Closed):
    viewingSessionId: str
    affinityToken: str


class ViewingSession(ViewingSessionProperties):
    """The session's properties as stored (defaults filled in), plus when it was created."""

    creationTime: Timestamp


class FileIdAnswer(Closed):
    fileId: str


class PageAttributes(Closed):
    """Size and resolution of one page, and the document's page count."""

    imageWidth: int
    imageHeight: int
    imageXResolution: int
    imageYResolution: int
    pageCount: int
    isRaster: Literal["true", "false"]
    contentType: str


class SvgNotAvailable(Closed):
    """A page asked for as SVG: pagemill renders raster only, and says so with the page's attributes."""

    errorCode: Literal["SvgNotAvailable"]
    pageAttributes: PageAttributes


class DocumentAttributes(Closed):
    pageCount: int
    pageCountConfidence: Literal[50, 100] = Field(description="50: an estimate; 100: the real count")
    pageSizes: list[list[int]] | None = Field(
        None, description="pagemill, with IncludePageSizes=true: each page's [width, height] in pixels"
    )
    imageResolution: int | None = Field(None, description="pagemill: the dpi of pageSizes (as imageXResolution)")


class PageText(Closed):
    number: int = Field(description="0-based page number")
    text: str
    width: int
    height: int
    chars: list[float] | None = Field(
        default=None,
        description="With Positions=characters: x, y, width, height of every character of `text` (4 numbers "
        "each, index-aligned), in pixels of the page image at scale 1 (width x height); zeros for characters "
        "without geometry (line breaks PDFium inserts)",
    )


class DocumentText(Closed):
    pages: list[PageText]


class UploadSessionId(Closed):
    id: str


class UploadSessionCreated(Closed):
    session: UploadSessionId


class UploadProgress(Closed):
    """After a part: the bytes stored so far (where the next part must start)."""

    session: UploadSessionId
    offset: int


class UploadRights(Closed):
    create_access: bool
    delete_access: bool
    read_access: bool
    write_access: bool


class SavedObject(WorkFileRef):
    """The saved upload: the seed's object fields plus the work file it became."""

    container_id: str
    id: str
    description: str
    size: int
    created: Timestamp
    accessed: Timestamp
    modified: Timestamp
    content_type: str
    extension: str
    effective_rights: UploadRights
    child_count: int
    signed: bool
    indexed: bool
    parent_id: str
    sha256: str


class UploadSaved(Closed):
    object: SavedObject


class Empty(Closed):
    """An empty JSON object."""


class TusUpload(Closed):
    """GET /tus/files/{uploadId} (a pagemill extension): progress, and the work file once complete."""

    uploadId: str
    offset: int
    length: int
    fileId: str | None = None
    fileExtension: str | None = None
    affinityToken: str | None = None


class FileVersion(Closed):
    """One stored version of a named file."""

    name: str
    namespace: str
    version: int
    acl: Literal["PRIVATE"]
    fileSize: str
    file_handle: str
    content_type: str
    s3_token: str
    latest_version: int
    last_modified: str = Field(description="YYYY-MM-DD HH:MM:SS (UTC)")
    s3_url: str


class FileStored(Closed):
    code: Literal[200]
    status: Literal["true"]
    message: str
    file: FileVersion
    secureFilePath: str = Field(description="A signed link that needs no credentials, valid for an hour")


class FileVersions(Closed):
    code: Literal[200]
    status: Literal["true"]
    versions: list[FileVersion]


class FileDeleted(Closed):
    code: Literal[200]
    status: Literal["true"]
    message: str


class ReadyChecks(Closed):
    redis: bool
    storage: bool
    worker: bool


class Readiness(Closed):
    ready: bool
    checks: ReadyChecks


class ChildService(Closed):
    name: str
    serviceStatus: Literal["running", "not running", "unknown"]


class ServiceInstance(Closed):
    serviceStatus: Literal["running", "unhealthy"]
    serviceInstallerVersion: str
    pccisVersion: str
    runtimeVersion: str
    operatingSystem: str
    startTime: Timestamp
    instanceId: str
    childServices: list[ChildService]


class ServiceInfo(Closed):
    serviceStatus: Literal["running", "unhealthy"]
    inputFormats: list[str] = Field(
        description="Source file extensions the running workers read (pagemill's addition)."
    )
    outputFormats: list[str] = Field(description="dest.format values the running workers write (pagemill's addition).")
    licenseStatus: str
    instances: list[ServiceInstance]


class OpenApiDocument(BaseModel):
    """An OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


class ErrorDetails(BaseModel):
    """Where a client error is: the part of the request (`in`), the JSON path or name (`at`), what was expected."""

    model_config = ConfigDict(extra="allow")
    in_: Literal["body", "query", "path", "header"] = Field(alias="in")
    at: str
    expected: Any = None


class Error(BaseModel):
    """The error envelope: PrizmDoc's 480 (with errorDetails) and every other 4xx."""

    model_config = ConfigDict(extra="allow")
    errorCode: str
    errorDetails: ErrorDetails | None = None
    message: str | None = Field(default=None, description="A human explanation")


class ServerError(BaseModel):
    """The envelope of 5xx answers (PrizmDoc's 580, 503, 504)."""

    model_config = ConfigDict(extra="allow")
    errorCode: str
    message: str | None = Field(default=None, description="A human explanation")


class Rectangle(Closed):
    """A rectangle on a displayed page: points from its top-left corner."""

    x: float
    y: float
    width: float
    height: float


class PageData(Closed):
    """The displayed page's size, in the same units as the rectangles (points)."""

    width: float
    height: float


class ProcessBase(Closed):
    """What every process answers (POST, and GET while polling)."""

    processId: str
    expirationDateTime: Timestamp
    state: Literal["processing", "complete", "error"]
    percentComplete: int = Field(ge=0, le=100)
    affinityToken: str | None = None
    errorCode: str | None = Field(default=None, description='Why the process ended in state "error"')
    message: str | None = Field(default=None, description="The errorCode's reason in a sentence (pagemill)")
    queuedJobId: int | None = Field(default=None, description="This process as a queued job (/api/QueuedJobs/{id})")


class SearchContext(ProcessBase):
    """A search context (POST and GET /v2/searchContexts): its id is `contextId`."""

    processId: str | None = None  # type: ignore[assignment]
    contextId: str
    input: SearchContextInput


class SearchRecord(Closed):
    pageIndex: int = Field(description="0-based page number")
    text: str


class SearchRecords(Closed):
    """GET /v2/searchContexts/{contextId}/records: the requested pages extracted so far."""

    pages: list[SearchRecord]


class SearchTaskOutput(Closed):
    limitReached: bool = Field(description="More matches than PAGEMILL_MAX_MATCHES: the task kept the first ones")


class SearchTask(ProcessBase):
    """A search task (POST /v2/viewingSessions/{id}/searchTasks, GET /v2/searchTasks/{processId})."""

    input: SearchTaskInput
    output: SearchTaskOutput | None = None


class SearchResult(Closed):
    """One match."""

    id: int = Field(description="Its position among the task's results")
    pageIndex: int = Field(description="0-based page number")
    searchTermIndex: int = Field(description="Which of input.searchTerms matched")
    startIndexInPage: int = Field(description="Offset of its first character in the page's text (Text route)")
    text: str
    context: str = Field(description="The match with up to 40 characters either side, whitespace collapsed")
    boundingRectangle: Rectangle
    lineRectangles: list[Rectangle] = Field(description="One rectangle per line the match covers")
    pageData: PageData


class SearchResults(Closed):
    """GET /v2/searchTasks/{processId}/results."""

    processId: str
    state: Literal["processing", "complete", "error"]
    percentComplete: int
    errorCode: str | None = None
    limitReached: bool | None = Field(default=None, description="Present (true) once the task stopped at the limit")
    results: list[SearchResult]
    continueToken: str | None = Field(
        default=None, description="Pass it back for the next results; absent once every result was handed out"
    )


class MarkupOutput(Closed):
    markupFileId: str = Field(description="The markup JSON work file")


class RedactionCreator(ProcessBase):
    """A redaction creator (POST and GET /v2/redactionCreators)."""

    input: RedactionCreatorInput
    output: MarkupOutput | None = None


class BurnedOutput(Closed):
    documentFileId: str = Field(description="The PDF with the marks burned in")


class MarkupBurner(ProcessBase):
    """A markup burner (POST and GET /PCCIS/V1/MarkupBurner)."""

    input: MarkupBurnerInput
    output: BurnedOutput | None = None


class TextOutput(Closed):
    fileId: str = Field(description="The redacted text (txt work file)")


class PlainTextRedactor(ProcessBase):
    """A plain-text redactor (POST and GET /v2/plainTextRedactors)."""

    input: PlainTextRedactorInput
    output: TextOutput | None = None
