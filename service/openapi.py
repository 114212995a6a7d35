"""The OpenAPI 3.1 document of every route, built from the route table and the request models."""

import re
from functools import cache
from typing import Any

from pydantic import BaseModel

from schemas.converters import ConvertRequest
from schemas.viewing import SessionStarted, SessionStopped, SourceRef, ViewingSessionProperties
from service import parts

_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}")

JSON_BODIES: dict[str, type[BaseModel]] = {
    "post_converter": ConvertRequest,
    "post_session": ViewingSessionProperties,
    "put_source_ref": SourceRef,
    "post_session_started": SessionStarted,
    "post_session_stopped": SessionStopped,
    "create_session": parts.CreateSession,
    "save_session": parts.SaveSession,
}
BINARY_BODIES = {"post_workfile", "put_source_file", "put_part", "upload", "patch", "create"}
QUERY: dict[str, dict[str, dict[str, Any]]] = {
    "post_workfile": {"FileExtension": {"type": "string"}, "MinSecondsAvailable": {"type": "integer"}},
    "get_workfile": {"ContentDispositionFilename": {"type": "string"}},
    "put_source_file": {"FileExtension": {"type": "string"}},
    "get_source_file": {"ContentDispositionFilename": {"type": "string"}},
    "get_page": {"DocumentID": {"type": "string"}, "ContentType": {"type": "string"}, "Scale": {"type": "number"},
                 "Quality": {"type": "integer"}},
    "get_page_attributes": {"DocumentID": {"type": "string"}},
    "get_thumbnail": {"DocumentID": {"type": "string"}},
    "get_document_attributes": {"DocumentID": {"type": "string"}, "DesiredPageCountConfidence": {"type": "integer"}},
    "get_text": {"DocumentID": {"type": "string"}},
    "list_jobs": {"page": {"type": "integer"}, "pageSize": {"type": "integer"}, "state": {"type": "string"}},
    "get_output": {"id": {"type": "string"}},
    "download": {"version": {"type": "string"}},
    "delete": {"version": {"type": "string"}},
}  # fmt: skip
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "errorCode": {"type": "string"},
        "errorDetails": {"type": "object"},
        "message": {"type": "string"},
    },
    "required": ["errorCode"],
}


@cache
def openapi_document() -> dict[str, Any]:
    from service.routes import ROUTES  # the route table imports this module's handler too

    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        path = _PLACEHOLDER.sub(r"{\1}", route.path)
        name = route.handler.__name__
        parameters = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in re.findall(r"\{(\w+)\}", path)
        ]
        parameters += [{"name": q, "in": "query", "schema": s} for q, s in QUERY.get(name, {}).items()]
        operation: dict[str, Any] = {
            "operationId": f"{route.handler.__module__.rsplit('.', 1)[-1]}_{name}_{route.method.lower()}",
            "summary": (route.handler.__doc__ or name).strip().splitlines()[0],
            "parameters": parameters,
            "responses": {
                "200": {"description": "Success"},
                "default": {
                    "description": "An error (480/4xx client errors, 580/5xx server errors)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        model = JSON_BODIES.get(name)
        if model is not None:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            ref = {"$ref": f"#/components/schemas/{model.__name__}"}
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
        elif name in BINARY_BODIES and route.method in ("POST", "PUT", "PATCH"):
            binary = {"schema": {"type": "string", "format": "binary"}}
            operation["requestBody"] = {"content": {"application/octet-stream": binary}}
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "pagemill", "version": "0.1.0", "description": "PrizmDoc Server (PCCIS) compatible API"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
