"""JSON response bodies as the handlers write them, for the OpenAPI document (not used to serialise)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.converters import ConvertInput
from schemas.viewing import ViewingSessionProperties

_CLOSED = ConfigDict(extra="forbid")
Timestamp = str  # ISO 8601 with milliseconds, e.g. 2015-11-04T19:20:09.280Z


class WorkFileRef(BaseModel):
    """A work file as PrizmDoc returns it from POST /PCCIS/V1/WorkFile."""

    model_config = _CLOSED
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


class ResultSource(BaseModel):
    """Which 1-based pages of which source a result was made from."""

    model_config = _CLOSED
    fileId: str
    pages: str | None = None
    password: str | None = None


class ProcessResult(BaseModel):
    """One output: a work file with its page count, or the errorCode that prevented it."""

    model_config = _CLOSED
    fileId: str | None = None
    pageCount: int | None = None
    errorCode: str | None = None
    sources: list[ResultSource]


class ProcessOutput(BaseModel):
    model_config = _CLOSED
    results: list[ProcessResult]


class Process(BaseModel):
    """A content conversion process (POST and GET /v2/contentConverters)."""

    model_config = _CLOSED
    input: ConvertInput = Field(description="The request's input, normalised (format defaults filled in)")
    processId: str
    expirationDateTime: Timestamp
    state: Literal["processing", "complete", "error"]
    percentComplete: int = Field(ge=0, le=100)
    affinityToken: str | None = None
    errorCode: str | None = Field(default=None, description='Why the process ended in state "error"')
    output: ProcessOutput | None = Field(default=None, description="Present once the process is final")
    queuedJobId: int | None = Field(default=None, description="This process as a queued job (/api/QueuedJobs/{id})")


class QueuedJob(BaseModel):
    """GET /api/QueuedJobs/{id}."""

    model_config = _CLOSED
    id: int
    processId: str
    type: Literal["ContentConversion"]
    status: Literal["InProcess", "Completed", "Failed"]
    state: Literal["processing", "complete", "error"]
    createdOn: Timestamp
    expirationDateTime: Timestamp
    outputFileIds: list[str]
    errorCode: str | None = None


class QueuedJobPage(BaseModel):
    """GET /api/QueuedJobs: one page of the tenant's jobs, newest first."""

    model_config = _CLOSED
    items: list[QueuedJob]
    page: int
    pageSize: int
    totalCount: int


class ViewingSessionCreated(BaseModel):
    model_config = _CLOSED
    viewingSessionId: str
    affinityToken: str


class ViewingSession(ViewingSessionProperties):
    """The session's properties as stored (defaults filled in), plus when it was created."""

    creationTime: Timestamp


class FileIdAnswer(BaseModel):
    model_config = _CLOSED
    fileId: str


class PageAttributes(BaseModel):
    """Size and resolution of one page, and the document's page count."""

    model_config = _CLOSED
    imageWidth: int
    imageHeight: int
    imageXResolution: int
    imageYResolution: int
    pageCount: int
    isRaster: Literal["true", "false"]
    contentType: str


class SvgNotAvailable(BaseModel):
    """A page asked for as SVG: pagemill renders raster only, and says so with the page's attributes."""

    model_config = _CLOSED
    errorCode: Literal["SvgNotAvailable"]
    pageAttributes: PageAttributes


class DocumentAttributes(BaseModel):
    model_config = _CLOSED
    pageCount: int
    pageCountConfidence: Literal[50, 100] = Field(description="50: an estimate; 100: the real count")


class PageText(BaseModel):
    model_config = _CLOSED
    number: int = Field(description="0-based page number")
    text: str
    width: int
    height: int


class DocumentText(BaseModel):
    model_config = _CLOSED
    pages: list[PageText]


class UploadSessionId(BaseModel):
    model_config = _CLOSED
    id: str


class UploadSessionCreated(BaseModel):
    model_config = _CLOSED
    session: UploadSessionId


class UploadProgress(BaseModel):
    """After a part: the bytes stored so far (where the next part must start)."""

    model_config = _CLOSED
    session: UploadSessionId
    offset: int


class UploadRights(BaseModel):
    model_config = _CLOSED
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


class UploadSaved(BaseModel):
    model_config = _CLOSED
    object: SavedObject


class Empty(BaseModel):
    """An empty JSON object."""

    model_config = _CLOSED


class TusUpload(BaseModel):
    """GET /tus/files/{uploadId} (a pagemill extension): progress, and the work file once complete."""

    model_config = _CLOSED
    uploadId: str
    offset: int
    length: int
    fileId: str | None = None
    fileExtension: str | None = None
    affinityToken: str | None = None


class FileVersion(BaseModel):
    """One stored version of a named file."""

    model_config = _CLOSED
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


class FileStored(BaseModel):
    model_config = _CLOSED
    code: Literal[200]
    status: Literal["true"]
    message: str
    file: FileVersion
    secureFilePath: str = Field(description="A signed link that needs no credentials, valid for an hour")


class FileVersions(BaseModel):
    model_config = _CLOSED
    code: Literal[200]
    status: Literal["true"]
    versions: list[FileVersion]


class FileDeleted(BaseModel):
    model_config = _CLOSED
    code: Literal[200]
    status: Literal["true"]
    message: str


class ReadyChecks(BaseModel):
    model_config = _CLOSED
    redis: bool
    storage: bool
    worker: bool


class Readiness(BaseModel):
    model_config = _CLOSED
    ready: bool
    checks: ReadyChecks


class ChildService(BaseModel):
    model_config = _CLOSED
    name: str
    serviceStatus: Literal["running", "not running", "unknown"]


class ServiceInstance(BaseModel):
    model_config = _CLOSED
    serviceStatus: Literal["running", "unhealthy"]
    serviceInstallerVersion: str
    pccisVersion: str
    runtimeVersion: str
    operatingSystem: str
    startTime: Timestamp
    instanceId: str
    childServices: list[ChildService]


class ServiceInfo(BaseModel):
    model_config = _CLOSED
    serviceStatus: Literal["running", "unhealthy"]
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
