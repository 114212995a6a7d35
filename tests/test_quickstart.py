"""The quick start as a newcomer runs it: the README's serve command in a fresh copy of the repository,
with no variables set, and the entry points' own errors."""

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core.redisproc import RedisServer, free_port
from tests.conftest import ROOT
from tests.docgen import text_pdf
from tests.helpers import cmdline, descendants, running

pytestmark = pytest.mark.fault  # starts whole services as subprocesses


def readme_command(name: str) -> list[str]:
    """The quick start's command line that starts with `name`, exactly as the README prints it."""
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    for line in quick_start.splitlines():
        if line.startswith(name):
            return shlex.split(line.split("#", 1)[0])
    raise AssertionError(f"the README's quick start has no `{name}` line")


def fresh_copy(dest: Path) -> Path:
    """What a clone of the working tree holds: tracked and new (not ignored) files, no venv, no var/."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(source.read_bytes())
            (dest / name).chmod(source.stat().st_mode)
    return dest


def newcomer_env() -> dict[str, str]:
    """The machine's environment with none of pagemill's variables set."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PAGEMILL_") and k != "REDIS_URL"}


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert proc.poll() is None, f"exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
        try:
            if requests.get(f"{url}/PCCIS/V1/Service/Current/Health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(0.25)


def convert_one_pdf(url: str) -> bytes:
    """Upload a PDF, convert it to PNG, poll, and download the page: the README's "Try it"."""
    up = requests.post(f"{url}/PCCIS/V1/WorkFile?FileExtension=pdf", data=text_pdf(1), timeout=10).json()
    body = {"input": {"sources": [{"fileId": up["fileId"]}], "dest": {"format": "png"}}}
    process = requests.post(f"{url}/v2/contentConverters", json=body, timeout=10).json()
    deadline = time.monotonic() + 60
    while process["state"] == "processing":
        assert time.monotonic() < deadline, process
        time.sleep(0.2)
        process = requests.get(f"{url}/v2/contentConverters/{process['processId']}", timeout=10).json()
    assert process["state"] == "complete", process
    file_id = process["output"]["results"][0]["fileId"]
    return requests.get(f"{url}/PCCIS/V1/WorkFile/{file_id}", timeout=10).content


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> list[int]:
    """Send `sig` to the whole process group (as Ctrl-C does); return the pids still alive after exit."""
    family = descendants(proc.pid)
    os.killpg(proc.pid, sig)
    proc.wait(60)
    time.sleep(0.5)
    return [pid for pid in family if running(pid)]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_readme_serve_command_works_in_a_fresh_clone(tmp_path, started):
    # Given a fresh copy of the repository and the README's serve command, only the port moved
    clone = fresh_copy(tmp_path / "pagemill")
    port = free_port()
    command = [*readme_command("./dev serve"), "--port", str(port)]
    log = tmp_path / "serve.log"
    # When a newcomer runs it there, with no variables set
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=clone, env=newcomer_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    started.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log, timeout_s=300)  # the first run installs the virtualenv
    # Then it says where it listens, converts a PDF, and keeps its data under the clone's var/
    assert f"pagemill listening on {url}" in log.read_text()
    assert convert_one_pdf(url).startswith(b"\x89PNG")
    assert (clone / "var" / "redis" / "appendonlydir").is_dir()
    assert any((clone / "var" / "storage").rglob("*"))
    # And Ctrl-C stops the service, its worker and its Redis
    assert stop(proc) == []
    assert proc.returncode == 0, log.read_text()[-3000:]


def test_serve_takes_host_port_and_workers(tmp_path, started):
    # Given the all-in-one started with command-line options instead of variables
    port = free_port()
    env = {**newcomer_env(), "PAGEMILL_DATA_DIR": str(tmp_path / "data")}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        command = [
            sys.executable,
            "-m",
            "service",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
        ]
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    started.append(proc)
    wait_healthy(f"http://127.0.0.1:{port}", proc, log, timeout_s=60)
    # Then it listens there and runs two worker processes
    workers = [p for p in descendants(proc.pid) if cmdline(p)[1:3] == ["-m", "workers"]]
    assert len(workers) == 2, [cmdline(p) for p in descendants(proc.pid)]
    # And a worker that dies on its own is started again, and the service goes on converting
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        now = [p for p in descendants(proc.pid) if cmdline(p)[1:3] == ["-m", "workers"] and running(p)]
        if len(now) == 2 and workers[0] not in now:
            break
        assert time.monotonic() < deadline, [cmdline(p) for p in descendants(proc.pid)]
        time.sleep(0.2)
    assert convert_one_pdf(f"http://127.0.0.1:{port}").startswith(b"\x89PNG")
    assert proc.poll() is None


def test_serve_gives_up_on_a_worker_that_keeps_dying_and_says_why():
    from service.__main__ import Children

    gave_up = threading.Event()
    children = Children(1, dict(os.environ), gave_up.set, command=[sys.executable, "-c", "raise SystemExit(3)"])
    try:
        assert gave_up.wait(30)
    finally:
        children.stop()
    assert children.died == "a worker process exited with code 3 4 times within a minute"


@pytest.mark.parametrize("options", [["--port", "http"], ["--port", "70000"], ["--workers", "0"]])
def test_bad_options_are_explained(options):
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", *options],
        cwd=ROOT,
        env=newcomer_env(),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"argument {options[0]}" in result.stderr.decode()


@pytest.mark.parametrize("command", [["service", "web"], ["workers"]])
def test_web_and_worker_without_redis_say_what_to_do(command):
    result = subprocess.run(
        [sys.executable, "-m", *command], cwd=ROOT, env=newcomer_env(), capture_output=True, timeout=30
    )
    assert result.returncode == 1
    assert "REDIS_URL is not set" in result.stderr.decode()
    assert "python -m service serve" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_redis_that_cannot_start_reports_its_real_cause(tmp_path, monkeypatch):
    # Given the port the embedded Redis is to use is already taken
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        # and a relative data directory (the README's default is relative too)
        monkeypatch.chdir(tmp_path)
        server = RedisServer(Path("var/redis"), taken.getsockname()[1], persist=True)
        # When it starts, the error names Redis's own reason, not a file to go and read
        with pytest.raises(RuntimeError, match=r"(?i)address already in use"):
            server.start()
    assert server.data_dir == tmp_path / "var" / "redis"
