"""Settings read once from the environment, validated all at once."""

import base64
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.apikeys import ApiKeyConfigError, ApiKeys


class SettingsError(ValueError):
    """One or more environment variables are invalid; the message lists every problem."""


def _redact(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_boolean.__name__ = "boolean"

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ADDRESSING = ("auto", "path", "virtual")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_SECRETS = (  # never echoed
    "PAGEMILL_SIGNING_KEY",
    "PAGEMILL_WEBHOOK_SECRET",
    "PAGEMILL_S3_SECRET_ACCESS_KEY",
    "PAGEMILL_REDIS_PASSWORD",
    "PAGEMILL_REDIS_SENTINEL_PASSWORD",
)
_PREFIX = re.compile(r"^([A-Za-z0-9_-]+/)*$")


def _key_prefix(raw: str) -> str:
    return raw.strip("/") + "/" if raw.strip("/") else ""


_key_prefix.__name__ = "key prefix"


def _is_webhook_secret(raw: str) -> bool:
    """Standard Webhooks' secret form: whsec_ + base64 of 24 to 64 bytes."""
    try:
        key = base64.b64decode(raw.removeprefix("whsec_"), validate=True)
    except ValueError:
        return False
    return raw.startswith("whsec_") and 24 <= len(key) <= 64


def _origins(raw: str) -> tuple[str, ...]:
    """`*`, or origins like https://app.example.com separated by commas."""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path):
            raise ValueError(origin)
    return origins


_origins.__name__ = "list of origins (scheme://host[:port], or *)"


DEFAULT_MAX_CONCURRENT_UPLOADS = 256
PUBLIC_ROUTE_GROUPS = ("metrics", "docs")  # routes that may be opened to callers without a key
DEFAULT_PUBLIC_ROUTES = frozenset(PUBLIC_ROUTE_GROUPS)


def _public_routes(raw: str) -> frozenset[str]:
    """`none`, or some of metrics, docs separated by commas."""
    names = frozenset(n.strip().lower() for n in raw.split(",") if n.strip())
    if names == {"none"}:
        return frozenset()
    if not names or not names <= set(PUBLIC_ROUTE_GROUPS):
        raise ValueError(raw)
    return names


_public_routes.__name__ = "list of route groups (metrics, docs; or none)"


def _sentinels(raw: str) -> tuple[tuple[str, int], ...]:
    """host:port,host:port,... (an IPv6 host in brackets: [::1]:26379)."""
    found = []
    for item in (i.strip() for i in raw.split(",") if i.strip()):
        host, sep, port = item.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(item)
        found.append((host, int(port)))
    return tuple(found)


_sentinels.__name__ = "list of sentinels (host:port,host:port,...)"


def _directory(raw: str) -> Path:
    # Absolute once, here: child processes (redis-server, workers) may run from other directories.
    return Path(raw).expanduser().absolute()


_directory.__name__ = "directory"


@dataclass(frozen=True)
class Settings:
    """Every tunable of web and worker processes. Build with `Settings.from_env(os.environ)`."""

    host: str = "127.0.0.1"
    port: int = 18681
    redis_url: str | None = None
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_sentinel_master: str = "mymaster"
    redis_sentinel_password: str | None = None
    redis_password: str | None = None
    redis_wait_replicas: int = 0
    data_dir: Path = field(default_factory=lambda: _directory("var"))
    log_format: str = "json"
    log_level: str = "INFO"
    workfile_lifetime_s: int = 24 * 3600
    max_lifetime_s: int = 30 * 24 * 3600
    process_lifetime_s: int = 20 * 60
    max_upload_bytes: int = 2 * 1024**3
    max_json_bytes: int = 1024**2
    max_concurrent_uploads: int = DEFAULT_MAX_CONCURRENT_UPLOADS
    tenant_max_bytes: int | None = None  # None: no quota, nothing counted
    max_concurrent_uploads_per_tenant: int | None = None  # None: half of max_concurrent_uploads
    body_idle_timeout_s: float = 30.0
    info_shows_host: bool = False
    render_dpi: int = 150
    burn_dpi: int = 200  # resolution of pages rebuilt by a redaction (markup burners)
    max_dimension_px: int = 20_000
    max_render_pixels: int = 60_000_000
    max_image_pixels: int = 200_000_000
    jpeg_quality: int = 85
    png_compress_level: int = 3
    chunk_pages: int = 8
    one_job_pages: int = 8  # a conversion of at most this many pages (one chunk) runs as one job; 0: never
    render_processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    interactive_render_processes: int = 1  # render children kept for viewer pages (the shared ones are niced)
    page_timeout_s: float = 30.0
    job_timeout_s: int = 60
    office_processes: int = field(default_factory=lambda: os.cpu_count() or 1)
    office_timeout_s: float = 40.0
    office_max_docs: int = 200
    office_prestart: bool = True
    office_max_inflated_bytes: int = 1024**3
    soffice: str = ""
    uno_python: str = ""
    worker_max_jobs: int = 8
    poll_delay_s: float = 0.02
    session_lifetime_s: int = 20 * 60
    session_max_s: int = 24 * 3600
    page_cache_lifetime_s: int = 24 * 3600
    page_wait_s: float = 60.0
    viewer_requires_key: bool = False  # True: a viewing session id is not a credential for its viewer routes
    fetch_timeout_s: float = 60.0
    allow_private_sources: bool = False
    file_source_root: Path | None = None
    upload_lifetime_s: int = 24 * 3600
    api_keys: ApiKeys = field(default_factory=lambda: ApiKeys({}))
    signing_key: str | None = None
    webhook_secret: str | None = None
    cors_origins: tuple[str, ...] = ()
    public_routes: frozenset[str] = DEFAULT_PUBLIC_ROUTES
    max_queued_jobs: int = 10_000
    max_pages: int = 20_000
    max_matches: int = 10_000  # search results of a task, marks a redaction creator makes
    storage_backend: str = "local"
    s3_bucket: str | None = None
    s3_key_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_addressing_style: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_cache_max_bytes: int = 2 * 1024**3

    @property
    def has_redis(self) -> bool:
        """Whether a Redis is configured (REDIS_URL, or Sentinel)."""
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def storage_dir(self) -> Path:
        """Where local storage keeps bytes."""
        return self.data_dir / "storage"

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["redis_url"] = _redact(self.redis_url)
        shown["redis_password"] = "***" if self.redis_password else None
        shown["redis_sentinel_password"] = "***" if self.redis_sentinel_password else None
        shown["signing_key"] = "***" if self.signing_key else None
        shown["webhook_secret"] = "***" if self.webhook_secret else None
        shown["s3_secret_access_key"] = "***" if self.s3_secret_access_key else None
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        """Read PAGEMILL_* variables (and REDIS_URL); raise SettingsError listing all problems."""
        problems: list[str] = []
        values: dict[str, Any] = {}

        def read(
            name: str, attr: str, cast: Callable[[str], Any], check: Callable[[Any], bool] = bool, expected: str = ""
        ) -> None:
            raw = environ.get(name)
            if raw is None or raw == "":
                return
            shown = "'***'" if name in _SECRETS else repr(raw)
            try:
                value = cast(raw)
            except ValueError:
                problems.append(f"{name}={shown} is not a valid {cast.__name__}")
                return
            if not check(value):
                problems.append(f"{name}={shown} is out of range" + (f" (expected {expected})" if expected else ""))
                return
            values[attr] = value

        def positive(v: float) -> bool:
            return v > 0

        read("PAGEMILL_HOST", "host", str)
        read("PAGEMILL_PORT", "port", int, lambda v: 0 <= v < 65536, "0-65535")
        read(
            "REDIS_URL",
            "redis_url",
            str,
            lambda v: urlsplit(v).scheme in ("redis", "rediss", "unix"),
            "redis://, rediss:// or unix://",
        )
        read("PAGEMILL_REDIS_SENTINELS", "redis_sentinels", _sentinels)
        read("PAGEMILL_REDIS_SENTINEL_MASTER", "redis_sentinel_master", str)
        read("PAGEMILL_REDIS_SENTINEL_PASSWORD", "redis_sentinel_password", str)
        read("PAGEMILL_REDIS_PASSWORD", "redis_password", str)
        read("PAGEMILL_REDIS_WAIT_REPLICAS", "redis_wait_replicas", int, lambda v: 0 <= v <= 16, "0-16")
        read("PAGEMILL_DATA_DIR", "data_dir", _directory)
        read("PAGEMILL_LOG_FORMAT", "log_format", str, lambda v: v in ("json", "console"), "json or console")
        read("PAGEMILL_LOG_LEVEL", "log_level", str.upper, lambda v: v in _LEVELS, "one of " + ", ".join(_LEVELS))
        read("PAGEMILL_WORKFILE_LIFETIME_S", "workfile_lifetime_s", int, positive)
        read("PAGEMILL_MAX_LIFETIME_S", "max_lifetime_s", int, positive)
        read("PAGEMILL_PROCESS_LIFETIME_S", "process_lifetime_s", int, positive)
        read("PAGEMILL_MAX_UPLOAD_BYTES", "max_upload_bytes", int, positive)
        read("PAGEMILL_MAX_JSON_BYTES", "max_json_bytes", int, positive)
        read("PAGEMILL_BODY_IDLE_TIMEOUT_S", "body_idle_timeout_s", float, positive)
        read("PAGEMILL_MAX_CONCURRENT_UPLOADS", "max_concurrent_uploads", int, positive)
        read("PAGEMILL_TENANT_MAX_BYTES", "tenant_max_bytes", int, positive)
        read("PAGEMILL_MAX_CONCURRENT_UPLOADS_PER_TENANT", "max_concurrent_uploads_per_tenant", int, positive)
        read("PAGEMILL_INFO_SHOWS_HOST", "info_shows_host", _boolean, lambda v: True)
        read("PAGEMILL_RENDER_DPI", "render_dpi", int, lambda v: 10 <= v <= 1200, "10-1200")
        read("PAGEMILL_BURN_DPI", "burn_dpi", int, lambda v: 72 <= v <= 600, "72-600")
        read("PAGEMILL_MAX_DIMENSION_PX", "max_dimension_px", int, positive)
        read("PAGEMILL_MAX_RENDER_PIXELS", "max_render_pixels", int, positive)
        read("PAGEMILL_MAX_IMAGE_PIXELS", "max_image_pixels", int, positive)
        read("PAGEMILL_JPEG_QUALITY", "jpeg_quality", int, lambda v: 1 <= v <= 100, "1-100")
        read("PAGEMILL_PNG_COMPRESS_LEVEL", "png_compress_level", int, lambda v: 0 <= v <= 9, "0-9")
        read("PAGEMILL_CHUNK_PAGES", "chunk_pages", int, positive)
        read("PAGEMILL_ONE_JOB_PAGES", "one_job_pages", int, lambda v: v >= 0, "0 or more")
        read("PAGEMILL_RENDER_PROCESSES", "render_processes", int, positive)
        read(
            "PAGEMILL_INTERACTIVE_RENDER_PROCESSES", "interactive_render_processes", int, lambda v: v >= 0, "0 or more"
        )
        read("PAGEMILL_PAGE_TIMEOUT_S", "page_timeout_s", float, positive)
        read("PAGEMILL_JOB_TIMEOUT_S", "job_timeout_s", int, lambda v: v >= 5, "5 or more")
        read("PAGEMILL_OFFICE_PROCESSES", "office_processes", int, lambda v: v >= 0, "0 or more")
        read("PAGEMILL_OFFICE_TIMEOUT_S", "office_timeout_s", float, positive)
        read("PAGEMILL_OFFICE_MAX_DOCS", "office_max_docs", int, positive)
        read("PAGEMILL_OFFICE_PRESTART", "office_prestart", _boolean, lambda v: True)
        read("PAGEMILL_OFFICE_MAX_INFLATED_BYTES", "office_max_inflated_bytes", int, positive)
        read("PAGEMILL_SOFFICE", "soffice", str)
        read("PAGEMILL_UNO_PYTHON", "uno_python", str)
        read("PAGEMILL_WORKER_MAX_JOBS", "worker_max_jobs", int, positive)
        read("PAGEMILL_POLL_DELAY_S", "poll_delay_s", float, positive)

        read("PAGEMILL_SESSION_LIFETIME_S", "session_lifetime_s", int, positive)
        read("PAGEMILL_SESSION_MAX_S", "session_max_s", int, positive)
        read("PAGEMILL_PAGE_CACHE_LIFETIME_S", "page_cache_lifetime_s", int, positive)
        read("PAGEMILL_PAGE_WAIT_S", "page_wait_s", float, positive)
        read("PAGEMILL_VIEWER_REQUIRES_KEY", "viewer_requires_key", _boolean, lambda v: True)
        read("PAGEMILL_FETCH_TIMEOUT_S", "fetch_timeout_s", float, positive)
        read("PAGEMILL_ALLOW_PRIVATE_SOURCES", "allow_private_sources", _boolean, lambda v: True)
        read("PAGEMILL_FILE_SOURCE_ROOT", "file_source_root", _directory, lambda v: True)
        read("PAGEMILL_UPLOAD_LIFETIME_S", "upload_lifetime_s", int, positive)
        read("PAGEMILL_SIGNING_KEY", "signing_key", str, lambda v: len(v) >= 16, "16 or more characters")
        read("PAGEMILL_MAX_QUEUED_JOBS", "max_queued_jobs", int, positive)
        read("PAGEMILL_MAX_PAGES", "max_pages", int, positive)
        read("PAGEMILL_MAX_MATCHES", "max_matches", int, positive)
        read("PAGEMILL_STORAGE", "storage_backend", str.lower, lambda v: v in ("local", "s3"), "local or s3")
        read("PAGEMILL_S3_BUCKET", "s3_bucket", str, lambda v: bool(_BUCKET.match(v)), "an S3 bucket name")
        read(
            "PAGEMILL_S3_KEY_PREFIX",
            "s3_key_prefix",
            _key_prefix,
            lambda v: bool(_PREFIX.match(v)),
            "letters, digits, _, - and /",
        )
        read(
            "PAGEMILL_S3_ENDPOINT_URL",
            "s3_endpoint_url",
            str,
            lambda v: urlsplit(v).scheme in ("http", "https"),
            "an http(s) URL",
        )
        read("PAGEMILL_S3_REGION", "s3_region", str)
        read(
            "PAGEMILL_S3_ADDRESSING_STYLE",
            "s3_addressing_style",
            str.lower,
            lambda v: v in _ADDRESSING,
            "auto, path or virtual",
        )
        read("PAGEMILL_S3_ACCESS_KEY_ID", "s3_access_key_id", str)
        read("PAGEMILL_S3_SECRET_ACCESS_KEY", "s3_secret_access_key", str)
        read(
            "PAGEMILL_WEBHOOK_SECRET",
            "webhook_secret",
            str,
            _is_webhook_secret,
            "whsec_ + base64 of 24-64 random bytes",
        )
        read("PAGEMILL_CORS_ORIGINS", "cors_origins", _origins, lambda v: True)
        read("PAGEMILL_PUBLIC_ROUTES", "public_routes", _public_routes, lambda v: True)
        read("PAGEMILL_S3_CACHE_MAX_BYTES", "s3_cache_max_bytes", int, positive)
        try:
            keys_file = environ.get("PAGEMILL_API_KEYS_FILE")
            values["api_keys"] = ApiKeys.parse(environ.get("PAGEMILL_API_KEYS"), Path(keys_file) if keys_file else None)
        except (ApiKeyConfigError, OSError, ValueError) as exc:
            problems.append(f"API keys: {exc}")

        settings = cls(**values)
        if settings.page_timeout_s >= settings.job_timeout_s:
            problems.append("PAGEMILL_PAGE_TIMEOUT_S must be smaller than PAGEMILL_JOB_TIMEOUT_S")
        if "office_timeout_s" not in values:  # the default fits inside a job, whatever its timeout
            settings = replace(settings, office_timeout_s=max(1.0, min(40.0, settings.job_timeout_s - 5.0)))
        elif settings.office_timeout_s + 5 > settings.job_timeout_s:
            problems.append("PAGEMILL_OFFICE_TIMEOUT_S must be at least 5 s below PAGEMILL_JOB_TIMEOUT_S")
        if settings.storage_backend == "s3" and not settings.s3_bucket:
            problems.append("PAGEMILL_S3_BUCKET is required when PAGEMILL_STORAGE=s3")
        if bool(settings.s3_access_key_id) != bool(settings.s3_secret_access_key):
            problems.append("PAGEMILL_S3_ACCESS_KEY_ID and PAGEMILL_S3_SECRET_ACCESS_KEY go together")
        if settings.redis_url and settings.redis_sentinels:
            problems.append("REDIS_URL and PAGEMILL_REDIS_SENTINELS exclude each other (Sentinel names the primary)")
        if problems:
            raise SettingsError("invalid configuration: " + "; ".join(problems))
        return settings
