"""API keys per tenant, as configured (PAGEMILL_API_KEYS="tenant:key,..." or a JSON file {"tenant": ["key"]})."""

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path


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
