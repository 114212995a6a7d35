"""Request-time checks of watermark lists that a schema alone cannot make."""

from urllib.parse import urlsplit

from core.ids import is_valid_id
from core.records import Store
from schemas.watermarks import Watermark, missing_property
from service.errors import ApiError, InvalidInput


async def check_watermarks(
    store: Store, marks: list[Watermark], at: str, tenant: str, extra: dict | None = None
) -> None:
    """Required properties per type; image `src` must be a PNG work file or an http(s) URL."""
    for i, mark in enumerate(marks):
        prefix = f"{at}[{i}]"
        missing = missing_property(mark)
        if missing:
            raise ApiError("InvalidInput", at=f"{prefix}.{missing}", message=f"{missing} is required", extra=extra)
        if mark.type != "image" or not mark.src:
            continue
        url = urlsplit(mark.src)
        if url.scheme in ("http", "https") and url.hostname:
            continue
        wf = await store.get_workfile(mark.src, tenant) if is_valid_id(mark.src) else None
        if wf is None or wf.extension != "png":
            raise InvalidInput(f"{prefix}.src", message="a PNG work file id or an http(s) URL of a PNG")
