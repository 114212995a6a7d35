"""Typed application state keys (one place, so handlers and tests agree)."""

from aiohttp import web
from arq.connections import ArqRedis

from core.quota import Quota
from core.records import Store
from core.sessions import SessionStore
from core.settings import Settings
from core.storage.base import Storage
from service.pollcache import PollCache
from service.uploads import Uploads
from service.waiter import Waiter

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", ArqRedis)
STORE = web.AppKey("store", Store)
STORAGE = web.AppKey("storage", Storage)
STARTED_MS = web.AppKey("started_ms", int)
VIEWS = web.AppKey("views", SessionStore)
WAITER = web.AppKey("waiter", Waiter)
UPLOADS = web.AppKey("uploads", Uploads)
QUOTA = web.AppKey("quota", Quota)  # the tenants' stored bytes (core/quota.py)
POLL_CACHE = web.AppKey("poll_cache", PollCache)
OPENAPI = web.AppKey("openapi", dict)  # the OpenAPI document, built once from the route table
