"""pagemill-batch against the real app and worker: real causes, --password, re-runs, unusable servers, help."""

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.redisproc import free_port
from core.settings import Settings
from service import cli
from service.app import create_app
from tests.conftest import ROOT, running_worker
from tests.docgen import corrupt_pdf, encrypted_pdf, text_pdf


@dataclass
class Server:
    url: str
    uploads: list[str] = field(default_factory=list)  # one entry per POST /PCCIS/V1/WorkFile answered


async def start(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@contextlib.asynccontextmanager
async def pagemill_server(settings: Settings) -> AsyncIterator[Server]:
    """The real app on a real port (counting uploads) and the real worker."""
    app = create_app(settings)
    served = Server("")

    async def count_uploads(request: web.Request, response: web.StreamResponse) -> None:
        if request.method == "POST" and request.path == "/PCCIS/V1/WorkFile":
            served.uploads.append(request.query.get("FileExtension", ""))

    app.on_response_prepare.append(count_uploads)
    server = await start(app)
    served.url = str(server.make_url("")).rstrip("/")
    try:
        async with running_worker(settings):
            yield served
    finally:
        await server.close()


@pytest.fixture
async def pagemill(settings: Settings) -> AsyncIterator[Server]:
    async with pagemill_server(settings) as served:
        yield served


async def batch(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `python -m service.cli` as a user would; (exit status, stdout, stderr)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PAGEMILL_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service.cli",
        *args,
        cwd=ROOT,
        env={**environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def lines_by_document(stdout: str) -> dict[str, str]:
    return {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in stdout.splitlines() if ": " in line}


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}


async def test_each_failed_document_names_its_real_cause_and_password_converts_the_encrypted_one(
    pagemill: Server, tmp_path: Path
) -> None:
    # Given a folder with a good, a corrupt and an encrypted PDF
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "good.pdf").write_bytes(text_pdf(2))
    (inbox / "broken.pdf").write_bytes(corrupt_pdf())
    (inbox / "secret.pdf").write_bytes(encrypted_pdf(1, "s3cret"))

    # When converting without a password
    status, stdout, stderr = await batch("convert", str(inbox), "--out", str(out), "--url", pagemill.url)

    # Then each failure names its own cause, not just CouldNotConvert, and the exit status is 1
    assert status == 1, stderr
    lines = lines_by_document(stdout)
    assert lines["good.pdf"] == "2 file(s)"
    assert lines["broken.pdf"].startswith("FAILED: CorruptFile"), stdout
    assert lines["secret.pdf"].startswith("FAILED: InvalidPassword"), stdout
    assert "--password" in lines["secret.pdf"]
    assert "Traceback" not in stderr
    assert sorted(p.name for p in out.glob("*.png")) == ["good-0001.png", "good-0002.png"]

    # When run again with the password
    status, stdout, stderr = await batch(
        "convert", str(inbox), "--out", str(out), "--url", pagemill.url, "--password", "s3cret"
    )

    # Then the encrypted one converts, the finished one is skipped, the corrupt one still fails
    assert status == 1, stderr
    lines = lines_by_document(stdout)
    assert lines["secret.pdf"] == "1 file(s)"
    assert (out / "secret.png").read_bytes().startswith(b"\x89PNG")
    assert "skipped" in lines["good.pdf"]
    assert lines["broken.pdf"].startswith("FAILED: CorruptFile")
    assert pagemill.uploads.count("pdf") == 3 + 2


async def test_a_rerun_skips_finished_documents_and_force_redoes_them(pagemill: Server, tmp_path: Path) -> None:
    # Given a folder converted once
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "a.pdf").write_bytes(text_pdf(2))
    (inbox / "b.pdf").write_bytes(text_pdf(1))
    status, stdout, stderr = await batch("convert", str(inbox), "--out", str(out), "--url", pagemill.url)
    assert status == 0, stdout + stderr
    assert sorted(mtimes(out)) == ["a-0001.png", "a-0002.png", "b.png"]
    assert len(pagemill.uploads) == 2
    first = mtimes(out)

    # When run again
    status, stdout, stderr = await batch("convert", str(inbox), "--out", str(out), "--url", pagemill.url)

    # Then nothing is uploaded, no output is rewritten, and the skips are counted
    assert status == 0, stderr
    assert "0 converted, 2 skipped, 0 failed" in stdout
    assert len(pagemill.uploads) == 2
    assert mtimes(out) == first

    # When a.pdf was cut off after its first page (its outputs are there, its marker is not)
    cli.marker_path(out, inbox / "a.pdf", "png").unlink()
    (out / "a-0002.png").unlink()
    status, stdout, stderr = await batch("convert", str(inbox), "--out", str(out), "--url", pagemill.url)

    # Then only a.pdf is converted again
    assert status == 0, stderr
    assert "1 converted, 1 skipped, 0 failed" in stdout
    assert len(pagemill.uploads) == 3
    assert (out / "a-0002.png").is_file()
    assert mtimes(out)["b.png"] == first["b.png"]

    # When forced
    status, stdout, stderr = await batch("convert", str(inbox), "--out", str(out), "--url", pagemill.url, "--force")

    # Then both are converted again
    assert status == 0, stderr
    assert "2 converted, 0 skipped, 0 failed" in stdout
    assert len(pagemill.uploads) == 5
    assert mtimes(out)["b.png"] != first["b.png"]


def test_outputs_count_as_finished_only_with_a_marker_and_every_output(tmp_path: Path) -> None:
    source = tmp_path / "doc.pdf"
    source.write_bytes(text_pdf(1))
    job = cli.Job(source, outputs=[tmp_path / "doc-0001.png", tmp_path / "doc-0002.png"])
    for p in job.outputs:
        p.write_bytes(b"png")
    assert cli.finished_outputs(tmp_path, source, "png") is None  # outputs without a marker
    cli.mark_finished(tmp_path, job, "png")
    assert cli.finished_outputs(tmp_path, source, "png") == job.outputs
    assert cli.finished_outputs(tmp_path, source, "pdf") is None  # another format
    job.outputs[1].unlink()
    assert cli.finished_outputs(tmp_path, source, "png") is None  # an output is missing
    job.outputs[1].write_bytes(b"png")
    source.write_bytes(text_pdf(2))
    assert cli.finished_outputs(tmp_path, source, "png") is None  # the input changed


def one_line_error(status: int, stdout: str, stderr: str) -> str:
    assert status == 2
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("pagemill-batch: ")
    return lines[0]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "doc.pdf").write_bytes(text_pdf(1))
    return folder


async def test_an_unreachable_server_is_one_line(inbox: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(*await batch("convert", str(inbox), "--out", str(tmp_path / "out"), "--url", url))
    assert line == f"pagemill-batch: cannot reach {url}: Connection refused"


NOT_FOUND = (404, "<html><body>Not Found</body></html>", "text/html")
INFO = (200, '{"serviceStatus": "running"}', "application/json")


@pytest.mark.parametrize(
    ("info", "others"),
    [(NOT_FOUND, NOT_FOUND), ((200, "hello", "text/plain"), (200, "hello", "text/plain")), (INFO, NOT_FOUND)],
    ids=["404-html", "not-json", "only-info-answers"],
)
async def test_a_server_that_is_not_pagemill_is_one_line(
    inbox: Path, tmp_path: Path, info: tuple[int, str, str], others: tuple[int, str, str]
) -> None:
    async def anything(request: web.Request) -> web.Response:
        status, body, content_type = info if request.path == cli.INFO else others
        return web.Response(status=status, text=body, content_type=content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    server = await start(app)
    try:
        url = str(server.make_url("")).rstrip("/")
        line = one_line_error(*await batch("convert", str(inbox), "--out", str(tmp_path / "out"), "--url", url))
    finally:
        await server.close()
    assert line.startswith(f"pagemill-batch: {url} does not look like a pagemill or PrizmDoc server")
    status, _, content_type = info if info != INFO else others
    assert f"{status} {content_type}" in line


async def test_api_key_missing_or_wrong_is_one_line_and_pagemill_api_key_is_the_default(
    env: dict[str, str], inbox: Path, tmp_path: Path
) -> None:
    settings = Settings.from_env({**env, "PAGEMILL_API_KEYS": "acme:right-key-123"})
    async with pagemill_server(settings) as server:
        args = ("convert", str(inbox), "--out", str(tmp_path / "out"), "--url", server.url)
        assert "needs an API key" in one_line_error(*await batch(*args))
        assert "rejected the API key" in one_line_error(*await batch(*args, "--api-key", "wrong-key-123"))
        assert server.uploads == []
        status, stdout, stderr = await batch(*args, env={"PAGEMILL_API_KEY": "right-key-123"})
        assert status == 0, stdout + stderr
        assert (tmp_path / "out" / "doc.png").is_file()


async def test_pagemill_url_is_the_default_url(inbox: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(
        *await batch("convert", str(inbox), "--out", str(tmp_path / "out"), env={"PAGEMILL_URL": url})
    )
    assert url in line


def test_help_explains_every_option_and_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    convert = parser._subparsers._group_actions[0].choices["convert"]  # type: ignore[union-attr]
    for argv, command in ((["--help"], parser), (["convert", "--help"], convert)):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        for action in command._actions:
            assert action.help, action.dest
            assert " ".join(action.help.replace("%(default)s", str(action.default)).split()) in text
        assert "PAGEMILL_URL default for --url" in text
        assert "PAGEMILL_API_KEY default for --api-key" in text


def test_error_answers_and_failed_results_are_described_with_their_details() -> None:
    invalid = {"errorCode": "InvalidInput", "errorDetails": {"in": "body", "at": "input.dest.format"}, "message": "no"}
    assert cli.describe(invalid) == "InvalidInput at input.dest.format: no"
    failed = {
        "state": "error",
        "errorCode": "CouldNotConvert",
        "output": {"results": [{"errorCode": "ImageTooLarge", "message": "40000 x 40000 pixels"}]},
    }
    assert cli.failure(failed) == "ImageTooLarge: 40000 x 40000 pixels"
    assert cli.failure({"state": "error", "errorCode": "CouldNotConvert"}) == "CouldNotConvert"
    assert cli.failure({"state": "error", "errorCode": "TooManyPages", "message": "2001 pages"}) == (
        "TooManyPages: 2001 pages"
    )
