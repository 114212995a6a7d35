"""The one error map: pagemill's domain exceptions, the errorCode each one stands for, and what the
front door and the jobs do with the infrastructure failures (HTTP status, retry or give up).

Client-caused problems carry their errorCode (`CodedError`) and are never retried; infrastructure
failures are looked up in INFRASTRUCTURE; render-pool failures mean a different errorCode at each
stage (RENDER_STAGES). The human sentence of every errorCode is in schemas/errors.py.
"""

from dataclasses import dataclass
from typing import Literal

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError


class CodedError(Exception):
    """A failure with the errorCode reported to the client; `detail` is for the logs only, `message` (when
    given) is a more precise human sentence for the client than the errorCode's own."""

    def __init__(self, code: str, detail: str = "", message: str | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.message = message


class DocumentError(CodedError):
    """The document cannot be opened or rendered (corrupt, wrong password, a bomb, no such page)."""


class SourceError(CodedError):
    """A viewing session's document (or a watermark image) could not be acquired."""


class QuotaExceeded(CodedError):
    """Storing these bytes would take the tenant past PAGEMILL_TENANT_MAX_BYTES (core/quota.py)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            "QuotaExceeded",
            f"limit {limit}",
            f"this would take the files you store past your quota of {limit} bytes; "
            "delete files you no longer need, or wait for them to expire",
        )
        self.limit = limit


class StorageError(Exception):
    """The storage backend failed (disk full, permissions, ...)."""


class StorageUnavailable(StorageError):
    """The storage cannot be reached right now (connection refused, timeouts, 5xx): retry later."""


class RenderTimeout(Exception):
    """A render-pool call took longer than its timeout; the pool was recycled."""


class RenderCrashed(Exception):
    """A render-pool child died during the call (maybe another call's fault); the pool was recycled."""


# Client-caused CodedErrors raised below the HTTP layer: (HTTP status, errorDetails.at, errorDetails.in).
CLIENT_ERRORS: dict[str, tuple[int, str | None, str]] = {
    "IdempotencyKeyReused": (480, "Idempotency-Key", "header"),
    "IdempotentRequestInProgress": (409, None, "body"),
    "QuotaExceeded": (413, None, "body"),
}


@dataclass(frozen=True)
class Infrastructure:
    """What an infrastructure failure means: on the wire, and to a job."""

    code: str  # the errorCode a request gets
    status: int  # its HTTP status
    retry: bool  # a job that hits it is tried again later (until its last try)
    process_code: str  # the errorCode a process ends with when its job gives up


# Most specific first: the first matching row wins.
INFRASTRUCTURE: tuple[tuple[tuple[type[BaseException], ...], Infrastructure], ...] = (
    ((StorageUnavailable,), Infrastructure("ServiceUnavailable", 503, True, "StorageError")),
    ((StorageError,), Infrastructure("StorageError", 580, False, "StorageError")),
    # ReadOnlyError: the node we reach was demoted to a replica (a failover under way); WatchError: the
    # connection broke inside a WATCH transaction. Both pass once clients reach the new primary.
    ((RedisConnectionError, RedisTimeoutError, ConnectionRefusedError, ReadOnlyError, WatchError),
     Infrastructure("ServiceUnavailable", 503, True, "InternalError")),
    ((OSError,), Infrastructure("InternalError", 580, True, "InternalError")),
)  # fmt: skip


def infrastructure(exc: BaseException) -> Infrastructure | None:
    """The row for an infrastructure failure, or None for anything else."""
    return next((row for kinds, row in INFRASTRUCTURE if isinstance(exc, kinds)), None)


Stage = Literal["open", "page", "assemble"]
# errorCode of a render-pool call that timed out / crashed, by what it was doing.
RENDER_STAGES: dict[Stage, tuple[str, str]] = {
    "open": ("CouldNotOpenDocument", "CouldNotOpenDocument"),
    "page": ("PageRenderTimeout", "PageRenderFailed"),
    "assemble": ("CouldNotAssembleOutput", "CouldNotAssembleOutput"),
}


def render_failure(exc: DocumentError | RenderTimeout | RenderCrashed, stage: Stage) -> str:
    """The errorCode of a failed render-pool call at `stage`."""
    if isinstance(exc, DocumentError):
        return exc.code
    timeout_code, crash_code = RENDER_STAGES[stage]
    return timeout_code if isinstance(exc, RenderTimeout) else crash_code
