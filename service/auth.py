"""API keys and tenants: who is calling, read from Acs-Api-Key, Bearer or Basic credentials.

Keys are configured per tenant (PAGEMILL_API_KEYS="tenant:key,..." or a JSON file
{"tenant": ["key", ...]}). With no keys configured the server is open (one anonymous tenant)
and refuses to listen anywhere but loopback.
"""

import base64
import binascii
import ipaddress
import json
import re
from dataclasses import dataclass

import structlog
from aiohttp import web

from core import keyspace
from core.apikeys import ApiKeys
from core.sessions import SessionStore
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

# The browser viewer (GET /viewer and its files) and the routes a viewing session's viewer calls. A
# request without credentials that names a session on one of these routes acts as that session's
# tenant: the session id (512 random bits) is its credential, as with PrizmDoc's viewer. It opens
# nothing else, not even the session's properties (they may hold the document's password).
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
NO_TENANT = "\x00"  # the tenant of a keyless request naming an unknown session: nothing belongs to it
VIEWER_PAGE_PATHS = ("/viewer",)
VIEWER_PAGE_PREFIXES = ("/viewer/static/",)
_DOCUMENT_ROUTES = re.compile(r"^/PCCIS/V1/(?:Page|Document)/q/")
_SESSION_ROUTES = re.compile(r"^/PCCIS/V1/ViewingSession/u([^/]*)/(?:SourceFile|Pdf)$")
_SEARCH_START = re.compile(r"^/v2/viewingSessions/([^/]*)/searchTasks$")  # POST
_SEARCH_READ = re.compile(r"^/v2/searchTasks/([A-Za-z0-9_-]{16,64})(?:/results)?$")  # GET, with DocumentID


@dataclass(frozen=True)
class Claim:
    """What a keyless viewer request names: a session, and the search task of that session it reads."""

    session_id: str
    process_id: str | None = None


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


def document_session(raw: str) -> str | None:
    """The session id in a DocumentID: "u" + the id, or "e" + its (URL-safe) base64; None if malformed."""
    if raw[:1] == "u":
        value = raw[1:]
    elif raw[:1] == "e":
        try:
            encoded = raw[1:].replace("-", "+").replace("_", "/")
            value = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode()
        except ValueError:  # not base64 (non-ASCII included), or not UTF-8
            return None
    else:
        return None
    return value if SESSION_ID.match(value) else None


def is_viewer_page(path: str) -> bool:
    return path in VIEWER_PAGE_PATHS or path.startswith(VIEWER_PAGE_PREFIXES)


def session_claim(request: web.Request) -> Claim | None:
    """The viewing session (and search task) named by a request to one of that session's viewer routes
    (None: not such a request, or no well-formed id in it). A search task is read with its session's
    DocumentID beside its process id: the task must be that session's."""
    path = request.path
    if request.method == "POST":
        match = _SEARCH_START.match(path)
        return Claim(match.group(1)) if match and SESSION_ID.match(match.group(1)) else None
    if request.method not in ("GET", "HEAD"):
        return None
    if match := _SESSION_ROUTES.match(path):
        return Claim(match.group(1)) if SESSION_ID.match(match.group(1)) else None
    session_id = document_session(request.query.get("DocumentID", ""))
    if session_id is None:
        return None
    if _DOCUMENT_ROUTES.match(path):
        return Claim(session_id)
    if match := _SEARCH_READ.match(path):
        return Claim(session_id, match.group(1))
    return None


async def claimed_tenant(views: SessionStore, claim: Claim) -> str:
    """The tenant a keyless viewer request acts as: its session's, when the session exists (and the
    search task it reads belongs to that session); else NO_TENANT, which owns nothing."""
    tenant = await views.tenant(claim.session_id)
    if tenant is None:
        return NO_TENANT
    if claim.process_id is not None:
        kind, params = await views.redis.hmget(keyspace.process(claim.process_id), ["type", "params"])
        try:
            owner = json.loads(params).get("sessionId") if params else None
        except (ValueError, AttributeError):
            owner = None
        if kind != b"SearchTask" or owner != claim.session_id:
            return NO_TENANT
    return tenant


def unauthorized(message: str) -> ApiError:
    return ApiError(
        "Unauthorized", status=401, message=message,
        headers={"WWW-Authenticate": 'Bearer realm="pagemill", Basic realm="pagemill"'},
    )  # fmt: skip


def authenticate(
    request: web.Request,
    keys: ApiKeys,
    public: frozenset[str] = DEFAULT_PUBLIC_ROUTES,
    viewer_requires_key: bool = False,
) -> Claim | None:
    """Set request[TENANT] from the request's credentials, or raise 401. Returns what a keyless viewer
    request names: its caller then sets request[TENANT] with `claimed_tenant`."""
    if not keys.enabled:
        request[TENANT] = OPEN_TENANT
        return None
    if is_public(request.method, request.path, public):
        request[TENANT] = OPEN_TENANT
        return None
    keyless = "Acs-Api-Key" not in request.headers and "Authorization" not in request.headers
    if keyless and not viewer_requires_key:
        if is_viewer_page(request.path):
            request[TENANT] = OPEN_TENANT
            return None
        if (claim := session_claim(request)) is not None:
            request[TENANT] = NO_TENANT  # until the caller has found the session's own tenant
            return claim
    key, claimed = credentials(request)
    tenant = keys.tenant(key) if key else None
    if tenant is None or (claimed is not None and claimed != tenant):
        raise unauthorized("a valid API key is required (Acs-Api-Key, Bearer or Basic)")
    request[TENANT] = tenant
    return None


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
