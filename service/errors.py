"""The error hierarchy and the one middleware that turns exceptions into HTTP responses.

PCCIS conventions: 480 + {errorCode, errorDetails:{in, at, expected}} for client errors,
580 + {errorCode} for server-side failures. Tracebacks are logged, never sent.
"""

import asyncio
import re
from typing import Any

import structlog
from aiohttp import ClientPayloadError, web

from core.errors import CLIENT_ERRORS, CodedError, infrastructure
from schemas.errors import message_for

log = structlog.get_logger("pagemill.http")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def header_safe(text: str) -> str:
    """Text for a header or reason phrase: ASCII, no control characters (client text can hold CR/LF or NUL)."""
    return _CONTROL.sub(" ", text.encode("ascii", "replace").decode())


class ApiError(Exception):
    """An error with a wire representation."""

    status = 480
    headers: dict[str, str] | None = None

    def __init__(
        self,
        error_code: str,
        *,
        at: str | None = None,
        in_: str = "body",
        expected: Any = None,
        message: str | None = None,
        extra: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(error_code)
        self.error_code = error_code
        self.at = at
        self.in_ = in_
        self.expected = expected
        self.message = message
        self.extra = extra or {}
        if status is not None:
            self.status = status
        if headers is not None:
            self.headers = {name: header_safe(value) for name, value in headers.items()}
        self.reason = header_safe(reason) if reason is not None else None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {**self.extra, "errorCode": self.error_code}
        if self.at is not None:
            details: dict[str, Any] = {"in": self.in_, "at": self.at}
            if self.expected is not None:
                details["expected"] = self.expected
            body["errorDetails"] = details
        body["message"] = self.message or message_for(self.error_code)
        return body


class InvalidInput(ApiError):
    """480 InvalidInput at a JSON path, query parameter or header."""

    def __init__(self, at: str, *, in_: str = "body", expected: Any = None, message: str | None = None):
        super().__init__("InvalidInput", at=at, in_=in_, expected=expected, message=message)


class NotFound(ApiError):
    """404 for a resource that does not exist (or has expired)."""

    status = 404


class PayloadTooLarge(ApiError):
    """413 when a body exceeds its configured limit."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__("RequestBodyTooLarge", message=f"the body exceeds the limit of {limit} bytes")


class ServerError(ApiError):
    """580 for a failure on our side."""

    status = 580


class ViewerError(ApiError):
    """An error on a viewer route: status plus Accusoft-Status-Number/-Message headers."""

    def __init__(self, status: int, error_code: str, number: int, message: str) -> None:
        super().__init__(
            error_code,
            message=message,
            status=status,
            headers={"Accusoft-Status-Number": str(number), "Accusoft-Status-Message": message},
        )


def json_error(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None, reason: str | None = None
) -> web.Response:
    """A JSON error; every envelope carries a human `message` beside its errorCode."""
    body.setdefault("message", message_for(body["errorCode"]))
    return web.json_response(body, status=status, headers=headers, reason=reason)


def error_response(exc: Exception) -> web.StreamResponse:
    """The JSON error response for any exception; unknown ones become 580 InternalError.

    The one place where exceptions become HTTP (called by the front door's middleware)."""
    try:
        raise exc
    except ApiError as exc:
        if exc.status >= 500:
            log.warning("request_failed", error_code=exc.error_code)
        return json_error(exc.status, exc.body(), exc.headers, exc.reason)
    except CodedError as exc:
        status, at, in_ = CLIENT_ERRORS.get(exc.code, (480, None, "body"))
        return json_error(status, ApiError(exc.code, at=at, in_=in_, message=exc.message).body())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestBodyTooLarge"}.get(
            exc.status, exc.reason.replace(" ", "")
        )
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return json_error(exc.status, {"errorCode": code}, headers)
    except (ClientPayloadError, asyncio.IncompleteReadError, ConnectionResetError) as exc:
        # The client went away mid-body: nothing to answer, nothing to alarm anyone about.
        log.info("client_disconnected", error=str(exc) or type(exc).__name__)
        return json_error(400, {"errorCode": "IncompleteBody"})
    except Exception as exc:
        found = infrastructure(exc)
        if found is None:
            log.exception("unhandled_exception")
            return json_error(580, {"errorCode": "InternalError"})
        log.error("infrastructure_failed", error=str(exc) or type(exc).__name__, error_code=found.code)
        return json_error(
            found.status, {"errorCode": found.code}, {"Retry-After": "5"} if found.status == 503 else None
        )
