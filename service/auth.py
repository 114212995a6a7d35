"""API keys and tenants: who is calling, read from Acs-Api-Key, Bearer or Basic credentials.

Keys are configured per tenant (PAGEMILL_API_KEYS="tenant:key,..." or a JSON file
{"tenant": ["key", ...]}). With no keys configured the server is open (one anonymous tenant)
and refuses to listen anywhere but loopback.
"""

import base64
import binascii
import hashlib
import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path

import structlog
from aiohttp import web

from service.errors import ApiError

log = structlog.get_logger("pagemill.auth")

TENANT = web.RequestKey("tenant", str)
OPEN_TENANT = ""
# Routes anyone may call: health probes, tus discovery, signed download links (the signature is
# the credential), and the API's documentation.
PUBLIC_PREFIXES = ("/PCCIS/V1/Service/Current/", "/metrics", "/files/signed/", "/docs/")
PUBLIC_PATHS = ("/openapi.json", "/docs")


class ApiKeyConfigError(ValueError):
    """The key configuration is malformed."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """Key -> tenant, compared by digest so lookups take the same time for every key."""

    def __init__(self, tenants: Mapping[str, list[str]]) -> None:
        self._by_digest = {_digest(k): t for t, keys in tenants.items() for k in keys}

    @property
    def enabled(self) -> bool:
        return bool(self._by_digest)

    def tenant(self, key: str) -> str | None:
        return self._by_digest.get(_digest(key))

    def __repr__(self) -> str:
        return f"ApiKeys({len(set(self._by_digest.values()))} tenants, {len(self._by_digest)} keys)"

    @classmethod
    def parse(cls, inline: str | None, file: Path | None) -> "ApiKeys":
        tenants: dict[str, list[str]] = {}
        if inline:
            for pair in filter(None, (p.strip() for p in inline.split(","))):
                tenant, sep, key = pair.partition(":")
                if not sep or not tenant or len(key) < 8:
                    raise ApiKeyConfigError(
                        f"PAGEMILL_API_KEYS entries are tenant:key with keys of 8+ characters ({tenant!r})"
                    )
                tenants.setdefault(tenant, []).append(key)
        if file:
            data = json.loads(file.read_text())
            if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
                raise ApiKeyConfigError(f'{file} must hold {{"tenant": ["key", ...]}}')
            for tenant, keys in data.items():
                tenants.setdefault(tenant, []).extend(str(k) for k in keys)
        return cls(tenants)


def credentials(request: web.Request) -> tuple[str | None, str | None]:
    """(key, claimed tenant) from Acs-Api-Key, Authorization: Bearer or Authorization: Basic."""
    if key := request.headers.get("Acs-Api-Key"):
        return key.strip(), None
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), None
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return password, user or None
    return None, None


def is_public(method: str, path: str) -> bool:
    """Whether a request needs no key (also read by the OpenAPI document, with path templates)."""
    return path.startswith(PUBLIC_PREFIXES) or path in PUBLIC_PATHS or (method == "OPTIONS" and path == "/tus/files")


def unauthorized(message: str) -> ApiError:
    return ApiError(
        "Unauthorized", status=401, message=message,
        headers={"WWW-Authenticate": 'Bearer realm="pagemill", Basic realm="pagemill"'},
    )  # fmt: skip


def authenticate(request: web.Request, keys: ApiKeys) -> None:
    """Set request[TENANT] from the request's credentials, or raise 401."""
    if not keys.enabled:
        request[TENANT] = OPEN_TENANT
        return
    if is_public(request.method, request.path):
        request[TENANT] = OPEN_TENANT
        return
    key, claimed = credentials(request)
    tenant = keys.tenant(key) if key else None
    if tenant is None or (claimed is not None and claimed != tenant):
        raise unauthorized("a valid API key is required (Acs-Api-Key, Bearer or Basic)")
    request[TENANT] = tenant


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
