"""A bound on request bodies being received at once by this front door, in all and per tenant.

Every body holds a connection (and, for uploads, a scratch file) for as long as its client takes to
send it; the idle timeout (service/body.py) bounds how long one body may stall, and this gate bounds
how many may be in flight, so slow senders cannot take every file handle. A request over the bound
is answered at once (503 when the front door is full, 429 when the caller's own share is), before
any of its body is read; aiohttp then drops the connection within its lingering time.
"""

import contextlib
from collections import Counter
from collections.abc import Iterator

from service.errors import ApiError

RETRY_AFTER_S = 2


class BodyGate:
    """Counts bodies in flight; `per_tenant` is None when there is one tenant only (no API keys)."""

    def __init__(self, total: int, per_tenant: int | None) -> None:
        self.total = total
        self.per_tenant = per_tenant
        self.in_flight: Counter[str] = Counter()
        self._count = 0

    @contextlib.contextmanager
    def admit(self, tenant: str) -> Iterator[None]:
        """Hold a place while the body is received and the request handled; ApiError if none is free."""
        if self.per_tenant is not None and self.in_flight[tenant] >= self.per_tenant:
            raise ApiError(
                "TooManyConcurrentUploads",
                status=429,
                headers={"Retry-After": str(RETRY_AFTER_S)},
                message=f"this caller is already sending {self.per_tenant} request bodies to this server at once",
            )
        if self._count >= self.total:
            raise ApiError(
                "ServerBusy",
                status=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
                message=f"this server is receiving {self.total} request bodies at once already",
            )
        self._count += 1
        self.in_flight[tenant] += 1
        try:
            yield
        finally:
            self._count -= 1
            self.in_flight[tenant] -= 1
            if not self.in_flight[tenant]:
                del self.in_flight[tenant]
