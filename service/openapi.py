"""The OpenAPI 3.1 document, generated from the same operations the router is built from."""

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel

from core.settings import DEFAULT_PUBLIC_ROUTES
from schemas.responses import Error, ServerError
from service.auth import is_public
from service.operation import STRING, Body, Content, Operation, Param

TAGS = {
    "Work files": "Upload, download and delete work files (PrizmDoc's Work File API).",
    "Uploads": "Large uploads in sequential parts (Content-Range), saved as a work file.",
    "tus": "tus 1.0.0 resumable uploads; a finished upload becomes a work file.",
    "File service": "Named files in namespaces, every upload a new version; signed download links.",
    "Conversions": "Content conversion processes (PrizmDoc's /v2/contentConverters).",
    "Queued jobs": "Every conversion process as a numbered job: list them, fetch their output.",
    "Viewing sessions": "Viewing sessions: create, provide the document, notifications.",
    "Viewer": "pagemill's browser viewer (/viewer) and what a viewer asks for: pages, thumbnails, attributes, "
    "text. A request without a key that names a viewing session is that session's (the session id is the "
    "credential) unless PAGEMILL_VIEWER_REQUIRES_KEY=true.",
    "Search": "Search contexts (every page's text) and search tasks (matches with rectangles, paged).",
    "Redaction": "Redaction creators (regex rules to markup), markup burners and plain-text redactors.",
    "Service": "Health, readiness, information, metrics and this documentation.",
}
_INT = {"type": "integer"}
HEADERS: dict[str, tuple[str, Mapping[str, Any]]] = {
    "X-Request-Id": ("The request's id (the client's own when it sent a sane one), also on every log line", STRING),
    "Retry-After": ("Seconds to wait before trying again", _INT),
    "WWW-Authenticate": ("The accepted schemes: Bearer and Basic (or send Acs-Api-Key)", STRING),
    "Accusoft-Status-Number": ("PrizmDoc's number for this viewer error", _INT),
    "Accusoft-Status-Message": ("PrizmDoc's message for this viewer error", STRING),
    "ETag": ("The entity tag, for If-None-Match", STRING),
    "Last-Modified": ("When the bytes were stored, for If-Modified-Since", STRING),
    "Accept-Ranges": ("bytes: Range requests are supported", STRING),
    "Content-Range": ("The byte range in this partial answer (or `bytes */size` with 416)", STRING),
    "Content-Disposition": ("attachment; filename=... (with filename* for non-ASCII names)", STRING),
    "Idempotent-Replayed": ("true when this answer is the process an earlier request with this key made", STRING),
    "Location": ("Where the new upload lives", STRING),
    "Pagemill-File-Id": ("The work file the upload became, once it is complete", STRING),
    "Tus-Resumable": ("The tus protocol version: 1.0.0", STRING),
    "Tus-Version": ("The tus versions this server speaks", STRING),
    "Tus-Extension": ("The tus extensions this server supports", STRING),
    "Tus-Max-Size": ("The largest upload accepted, in bytes", _INT),
    "Tus-Checksum-Algorithm": ("The algorithms Upload-Checksum may use", STRING),
    "Upload-Offset": ("The bytes received so far", _INT),
    "Upload-Length": ("The upload's total size in bytes", _INT),
    "Upload-Metadata": ("The metadata given at creation", STRING),
    "Upload-Expires": ("When an unfinished upload is forgotten (HTTP date)", STRING),
}
STATUS = {
    200: "OK",
    201: "Created",
    204: "No content",
    206: "Partial content: the byte range the Range header asked for",
    304: "Not modified: If-None-Match or If-Modified-Since matched",
    400: "A malformed header or upload chunk",
    401: "No valid API key (send Acs-Api-Key, Authorization: Bearer or Basic)",
    403: "Forbidden (an expired or unknown session or link)",
    404: "No such resource (unknown, expired, or another tenant's)",
    409: "Conflict with the resource's current state",
    410: "Gone: the resource has expired",
    411: "Content-Length is required",
    412: "Precondition failed (tus: an unsupported Tus-Resumable version)",
    413: "The body is larger than the configured limit, or than the tenant's storage quota allows",
    415: "Unsupported Content-Type",
    416: "Range not satisfiable",
    423: "Locked: another request is writing this upload",
    429: "Too many queued jobs, or too many of the caller's bodies in flight: retry after Retry-After seconds",
    460: "Checksum mismatch",
    480: "Invalid input (PrizmDoc client error): errorDetails says where",
    500: "Unhealthy",
    503: "Redis or storage is unreachable, or too many bodies in flight: retry after Retry-After seconds",
    504: "Not ready in time: retry",
    580: "A failure on the server's side (PrizmDoc server error)",
}
STATUS_HEADERS = {401: ("WWW-Authenticate",), 429: ("Retry-After",), 503: ("Retry-After",)}
SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "Acs-Api-Key", "description": "A tenant's API key"},
    "Bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
    "Basic": {"type": "http", "scheme": "basic", "description": "HTTP Basic: password = API key, user = tenant"},
}
REQUEST_ID = Param(
    "X-Request-Id", "An id for this request (1-128 of A-Z a-z 0-9 . _ -), echoed back and logged", in_="header"
)
_BINARY = {"type": "string", "format": "binary"}
_FORM = {"type": "object", "properties": {"file": {**_BINARY, "description": "The file (the first file part is read)"}}}


@cache
def model_schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's JSON schema with references into components, and the definitions it uses."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return schema, defs


class _Document:
    """Collects component schemas while operations are turned into path items."""

    def __init__(self, public: frozenset[str]) -> None:
        self.schemas: dict[str, Any] = {}
        self.public = public

    def ref(self, model: type[BaseModel]) -> dict[str, str]:
        schema, defs = model_schema(model)
        for name, sub in [*defs.items(), (model.__name__, schema)]:
            if self.schemas.setdefault(name, sub) != sub:
                raise ValueError(f"two different schemas are named {name}")
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def _media(self, content: Content) -> dict[str, Any]:
        if content in ("binary", "file"):
            return {"schema": _BINARY}
        if content == "text":
            return {"schema": STRING}
        if content == "form":
            return {"schema": _FORM}
        return {"schema": self.ref(content)}

    def content(self, body: Body) -> dict[str, Any]:
        if isinstance(body, Mapping):
            return {media: self._media(c) for media, c in body.items()}
        if body == "binary":
            return {"application/octet-stream": {"schema": _BINARY}}
        if body == "file":  # served with the file's own media type (application/pdf, image/png, ...)
            return {"*/*": {"schema": _BINARY}}
        if body == "text":
            return {"text/plain": {"schema": STRING}}
        assert body is not None
        return {"application/json": self._media(body)}

    def response(self, status: int, body: Body, headers: Sequence[str]) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "description": STATUS[status],
            "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in ("X-Request-Id", *headers)},
        }
        if body is not None:
            answer["content"] = self.content(body)
        return answer

    def operation(self, op: Operation) -> dict[str, Any]:
        if op.tag not in TAGS:
            raise ValueError(f"{op.method} {op.path}: unknown tag {op.tag!r}")
        out: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters(op),
        }
        if op.description:
            out["description"] = op.description
        if op.body is not None:
            out["requestBody"] = {"required": op.body_required, "content": self.content(op.body)}
        responses = {op.status: self.response(op.status, op.response, op.response_headers)}
        if op.ranges:
            file_headers = ("ETag", "Last-Modified", "Accept-Ranges", "Content-Disposition")
            responses[op.status]["headers"].update(self.response(200, None, file_headers)["headers"])
            responses[206] = self.response(206, op.response, ("Content-Range", *file_headers))
            responses[304] = self.response(304, None, ("ETag",))
            responses[416] = self.response(416, None, ("Content-Range",))
        for status, body in op.responses.items():
            responses[status] = self.response(status, body, op.response_headers if status < 400 else ())
        secured = not is_public(op.method, op.template, self.public)
        errors = {*op.errors, 580} | ({401} if secured else set()) | ({503} if op.stateful else set())
        if op.body is not None:  # service/gate.py: too many bodies in flight (the caller's, or the server's)
            errors |= {429, 503}
        for status in sorted(errors - responses.keys()):
            envelope = ServerError if status >= 500 else Error
            headers = (*STATUS_HEADERS.get(status, ()), *op.error_headers)
            responses[status] = self.response(status, {"application/json": envelope}, headers)
        out["responses"] = {str(status): responses[status] for status in sorted(responses)}
        if not secured:
            out["security"] = []
        return out


def _parameter(p: Param, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": p.name, "in": p.in_, "description": p.description, "required": p.required, "schema": dict(schema)}


def parameters(op: Operation) -> list[dict[str, Any]]:
    """Path parameters (every placeholder, with its regex as a pattern), then the declared ones."""
    declared = {(p.in_, p.name): p for p in op.params}
    out = []
    for name, pattern in op.path_patterns().items():
        p = declared.pop(("path", name), None) or Param(name, f"The {name}", in_="path")
        schema = {**p.schema, **({"pattern": f"^{pattern}$"} if pattern else {})}
        out.append(_parameter(Param(p.name, p.description, in_="path", required=True), schema))
    for p in declared.values():
        if p.in_ == "path":
            raise ValueError(f"{op.method} {op.path} has no path parameter {p.name}")
        out.append(_parameter(p, p.schema))
    out.append({"$ref": "#/components/parameters/X-Request-Id"})
    return out


def openapi_document(operations: Sequence[Operation], public: frozenset[str] = DEFAULT_PUBLIC_ROUTES) -> dict[str, Any]:
    """The document of `operations` (`public`: the optional route groups open without a key); raises
    ValueError on duplicate operation ids or routes."""
    doc = _Document(public)
    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for op in operations:
        if op.operation_id in seen:
            raise ValueError(f"duplicate operationId {op.operation_id}")
        seen.add(op.operation_id)
        item = paths.setdefault(op.template, {})
        if op.method.lower() in item:
            raise ValueError(f"{op.method} {op.template} is declared twice")
        item[op.method.lower()] = doc.operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pagemill",
            "version": "0.1.0",
            "description": "A self-hosted document processing server speaking the PrizmDoc Server (PCCIS) REST API.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "security": [{name: []} for name in SECURITY_SCHEMES],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(doc.schemas.items())),
            "parameters": {REQUEST_ID.name: _parameter(REQUEST_ID, STRING)},
            "headers": {name: {"description": text, "schema": dict(s)} for name, (text, s) in HEADERS.items()},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
