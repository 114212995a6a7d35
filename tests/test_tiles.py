"""Viewer tiles: the pure tile rendering, and the Page/q/{n}/Tile/{x}/{y}/{w}/{h} route."""

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from core import keyspace
from core.errors import DocumentError
from schemas.viewing import Variant
from service import keys
from tests.docgen import image_bytes, scan_with_nested_text_pdf, scans_and_text_pdf, text_pdf
from tests.test_viewing import new_session, png_of, put_source
from workers.render.document import open_document, raster_pages
from workers.render.page import render_page
from workers.render.spec import RenderSpec

MARK = {"type": "text", "text": "TILED", "fontSize": "60pt", "color": "#FF0000", "opacity": 1.0}


def _open(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return open_document(str(path), name.rsplit(".", 1)[1], None, 10**8)


def _draw(doc, spec: RenderSpec, out: Path) -> Image.Image:
    render_page(doc, 0, spec, str(out))
    return Image.open(out).convert("RGB")


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-sized images, 0 to 255."""
    assert a.size == b.size, (a.size, b.size)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


@pytest.mark.parametrize(
    ("name", "data", "scale"),
    [
        ("a.pdf", text_pdf(1), 1.0),
        ("a.pdf", text_pdf(1), 2.5),
        ("b.png", image_bytes("png", (800, 600), "navy"), 1.5),
    ],
)
def test_a_tile_is_the_same_region_of_the_whole_page(tmp_path, name, data, scale):
    doc = _open(tmp_path, name, data)
    whole = _draw(doc, RenderSpec("png", scale=scale), tmp_path / "whole.png")
    box = (int(100 * scale), int(140 * scale), 300, 120)
    tile = _draw(doc, RenderSpec("png", scale=scale, tile=box), tmp_path / "tile.png")
    x, y, w, h = box
    assert tile.size == (w, h)
    region = whole.crop((x, y, x + w, y + h))
    assert ImageStat.Stat(region.convert("L")).extrema[0][0] < 128  # the region holds ink (text or colour)
    assert _difference(tile, region) < 3
    shifted = whole.crop((x + 40, y + 13, x + w + 40, y + h + 13))
    assert _difference(tile, shifted) > _difference(tile, region) + 3 or name.endswith(".png")


def test_deep_zoom_draws_only_the_tile_beyond_the_page_pixel_cap(tmp_path):
    doc = _open(tmp_path, "a.pdf", text_pdf(1, width_pt=300, height_pt=300, lines=4))
    cap = 500_000  # the whole page at scale 8 (150 dpi) is 5000 x 5000 pixels
    whole = _draw(doc, RenderSpec("png", scale=8, max_pixels=cap), tmp_path / "whole.png")
    assert whole.width * whole.height <= cap * 1.01
    exact = _draw(doc, RenderSpec("png", scale=8, max_pixels=10**8), tmp_path / "exact.png")
    left, top, _, _ = ImageChops.invert(exact.convert("L")).getbbox()
    box = (left, top, 512, 256)
    tile = _draw(doc, RenderSpec("png", scale=8, max_pixels=cap, tile=box), tmp_path / "t.png")
    assert tile.size == (512, 256) and ImageStat.Stat(tile.convert("L")).extrema[0][0] < 128
    # sharp at the requested scale: the same region of the page drawn at scale 8 with no cap
    assert _difference(tile, exact.crop((left, top, left + 512, top + 256))) < 3


def test_a_watermarked_tile_shows_the_mark_where_the_page_has_it(tmp_path):
    doc = _open(tmp_path, "a.pdf", text_pdf(1, lines=0))
    spec = RenderSpec("png", watermarks=(MARK,))
    whole = _draw(doc, spec, tmp_path / "whole.png")
    red = [
        (x, y)
        for x in range(0, whole.width, 4)
        for y in range(0, whole.height, 4)
        if whole.getpixel((x, y))[0] > 200 and whole.getpixel((x, y))[1] < 80
    ]
    assert red, "the page shows the watermark"
    cx, cy = red[len(red) // 2]
    box = (max(0, cx - 100), max(0, cy - 60), 200, 120)
    tile = _draw(doc, RenderSpec("png", watermarks=(MARK,), tile=box), tmp_path / "tile.png")
    x, y, w, h = box
    assert _difference(tile, whole.crop((x, y, x + w, y + h))) < 4
    assert tile.getchannel("R").point(lambda v: 255 if v > 200 else 0).getbbox() is not None


def test_a_tile_of_a_missing_page_is_no_such_page(tmp_path):
    doc = _open(tmp_path, "a.pdf", text_pdf(1))
    with pytest.raises(DocumentError) as exc:
        render_page(doc, 1, RenderSpec("png", tile=(0, 0, 10, 10)), str(tmp_path / "x.png"))
    assert exc.value.code == "NoSuchPage"


async def tile(client, sid: str, page: int, x: int, y: int, w: int, h: int, **query):
    params = {"DocumentID": f"u{sid}", **query}
    return await client.get(f"/PCCIS/V1/Page/q/{page}/Tile/{x}/{y}/{w}/{h}", params=params)


async def test_tile_route_serves_the_region_cut_at_the_page_edge(client, worker):
    sid = await new_session(client)
    await put_source(client, sid, text_pdf(2))
    page = await png_of(await client.get("/PCCIS/V1/Page/q/1", params={"DocumentID": f"u{sid}", "Scale": "2"}))
    resp = await tile(client, sid, 1, 200, 300, 256, 256, Scale="2")
    assert resp.headers["Content-Type"] == "image/png" and resp.headers.get("ETag")
    got = await png_of(resp)
    assert got.size == (256, 256)
    assert _difference(got.convert("RGB"), page.convert("RGB").crop((200, 300, 456, 556))) < 3
    # kept for minutes, not like pages: every position and size is a file of its own
    doc_id = (await client.app[keys.VIEWS].get(sid))["docId"]
    variant = Variant(scale=2.0, tile_x=200, tile_y=300, tile_width=256, tile_height=256)
    assert 0 < await client.app[keys.REDIS].ttl(keyspace.page(doc_id, variant.digest(), 1)) <= 300
    assert await client.app[keys.REDIS].ttl(keyspace.page(doc_id, Variant(scale=2.0).digest(), 1)) > 3600
    # reaching past the right and bottom edges: cut at the page (1275 x 1650 at scale 1)
    edge = await png_of(await tile(client, sid, 0, 1200, 1600, 512, 512))
    assert edge.size == (75, 50)
    jpeg = await tile(client, sid, 0, 0, 0, 64, 64, ContentType="jpeg")
    assert jpeg.status == 200 and jpeg.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(await jpeg.read())).size == (64, 64)


@pytest.mark.parametrize(
    ("path", "query", "at"),
    [
        ("0/Tile/0/0/0/10", {}, "width"),
        ("0/Tile/0/0/10/0", {}, "height"),
        ("0/Tile/0/0/2049/10", {}, "width"),
        ("0/Tile/1275/0/10/10", {}, "x"),
        ("0/Tile/0/3290/10/10", {"Scale": "2"}, None),  # inside at scale 2 (3300 high)
        ("0/Tile/0/3290/10/10", {}, "y"),
        ("0/Tile/0/0/10/10", {"ContentType": "svgb"}, "ContentType"),
        ("0/Tile/0/0/10/10", {"Scale": "9"}, "Scale"),
        ("x/Tile/0/0/10/10", {}, "PageNumber"),
    ],
)
async def test_tile_route_validation(client, worker, path, query, at):
    sid = await new_session(client)
    await put_source(client, sid, text_pdf(1))
    resp = await client.get(f"/PCCIS/V1/Page/q/{path}", params={"DocumentID": f"u{sid}", **query})
    if at is None:
        assert resp.status == 200
        return
    body = await resp.json()
    assert resp.status == 480 and body["errorCode"] == "InvalidInput", body
    assert body["errorDetails"]["at"] == at


async def test_tile_of_a_page_past_the_end_and_unknown_session(client, worker):
    sid = await new_session(client)
    await put_source(client, sid, text_pdf(1))
    resp = await tile(client, sid, 3, 0, 0, 10, 10)
    assert resp.status == 404 and resp.headers["Accusoft-Status-Number"] == "4004"
    assert (await tile(client, "A" * 40, 0, 0, 0, 10, 10)).status == 403


def test_a_watermarked_tile_past_the_pixel_cap_keeps_the_mark_in_place(tmp_path):
    doc = _open(tmp_path, "a.pdf", text_pdf(1, lines=0))
    sharp = _draw(doc, RenderSpec("png", scale=2, watermarks=(MARK,)), tmp_path / "sharp.png")
    left, top, right, bottom = sharp.getchannel("G").point(lambda v: 255 if v < 80 else 0).getbbox()
    box = (left - 20, top - 20, min(600, right - left + 40), bottom - top + 40)
    capped = RenderSpec("png", scale=2, watermarks=(MARK,), max_pixels=1_000_000, tile=box)
    tile = _draw(doc, capped, tmp_path / "tile.png")
    x, y, w, h = box
    assert _difference(tile, sharp.crop((x, y, x + w, y + h))) < 10  # blurrier (drawn smaller), same place


def test_pages_are_classified_as_pictures_or_not(tmp_path):
    doc = _open(tmp_path, "m.pdf", scans_and_text_pdf())
    assert raster_pages(doc, 5.0) == {"rasterPages": [1, 2], "classifiedPages": 3}
    assert raster_pages(doc, 0.0) == {"rasterPages": [], "classifiedPages": 0}  # out of time: none classified
    image = _open(tmp_path, "b.tif", image_bytes("tiff", frames=2))
    assert raster_pages(image, 0.0) == {"rasterPages": [0, 1], "classifiedPages": 2}
    image.close()
    doc.close()


async def test_is_raster_is_true_for_scanned_pages_and_images_only(client, worker):
    sid = await new_session(client)
    await put_source(client, sid, scans_and_text_pdf())

    async def is_raster(n: int) -> str:
        resp = await client.get(f"/PCCIS/V1/Page/q/{n}/Attributes", params={"DocumentID": f"u{sid}"})
        return (await resp.json())["isRaster"]

    for _ in range(100):  # pages are classified right after the count is out
        if await is_raster(1) == "true":
            break
        await asyncio.sleep(0.05)
    assert [await is_raster(n) for n in range(3)] == ["false", "true", "true"]
    tif = await new_session(client)
    await put_source(client, tif, image_bytes("tiff", frames=2))
    resp = await client.get("/PCCIS/V1/Page/q/1/Attributes", params={"DocumentID": f"u{tif}"})
    assert (await resp.json())["isRaster"] == "true"


EDGES = [  # documents whose page image at the scale is a fraction of a pixel smaller than the route's size
    ("odd.png", image_bytes("png", (301, 301), "navy"), 1.5, (), (256, 256, 196, 196)),
    ("a4.pdf", text_pdf(1, width_pt=595.28, height_pt=841.89), 1.0, ({"type": "text", "text": "DRAFT"},),
     (0, 1536, 512, 218)),
    ("small.pdf", text_pdf(1, width_pt=100.3, height_pt=100.3, lines=1), 8.0, (MARK,), (0, 0, 1672, 1672)),
    ("odd.png", image_bytes("png", (310, 310), "navy"), 0.05, (MARK,), (0, 0, 16, 16)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "scale", "marks", "box"), EDGES, ids=[str(e[4]) for e in EDGES])
def test_tiles_at_the_far_edges_are_drawn(tmp_path, name, data, scale, marks, box):
    doc = _open(tmp_path, name, data)
    tile = _draw(doc, RenderSpec("png", scale=scale, watermarks=marks, tile=box), tmp_path / "t.png")
    assert tile.size == box[2:]


def test_a_pdf_tile_has_the_pixels_of_the_whole_page_exactly(tmp_path):
    doc = _open(tmp_path, "a.pdf", text_pdf(3))
    for scale, box in ((1.0, (100, 137, 333, 211)), (2.0, (511, 777, 300, 300)), (1.0, (120, 150, 256, 256))):
        whole = _draw(doc, RenderSpec("png", scale=scale), tmp_path / "whole.png")
        tile = _draw(doc, RenderSpec("png", scale=scale, tile=box), tmp_path / "tile.png")
        x, y, w, h = box
        # on the page's pixel grid (glyph anti-aliasing differs a little): a pixel off is far worse
        assert _difference(tile, whole.crop((x, y, x + w, y + h))) < 1.5, (scale, box)
        assert _difference(tile, whole.crop((x, y + 1, x + w, y + h + 1))) > 5, (scale, box)


@pytest.mark.parametrize("depth", [0, 1, 3, 6, 20])
def test_text_nested_in_forms_however_deep_makes_a_page_not_a_picture(tmp_path, depth):
    visible = _open(tmp_path, "v.pdf", scan_with_nested_text_pdf(depth))
    assert raster_pages(visible, 5.0)["rasterPages"] == []
    for mode in (3, 7):  # invisible and clip-only text, as OCR layers are drawn
        hidden = _open(tmp_path, f"h{mode}.pdf", scan_with_nested_text_pdf(depth, mode))
        assert raster_pages(hidden, 5.0)["rasterPages"] == ([0] if depth <= 16 else [])
