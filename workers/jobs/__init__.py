"""arq jobs, one module per job family; `Ctx` is the worker context every job receives (see workers/runner.py)."""

from typing import Any

Ctx = dict[str, Any]
