"""What a route is, declared where it is registered: method, path, handler and its OpenAPI contract."""

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A body or response: a pydantic model (JSON), "binary" (bytes of the given media types), "file" (a
# stored file's bytes, served with the file's own media type), "text" (a plain string), "form" (a
# multipart form with a file) or, for several media types at once, a mapping media type -> one of those.
Content = type[BaseModel] | Literal["binary", "file", "text", "form"]
Body = Content | Mapping[str, Content] | None

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer", "minimum": 0}


@dataclass(frozen=True)
class Param:
    """A query, header or path parameter."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: STRING)
    in_: Literal["query", "header", "path"] = "query"
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One route and what OpenAPI says about it.

    `status` is the success status and `response` its body; `responses` adds other non-error answers
    (or error answers that do not use the error envelope, such as a 503 that is a JSON state).
    `errors` are the route's own error statuses: the document adds 580 to every operation, 401 to
    those that need a key, and 503 to those that use Redis or storage (`stateful`).
    `ranges`: the body is a file served with ETag, conditional requests and Range (206/304/416).
    """

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Body = None
    body_required: bool = True
    status: int = 200
    response: Body = None
    response_headers: tuple[str, ...] = ()
    responses: Mapping[int, Body] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    error_headers: tuple[str, ...] = ()
    ranges: bool = False
    stateful: bool = True
    name: str = ""  # the operationId; derived from the handler's name when empty

    @property
    def operation_id(self) -> str:
        if self.name:
            return self.name
        head, *rest = self.handler.__name__.strip("_").split("_")
        return head + "".join(word.capitalize() for word in rest)

    @property
    def template(self) -> str:
        """The path as OpenAPI writes it: `{width:[0-9]{1,5}}` becomes `{width}`."""
        return PLACEHOLDER.sub(r"{\1}", self.path)

    def path_patterns(self) -> dict[str, str | None]:
        """Each path placeholder and its aiohttp regex, if it has one."""
        return {m.group(1): m.group(2) for m in PLACEHOLDER.finditer(self.path)}


PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*(?:\{[^{}]*\}[^{}]*)*))?\}")


def route_defs(operations: list[Operation]) -> list[web.RouteDef]:
    """The aiohttp routes: a GET also answers HEAD unless the path declares its own HEAD."""
    heads = {op.path for op in operations if op.method == "HEAD"}
    return [
        web.get(op.path, op.handler, allow_head=op.path not in heads)
        if op.method == "GET"
        else web.route(op.method, op.path, op.handler)
        for op in operations
    ]
