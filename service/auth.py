"""API keys and tenants: who is calling, read from Acs-Api-Key, Bearer or Basic credentials.

Keys are configured per tenant (PAGEMILL_API_KEYS="tenant:key,..." or a JSON file
{"tenant": ["key", ...]}). With no keys configured the server is open (one anonymous tenant)
and refuses to listen anywhere but loopback.
"""

import base64
import binascii
import ipaddress

import structlog
from aiohttp import web

from core.apikeys import ApiKeys
from core.settings import DEFAULT_PUBLIC_ROUTES
from service.errors import ApiError

log = structlog.get_logger("pagemill.auth")

TENANT = web.RequestKey("tenant", str)
OPEN_TENANT = ""
# Routes anyone may call: health probes, tus discovery and signed download links (the signature is
# the credential); and, unless PAGEMILL_PUBLIC_ROUTES leaves them out, these groups:
PUBLIC_PREFIXES = ("/PCCIS/V1/Service/Current/", "/files/signed/")
OPTIONAL_PUBLIC: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # name -> (exact paths, path prefixes)
    "metrics": (("/metrics",), ()),
    "docs": (("/openapi.json", "/docs"), ("/docs/",)),
}


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


def is_public(method: str, path: str, public: frozenset[str] = DEFAULT_PUBLIC_ROUTES) -> bool:
    """Whether a request needs no key, `public` naming the optional groups that are open (also read by the
    OpenAPI document, with path templates)."""
    if path.startswith(PUBLIC_PREFIXES) or (method == "OPTIONS" and path == "/tus/files"):
        return True
    for name in public:
        paths, prefixes = OPTIONAL_PUBLIC[name]
        if path in paths or path.startswith(prefixes):
            return True
    return False


def unauthorized(message: str) -> ApiError:
    return ApiError(
        "Unauthorized", status=401, message=message,
        headers={"WWW-Authenticate": 'Bearer realm="pagemill", Basic realm="pagemill"'},
    )  # fmt: skip


def authenticate(request: web.Request, keys: ApiKeys, public: frozenset[str] = DEFAULT_PUBLIC_ROUTES) -> None:
    """Set request[TENANT] from the request's credentials, or raise 401."""
    if not keys.enabled:
        request[TENANT] = OPEN_TENANT
        return
    if is_public(request.method, request.path, public):
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
