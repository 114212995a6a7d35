"""Resource ids: random 22-character URL-safe ids, derived ids for idempotent outputs, validation."""

import base64
import hashlib
import re
import secrets

_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_id() -> str:
    """A fresh unguessable id (128 random bits)."""
    return secrets.token_urlsafe(16)


def derive_id(parent: str, tag: str) -> str:
    """A deterministic id for something a job produces, so a re-run overwrites instead of duplicating."""
    digest = hashlib.sha256(f"{parent}\x00{tag}".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def office_pdf_id(tenant: str, sha256: str, password: str | None) -> str:
    """The PDF work file an office document becomes in the source stage (per tenant: no cross-tenant hits)."""
    return derive_id(f"{tenant}\x00{sha256}", f"office-pdf\x00{password or ''}")


def new_affinity_token() -> str:
    """An opaque affinity token shaped like PrizmDoc's (base64 of 32 bytes)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def is_valid_id(value: str) -> bool:
    """True when `value` can be an id: only URL-safe base64 characters, so never a path."""
    return bool(_ID.match(value))
