"""Watermarks through the API: validation paths, viewer pages and conversion outputs."""

import ctypes
import io

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from tests.docgen import image_bytes, text_pdf
from tests.helpers import convert, download, poll, upload
from tests.test_viewing import new_session, page, png_of, put_source

RED_CORNER = {
    "type": "text",
    "text": "CONFIDENTIAL",
    "color": "red",
    "fontSize": "40pt",
    "horizontalAlign": "right",
    "verticalAlign": "bottom",
}


def red_mask(image: Image.Image) -> Image.Image:
    """255 where a pixel is clearly red, else 0."""
    r, g, b = image.convert("RGB").split()
    red = Image.eval(r, lambda v: 255 if v > 200 else 0)
    not_green = Image.eval(g, lambda v: 255 if v < 80 else 0)
    not_blue = Image.eval(b, lambda v: 255 if v < 80 else 0)
    black = Image.new("L", image.size, 0)
    return Image.composite(Image.composite(red, black, not_green), black, not_blue)


def red_pixels(image: Image.Image) -> int:
    return red_mask(image).histogram()[255]


def red_box(image: Image.Image) -> tuple[int, int, int, int]:
    box = red_mask(image).getbbox()
    assert box is not None
    return box


@pytest.mark.parametrize(
    ("mark", "at"),
    [
        ({"type": "stamp"}, "watermarks[0].type"),
        ({"type": "text"}, "watermarks[0].text"),
        ({"type": "image"}, "watermarks[0].src"),
        ({"type": "text", "text": "x", "opacity": 1.5}, "watermarks[0].opacity"),
        ({"type": "text", "text": "x", "color": "not-a-colour"}, "watermarks[0].color"),
        ({"type": "text", "text": "x", "fontSize": "12px"}, "watermarks[0].fontSize"),
        ({"type": "text", "text": "x", "fontSize": "-3pt"}, "watermarks[0].fontSize"),
        ({"type": "text", "text": "x", "horizontalAlign": "middle"}, "watermarks[0].horizontalAlign"),
        ({"type": "text", "text": "x", "verticalAlign": "center"}, "watermarks[0].verticalAlign"),
        ({"type": "diagonalText", "text": "x", "slope": "sideways"}, "watermarks[0].slope"),
        ({"type": "text", "text": "x", "textDecoration": "underline"}, "watermarks[0].textDecoration"),
        ({"type": "text", "text": "x", "fontWeight": "heavy"}, "watermarks[0].fontWeight"),
        ({"type": "text", "text": "x", "fontStyle": "oblique"}, "watermarks[0].fontStyle"),
        ({"type": "image", "src": "AAAAAAAAAAAAAAAAAAAAAA"}, "watermarks[0].src"),
        ({"type": "image", "src": "x", "autoSize": "cover"}, "watermarks[0].autoSize"),
        ({"type": "image", "src": "x", "scale": 2}, "watermarks[0].scale"),
        ({"type": "text", "text": "x" * 1001}, "watermarks[0].text"),
        ({"type": "text", "text": "x", "glow": True}, "watermarks[0].glow"),
    ],
)
async def test_every_property_is_validated_with_its_path(client, mark, at):
    resp = await client.post("/PCCIS/V1/ViewingSession", json={"watermarks": [mark]})
    body = await resp.json()
    assert resp.status == 480, body
    assert body["errorCode"] == "InvalidInput"
    assert body["errorDetails"]["at"] == at
    wf = await upload(client, text_pdf(1))
    resp = await client.post(
        "/v2/contentConverters",
        json={"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "png", "watermarks": [mark]}}},
    )
    body = await resp.json()
    assert resp.status == 480, body
    assert body["errorDetails"]["at"] == "input.dest." + at


async def test_viewer_pages_and_thumbnails_are_watermarked_and_not_shared(client, worker):
    data = text_pdf(2)
    marked = await new_session(client, watermarks=[RED_CORNER])
    await put_source(client, marked, data)
    plain = await new_session(client)
    await put_source(client, plain, data)
    with_mark = await png_of(await page(client, marked, 0))
    without = await png_of(await page(client, plain, 0))
    assert red_pixels(with_mark) > 500
    assert red_pixels(without) == 0
    # bottom right, inside the 5% margins
    _, _, right, bottom = red_box(with_mark)
    margin = 0.05 * with_mark.width
    assert with_mark.width - margin - 10 < right <= with_mark.width - margin + 1
    assert with_mark.height - margin - 40 < bottom <= with_mark.height - margin + 1
    thumb = await png_of(await client.get("/PCCIS/V1/Page/q/0/300x300", params={"DocumentID": f"u{marked}"}))
    assert red_pixels(thumb) > 10
    # a second plain session still gets clean pages (cache shared among unwatermarked sessions only)
    again = await new_session(client)
    await put_source(client, again, data)
    assert red_pixels(await png_of(await page(client, again, 0))) == 0


async def test_image_watermark_from_a_work_file(client, worker):
    logo = io.BytesIO()
    Image.new("RGBA", (100, 100), (255, 0, 0, 255)).save(logo, "PNG")
    logo_id = (await upload(client, logo.getvalue(), "png"))["fileId"]
    sid = await new_session(
        client, watermarks=[{"type": "image", "src": logo_id, "autoSize": "stretch", "opacity": 0.5}]
    )
    await put_source(client, sid, text_pdf(1))
    image = await png_of(await page(client, sid, 0))
    assert image.convert("RGB").getpixel((5, 5)) in ((255, 127, 127), (255, 128, 128))


async def test_oversize_watermark_image_is_a_clear_error(client, worker):
    huge = io.BytesIO()
    Image.new("1", (20000, 20000)).save(huge, "PNG")
    huge_id = (await upload(client, huge.getvalue(), "png"))["fileId"]
    sid = await new_session(client, watermarks=[{"type": "image", "src": huge_id}])
    await put_source(client, sid, text_pdf(1))
    resp = await page(client, sid, 0)
    assert resp.status == 580
    assert resp.headers["Accusoft-Status-Message"] == "The watermark image is too large"
    assert (await resp.json())["errorCode"] == "WatermarkImageTooLarge"


async def test_conversion_outputs_carry_watermarks(client, worker):
    wf = await upload(client, text_pdf(2))
    for fmt in ("png", "jpeg", "tiff"):
        body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": fmt, "watermarks": [RED_CORNER]}}}
        final = await poll(client, (await convert(client, body))["processId"], interval_s=0.05)
        assert final["state"] == "complete", final
        data, _ = await download(client, final["output"]["results"][0]["fileId"])
        assert red_pixels(Image.open(io.BytesIO(data))) > 500, fmt
    assert final["input"]["dest"]["watermarks"] == [RED_CORNER]


async def test_pdf_output_keeps_text_vector_with_text_watermarks(client, worker):
    wf = await upload(client, text_pdf(2))
    diagonal = {"type": "diagonalText", "text": "DRAFT", "fontSize": "90pt", "color": "blue", "opacity": 0.3}
    body = {
        "input": {
            "sources": [{"fileId": wf["fileId"]}],
            "dest": {"format": "pdf", "watermarks": [RED_CORNER, diagonal]},
        }
    }
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.05)
    assert final["state"] == "complete", final
    data, _ = await download(client, final["output"]["results"][0]["fileId"])
    pdf = pdfium.PdfDocument(data)
    page_ = pdf[0]
    text = page_.get_textpage().get_text_range()
    assert "Line 1 of page 1" in text and "CONFIDENTIAL" in text and "DRAFT" in text
    kinds = {obj.type for obj in page_.get_objects()}
    assert pdfium_c.FPDF_PAGEOBJ_IMAGE not in kinds  # nothing was rasterised
    assert red_pixels(page_.render(scale=150 / 72).to_pil()) > 500


async def test_pdf_output_with_an_image_watermark_is_rasterised(client, worker):
    logo = io.BytesIO()
    Image.new("RGBA", (100, 100), (255, 0, 0, 255)).save(logo, "PNG")
    logo_id = (await upload(client, logo.getvalue(), "png"))["fileId"]
    src = await upload(client, image_bytes("PNG", (600, 800), color="white"), "png")
    mark = {"type": "image", "src": logo_id, "scale": 0.5, "horizontalAlign": "left", "verticalAlign": "top"}
    body = {"input": {"sources": [{"fileId": src["fileId"]}], "dest": {"format": "pdf", "watermarks": [mark]}}}
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.05)
    assert final["state"] == "complete", final
    data, _ = await download(client, final["output"]["results"][0]["fileId"])
    rendered = pdfium.PdfDocument(data)[0].render(scale=1).to_pil()
    left, top, right, bottom = red_box(rendered)  # page 288x384 pt: margin 14, logo 0.5 x 288 = 144
    assert abs(left - 14) <= 2 and abs(top - 14) <= 2
    assert abs((right - left) - 144) <= 3 and abs((bottom - top) - 144) <= 3


async def test_pdf_output_sizes_vector_text_watermarks_to_the_page(client, worker):
    wf = await upload(client, text_pdf(1))
    marks = [
        {"type": "diagonalText", "text": "DRAFT", "color": "blue"},  # no fontSize: spans the diagonal
        {"type": "text", "text": "CONFIDENTIAL", "color": "red", "fontSize": "40pt", "verticalAlign": "top"},
        {"type": "text", "text": "COPY", "color": "red", "autoSize": "fit", "verticalAlign": "bottom"},
    ]
    body = {"input": {"sources": [{"fileId": wf["fileId"]}], "dest": {"format": "pdf", "watermarks": marks}}}
    final = await poll(client, (await convert(client, body))["processId"], interval_s=0.05)
    assert final["state"] == "complete", final
    data, _ = await download(client, final["output"]["results"][0]["fileId"])
    page_ = pdfium.PdfDocument(data)[0]
    width, height = page_.get_size()
    margin = 0.05 * min(width, height)
    marks_found = []  # (font size, bounds) of the red and blue text objects: the watermarks
    for obj in page_.get_objects():
        rgba, size = [ctypes.c_uint() for _ in range(4)], ctypes.c_float()
        pdfium_c.FPDFPageObj_GetFillColor(obj.raw, *rgba)
        if obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT and [v.value for v in rgba[:3]] in ([0, 0, 255], [255, 0, 0]):
            pdfium_c.FPDFTextObj_GetFontSize(obj.raw, size)
            marks_found.append((size.value, obj.get_bounds()))
    (explicit, _), *sized = sorted(marks_found)
    assert explicit == 40 and len(sized) == 2  # the explicit 40pt stays 40pt
    for size, (left, bottom, right, top) in sized:  # the diagonal default and the fitted text fill the margins
        assert size > 100
        assert left >= margin - 0.5 and right <= width - margin + 0.5
        assert bottom >= margin - 0.5 and top <= height - margin + 0.5
        assert right - left >= 0.95 * (width - 2 * margin) or top - bottom >= 0.95 * (height - 2 * margin)
    text = page_.get_textpage().get_text_range()
    assert "DRAFT" in text and "COPY" in text and "CONFIDENTIAL" in text
