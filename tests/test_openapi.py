"""The OpenAPI document is valid and the running service honours it: schemathesis generates
requests for every operation, and none may fail inside the server."""

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings

from service.openapi import openapi_document
from service.redisproc import free_port
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """The all-in-one service (its own Redis and worker) in a subprocess, as users run it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(PAGEMILL_PORT=str(port), PAGEMILL_DATA_DIR=tempfile.mkdtemp(), PAGEMILL_LOG_LEVEL="WARNING",
               PAGEMILL_PAGE_WAIT_S="2")  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "service", "serve"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(f"{url}/PCCIS/V1/Service/Current/Health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(30)


# The document is built in-process (it is exactly what /openapi.json serves, checked below).
SCHEMA = schemathesis.openapi.from_dict(openapi_document())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def test_the_served_document_is_the_generated_one(live_url):
    assert requests.get(f"{live_url}/openapi.json", timeout=10).json() == openapi_document()
    assert len(OPERATIONS) >= 50


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_operation_fails_inside_the_server(operation, live_url):
    @given(case=operation.as_strategy())
    # derandomize: the same examples on every run, so CI is repeatable (run with other seeds locally to explore)
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
    def check(case):
        response = case.call(base_url=live_url, timeout=30)
        where = (case.method, case.formatted_path, response.status_code, response.content[:300])
        assert response.status_code != 500, where
        if response.status_code >= 400 and response.content.startswith(b"{"):
            assert json.loads(response.content).get("errorCode") != "InternalError", where

    check()
