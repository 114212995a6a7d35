"""Pure pieces tested directly: page syntax, planning, settings, rendering functions."""

import asyncio
import io
import os
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from core.errors import DocumentError
from core.settings import Settings, SettingsError
from core.sniff import sniff_extension
from schemas.pages import PageSyntaxError, format_pages, parse_pages
from tests.docgen import corrupt_pdf, encrypted_pdf, image_bytes, text_pdf
from workers.plan import make_plan
from workers.pool import BATCH, BATCH_NICE, INTERACTIVE, PrioritySlots, RenderPool
from workers.render.assemble import PdfPart, build_pdf, concat_tiffs
from workers.render.document import open_document
from workers.render.glyphs import PageGlyphs, redacted_lines
from workers.render.page import render_page
from workers.render.spec import RenderSpec


@pytest.mark.parametrize(
    ("text", "parts"),
    [("", [(1, None)]), ("1", [(1, 1)]), ("2, 4-9, 12-", [(2, 2), (4, 9), (12, None)]), (" 3 - 5 ", [(3, 5)])],
)
def test_parse_pages(text, parts):
    assert parse_pages(text) == parts


@pytest.mark.parametrize("text", ["0", "a", "1-2-3", "5-3", "1,,2", "-4", "1.5"])
def test_parse_pages_rejects(text):
    with pytest.raises(PageSyntaxError):
        parse_pages(text)


def test_format_pages():
    assert format_pages([1, 2, 3, 5, 7, 8]) == "1-3,5,7-8"
    assert format_pages([4, 2]) == "4,2"
    assert format_pages([]) == ""


def test_plan_png_renders_every_page_in_chunks():
    inp = {"sources": [{"fileId": "f"}], "dest": {"format": "png"}}
    plan = make_plan(inp, [10], ["pdf"], chunk_pages=4)
    assert len(plan.units) == 10 and len(plan.groups) == 10
    assert [len(c) for c in plan.chunks()] == [4, 4, 2]


def test_plan_pdf_from_pdf_renders_nothing_and_from_images_renders_only_them():
    inp = {"sources": [{"fileId": "a", "pages": ""}, {"fileId": "b", "pages": ""}], "dest": {"format": "pdf"}}
    plan = make_plan(inp, [3, 1], ["pdf", "png"], chunk_pages=8)
    assert plan.render == [3]
    assert [g.units for g in plan.groups] == [[0, 1, 2, 3]]


def test_plan_combined_output_with_missing_pages_is_one_error():
    inp = {"sources": [{"fileId": "a", "pages": "1-3", "password": "p"}], "dest": {"format": "tiff"}}
    plan = make_plan(inp, [2], ["pdf"], chunk_pages=8)
    assert plan.render == []
    [group] = plan.groups
    assert group.error_code == "NoSuchPage"
    assert group.error_sources == [{"fileId": "a", "pages": "3", "password": "p"}]


def test_settings_report_every_problem_at_once():
    with pytest.raises(SettingsError) as exc:
        Settings.from_env({"PAGEMILL_PORT": "x", "PAGEMILL_RENDER_DPI": "5", "REDIS_URL": "http://nope"})
    message = str(exc.value)
    assert "PAGEMILL_PORT" in message and "PAGEMILL_RENDER_DPI" in message and "REDIS_URL" in message


def test_settings_never_show_the_redis_password():
    settings = Settings.from_env({"REDIS_URL": "redis://:hunter2@example:6379/0"})
    assert "hunter2" not in repr(settings)


def test_sniffing():
    assert sniff_extension(text_pdf(1)[:4096]) == "pdf"
    assert sniff_extension(b"\n\n%PDF-1.4") == "pdf"
    assert sniff_extension(image_bytes("BMP")) == "bmp"
    assert sniff_extension(b"PK\x03\x04") == "zip"  # a bare zip: the container, nothing office-like inside


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_render_pdf_page_at_dpi_and_within_a_box(tmp_path):
    doc = open_document(write(tmp_path, "a.pdf", text_pdf(2)), "pdf", None, 10**8)
    out = str(tmp_path / "p.png")
    rendered = render_page(doc, 1, RenderSpec("png", dpi=72), out)
    assert (rendered.width, rendered.height) == (612, 792)
    rendered = render_page(doc, 0, RenderSpec("png", max_width=100), out)
    assert rendered.width == 100
    rendered = render_page(doc, 0, RenderSpec("png", max_height=150), out)
    assert rendered.height == 150
    rendered = render_page(doc, 0, RenderSpec("png", max_width=300, max_height=300), out)
    assert rendered.width <= 300 and rendered.height == 300
    with pytest.raises(DocumentError) as exc:
        render_page(doc, 2, RenderSpec("png"), out)
    assert exc.value.code == "NoSuchPage"


def test_render_caps_pixels_of_huge_pages(tmp_path):
    huge = text_pdf(1, width_pt=14400, height_pt=14400, lines=1)  # 200 x 200 inches
    doc = open_document(write(tmp_path, "h.pdf", huge), "pdf", None, 10**8)
    rendered = render_page(doc, 0, RenderSpec("jpeg", max_pixels=4_000_000), str(tmp_path / "h.jpg"))
    assert rendered.width * rendered.height <= 4_000_000 * 1.01


def test_render_errors_are_document_errors(tmp_path):
    cases = [
        ("c.pdf", corrupt_pdf(), "pdf", None, "CorruptFile"),
        ("e.pdf", encrypted_pdf(1, "pw"), "pdf", None, "InvalidPassword"),
        ("e.pdf", encrypted_pdf(1, "pw"), "pdf", "nope", "InvalidPassword"),
        ("t.png", image_bytes("PNG")[:100], "png", None, "CorruptFile"),
        ("x.png", b"not an image at all", "png", None, "CorruptFile"),
    ]
    for name, data, ext, password, code in cases:
        doc = None
        with pytest.raises(DocumentError) as exc:
            doc = open_document(write(tmp_path, name, data), ext, password, 10**8)
            render_page(doc, 0, RenderSpec("png"), str(tmp_path / "o.png"))
        assert exc.value.code == code, name
        if doc is not None:
            doc.close()


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, "PNG")  # 400 MP, a few KB on disk
    with pytest.raises(DocumentError) as exc:
        open_document(write(tmp_path, "bomb.png", bomb.getvalue()), "png", None, 100_000_000)
    assert exc.value.code == "ImageTooLarge"


def test_concat_tiffs_keeps_every_page(tmp_path):
    paths = []
    for i, colour in enumerate(["red", "green", "blue"]):
        path = tmp_path / f"{i}.tif"
        Image.new("RGB", (50 + i, 40), colour).save(path, "TIFF", compression="tiff_lzw")
        paths.append(str(path))
    out = str(tmp_path / "all.tif")
    concat_tiffs(paths, out)
    with Image.open(out) as tiff:
        assert tiff.n_frames == 3
        for i, colour in enumerate([(255, 0, 0), (0, 128, 0), (0, 0, 255)]):
            tiff.seek(i)
            assert tiff.size == (50 + i, 40)
            assert tiff.convert("RGB").getpixel((5, 5)) == colour


def test_build_pdf_imports_selected_pages(tmp_path):
    src = write(tmp_path, "s.pdf", text_pdf(5))
    out = str(tmp_path / "o.pdf")
    build_pdf([PdfPart(src, None, (4, 0))], out)
    pdf = pdfium.PdfDocument(out)
    assert [pdf[i].get_textpage().get_text_range().split("\n")[0].strip() for i in range(2)] == ["Page 5", "Page 1"]


async def test_priority_slots_serve_interactive_waiters_first():
    slots = PrioritySlots(1)
    await slots.acquire(BATCH)  # the only slot is busy
    order: list[str] = []

    async def want(name: str, priority: int) -> None:
        await slots.acquire(priority)
        order.append(name)
        await asyncio.sleep(0)
        slots.release()

    waiters = [asyncio.create_task(want(n, p)) for n, p in [("b1", BATCH), ("b2", BATCH), ("i1", INTERACTIVE)]]
    await asyncio.sleep(0.01)
    slots.release()
    await asyncio.gather(*waiters)
    assert order == ["i1", "b1", "b2"]


async def test_priority_slots_survive_cancelled_waiters():
    slots = PrioritySlots(1)
    await slots.acquire(BATCH)
    cancelled = asyncio.create_task(slots.acquire(INTERACTIVE))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    slots.release()
    await asyncio.wait_for(slots.acquire(BATCH), 1)  # the slot was not lost to the cancelled waiter


def _niceness_after(seconds: float) -> int:
    """(Runs in a render child.)"""
    time.sleep(seconds)
    return os.nice(0)


async def test_a_viewer_page_has_its_own_render_child_while_batch_pages_fill_the_shared_ones():
    # Given a pool of two shared children and one interactive child, both shared ones busy with batch calls
    pool = RenderPool(2, 10**8, interactive_processes=1)
    try:
        await pool.warm_up()
        batch = [asyncio.create_task(pool.run(_niceness_after, 1.5, timeout_s=30)) for _ in range(2)]
        await asyncio.sleep(0.3)
        # When an interactive call comes
        t0 = time.monotonic()
        interactive = await pool.run(_niceness_after, 0, timeout_s=30, priority=INTERACTIVE)
        # Then it runs at once, at normal priority, while the batch calls run niced
        assert time.monotonic() - t0 < 0.6
        assert await asyncio.gather(*batch) == [interactive + BATCH_NICE] * 2
    finally:
        pool.close()


def test_poll_cache_keeps_final_processes_and_briefly_processing_ones(monkeypatch):
    import time as time_module

    from service.pollcache import PollCache

    cache = PollCache()
    far = (time_module.time() + 3600) * 1000
    cache.put("done", {"state": "complete", "expires_ms": far})
    cache.put("busy", {"state": "processing", "expires_ms": far})
    assert cache.get("done") and cache.get("busy")
    now = time_module.monotonic()
    monkeypatch.setattr(time_module, "monotonic", lambda: now + 1)  # a second later
    assert cache.get("busy") is None  # processing records live 250 ms
    assert cache.get("done") is not None
    cache.announced("pm:proc:done")  # a worker announced a change
    assert cache.get("done") is None


def _spans(text: str, *words: str) -> list[tuple[int, int]]:
    return [(text.index(w), text.index(w) + len(w)) for w in words]


@pytest.mark.parametrize(("text", "words", "lines"), [
    # whitespace between two redacted runs belongs to one run
    ("Name: John  Smith, SSN", ("John", "Smith"), ["Name: <Text Redacted>, SSN"]),
    ("a John\tSmith b", ("John", "Smith"), ["a <Text Redacted> b"]),
    # whitespace next to one redacted run stays
    ("Name: John  Smith", ("John",), ["Name: <Text Redacted>  Smith"]),
    ("x  John  y", ("John",), ["x  <Text Redacted>  y"]),
    # a line break is never part of a run, even between two redacted lines
    ("John\r\nSmith", ("John", "Smith"), ["<Text Redacted>", "<Text Redacted>"]),
    ("John\r\n", ("John\r\n",), ["<Text Redacted>", ""]),
    ("nothing", (), ["nothing"]),
])  # fmt: skip
def test_redacted_lines_join_runs_across_whitespace_only(text, words, lines):
    glyphs = PageGlyphs(text, [], [], 612, 792)
    assert redacted_lines(glyphs, [], _spans(text, *words)) == lines


@pytest.mark.parametrize("accelerated", [True, False])
def test_grey_png_pages_keep_their_pixels_and_resolution(monkeypatch, accelerated):
    import zlib

    from workers.render import encode as encode_module

    if not accelerated:
        monkeypatch.setattr(encode_module, "deflate", zlib)  # the fallback without isal
    # Given a rendered text page without colour, and odd sizes
    page = render_source_page(text_pdf(1))
    for image in (page, page.crop((0, 0, 333, 77))):
        # When it is written as a grey PNG
        data = encode_module.grey_png(image, 3, 150)
        # Then Pillow reads back the very same pixels, one channel, at 150 dpi
        with Image.open(io.BytesIO(data)) as back:
            back.load()
            assert back.mode == "L" and back.size == image.size
            assert back.tobytes() == image.tobytes()
            assert round(back.info["dpi"][0]) == 150


def render_source_page(pdf: bytes) -> Image.Image:
    """Page 1 of `pdf` at 150 dpi as one grey channel (how a text page is encoded)."""
    import tempfile

    from workers.render.spec import RenderSpec

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "doc.pdf"
        src.write_bytes(pdf)
        doc = open_document(str(src), "pdf", None, 10**9)
        try:
            return doc.render(0, RenderSpec("png", dpi=150)).convert("L")
        finally:
            doc.close()
