"""Watermark drawing checked on pixels: placement, margins, opacity, slope, autoSize (images and text), limits."""

import io
import math
import time

import pypdfium2 as pdfium
import pytest
from PIL import Image

from workers.render.stamp import (
    MARGIN,
    WatermarkError,
    apply_watermarks,
    load_picture,
    parse_marks,
    stamp_pdf_page,
)

W, H = 1275, 1650  # US letter at 150 dpi
PX_PER_PT = 150 / 72
SEED_TEXT = "jdoe\n67.79.169.114\n11/13/2014 2:24 PM\nNOT FOR DISTRIBUTION"


def draw(*marks, size=(W, H), pictures=None, px_per_pt=PX_PER_PT):
    page = Image.new("RGB", size, "white")
    return apply_watermarks(page, parse_marks(list(marks)), px_per_pt, pictures or {})


def ink_box(image: Image.Image) -> tuple[int, int, int, int]:
    """Bounding box of every pixel that is not white."""
    grey = image.convert("L").point(lambda v: 255 if v < 250 else 0)
    box = grey.getbbox()
    assert box is not None, "nothing was drawn"
    return box


def ink_angle(image: Image.Image) -> float:
    """Orientation (degrees, counter-clockwise, y up) of the ink's principal axis."""
    grey = image.convert("L")
    pts = [(x, -y) for y in range(0, image.height, 3) for x in range(0, image.width, 3) if grey.getpixel((x, y)) < 200]
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    syy = sum((p[1] - my) ** 2 for p in pts)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in pts)
    return math.degrees(0.5 * math.atan2(2 * sxy, sxx - syy))


def dark_pixels(image: Image.Image) -> int:
    return sum(image.convert("L").histogram()[:128])


MARGIN_PX = round(MARGIN * min(W, H))


@pytest.mark.parametrize(
    ("h", "v"),
    [("left", "top"), ("center", "top"), ("right", "top"), ("left", "middle"), ("center", "middle"),
     ("right", "middle"), ("left", "bottom"), ("center", "bottom"), ("right", "bottom")],
)  # fmt: skip
def test_text_alignment_keeps_sensible_margins(h, v):
    image = draw(
        {"type": "text", "text": "Hello watermark", "fontSize": "30pt", "horizontalAlign": h, "verticalAlign": v}
    )
    left, top, right, bottom = ink_box(image)
    assert left >= MARGIN_PX - 1 and right <= W - MARGIN_PX + 1
    assert top >= MARGIN_PX - 1 and bottom <= H - MARGIN_PX + 1
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    expected_x = {"left": None, "center": W / 2, "right": None}[h]
    if h == "left":
        assert left - MARGIN_PX < 8
    elif h == "right":
        assert W - MARGIN_PX - right < 8
    else:
        assert abs(centre_x - expected_x) < 6
    if v == "top":
        assert top - MARGIN_PX < 32  # the line box has room above capitals
    elif v == "bottom":
        assert H - MARGIN_PX - bottom < 32  # room for descenders below the baseline
    else:
        assert abs(centre_y - H / 2) < 12


def test_seed_multiline_right_bottom_text_is_inside_the_margins_and_right_aligned():
    image = draw(
        {"type": "text", "opacity": 0.6, "text": SEED_TEXT, "color": "red", "fontFamily": "Consolas",
         "fontSize": "16pt", "fontWeight": "bold", "verticalAlign": "bottom", "horizontalAlign": "right"}
    )  # fmt: skip
    left, top, right, bottom = ink_box(image)
    assert right <= W - MARGIN_PX and bottom <= H - MARGIN_PX
    assert W - MARGIN_PX - right < 8 and H - MARGIN_PX - bottom < 20
    # each of the 4 lines ends at the same right edge (right alignment)
    grey = image.convert("L")
    rows = [y for y in range(top, bottom + 1) if any(grey.getpixel((x, y)) < 250 for x in range(left, right + 1))]
    bands, start = [], rows[0]
    for a, b in zip(rows, [*rows[1:], None], strict=False):
        if b is None or b > a + 1:
            bands.append((start, a))
            start = b
    assert len(bands) == 4
    rights = [
        max(x for y in range(b0, b1 + 1) for x in range(left, right + 1) if grey.getpixel((x, y)) < 250)
        for b0, b1 in bands
    ]
    assert max(rights) - min(rights) <= 3
    # colour: red at opacity 0.6 over white
    reds = [
        image.getpixel((x, y))
        for y in range(top, bottom)
        for x in range(left, right)
        if image.getpixel((x, y))[1] < 120
    ]
    assert reds and all(p[0] > 240 for p in reds)
    darkest_green = min(p[1] for p in reds)
    assert abs(darkest_green - round(255 * 0.4)) <= 4


@pytest.mark.parametrize("opacity", [0.25, 0.5, 1.0])
def test_opacity_blends_with_the_page(opacity):
    image = draw({"type": "text", "text": "MMMM", "fontSize": "60pt", "color": "#000000", "opacity": opacity})
    darkest = image.convert("L").getextrema()[0]
    assert abs(darkest - round(255 * (1 - opacity))) <= 3


@pytest.mark.parametrize(("slope", "sign"), [("up", 1), ("down", -1)])
@pytest.mark.parametrize("size", [(W, H), (H, W), (1000, 1000)])
def test_diagonal_text_follows_the_page_diagonal(slope, sign, size):
    image = draw(
        {"type": "diagonalText", "text": "CONFIDENTIAL DOCUMENT", "fontSize": "60pt", "slope": slope}, size=size
    )
    expected = sign * math.degrees(math.atan2(size[1], size[0]))
    assert abs(ink_angle(image) - expected) < 3
    left, top, right, bottom = ink_box(image)
    assert abs((left + right) / 2 - size[0] / 2) < 10 and abs((top + bottom) / 2 - size[1] / 2) < 10


def test_font_size_scales_with_the_render_resolution():
    small = ink_box(draw({"type": "text", "text": "Scale", "fontSize": "20pt"}, px_per_pt=1.0))
    large = ink_box(draw({"type": "text", "text": "Scale", "fontSize": "20pt"}, px_per_pt=2.0))
    ratio = (large[2] - large[0]) / (small[2] - small[0])
    assert 1.9 < ratio < 2.1


def test_underline_bold_italic_change_the_ink():
    plain = draw({"type": "text", "text": "Decorated", "fontSize": "40pt"})
    underlined = draw({"type": "text", "text": "Decorated", "fontSize": "40pt", "textDecoration": "underlined"})
    assert ink_box(underlined)[3] > ink_box(plain)[3] + 3  # a line below the baseline
    bold = draw({"type": "text", "text": "Decorated", "fontSize": "40pt", "fontWeight": "bold"})
    assert dark_pixels(bold) > 1.3 * dark_pixels(plain)
    italic = draw({"type": "text", "text": "Decorated", "fontSize": "40pt", "fontStyle": "italic"})
    assert italic.tobytes() != plain.tobytes()


def picture(size=(200, 100), color=(255, 0, 0, 255)) -> Image.Image:
    return Image.new("RGBA", size, color)


def test_image_auto_size_fit_fill_stretch_and_scale():
    page = (1000, 1000)
    mark = {"type": "image", "src": "x"}
    fit = draw({**mark, "autoSize": "fit"}, size=page, pictures={0: picture()})
    assert ink_box(fit) == (0, 250, 1000, 750)
    fill = draw({**mark, "autoSize": "fill"}, size=page, pictures={0: picture()})
    assert ink_box(fill) == (0, 0, 1000, 1000)
    stretch = draw({**mark, "autoSize": "stretch"}, size=page, pictures={0: picture((10, 700))})
    assert ink_box(stretch) == (0, 0, 1000, 1000)
    scaled = draw(
        {**mark, "scale": 0.5, "horizontalAlign": "right", "verticalAlign": "top"}, size=page, pictures={0: picture()}
    )
    margin = round(MARGIN * 1000)
    assert ink_box(scaled) == (1000 - margin - 500, margin, 1000 - margin, margin + 250)
    default = draw(mark, size=page, pictures={0: picture()})  # scale 0.25, centred
    assert ink_box(default) == (375, 437, 625, 562)


def test_image_opacity_and_its_own_transparency():
    image = draw(
        {"type": "image", "src": "x", "autoSize": "stretch", "opacity": 0.4}, size=(100, 100), pictures={0: picture()}
    )
    assert image.getpixel((50, 50)) == (255, 153, 153)
    half = picture((100, 100), (0, 0, 255, 128))
    image = draw({"type": "image", "src": "x", "autoSize": "stretch"}, size=(100, 100), pictures={0: half})
    assert all(abs(a - b) <= 1 for a, b in zip(image.getpixel((50, 50)), (127, 127, 255), strict=True))


def test_a_thousand_characters_stay_on_the_page_in_bounded_time():
    text = ("x" * 99 + "\n") * 10
    started = time.perf_counter()
    image = draw(
        {"type": "text", "text": text[:1000], "fontSize": "100pt", "horizontalAlign": "left", "verticalAlign": "top"}
    )
    assert time.perf_counter() - started < 5
    left, top, right, bottom = ink_box(image)
    assert left >= MARGIN_PX - 1 and top >= MARGIN_PX - 1 and right <= W - MARGIN_PX + 1 and bottom <= H - MARGIN_PX + 1
    one_line = draw({"type": "diagonalText", "text": "y" * 1000, "fontSize": "100pt"})
    box = ink_box(one_line)
    assert box[0] >= 0 and box[2] <= W and box[1] >= 0 and box[3] <= H


def test_huge_or_foreign_watermark_images_are_refused(tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("1", (20000, 20000)).save(huge)  # 400 MP, a few hundred KB on disk
    with pytest.raises(WatermarkError) as exc:
        load_picture(str(huge))
    assert exc.value.code == "WatermarkImageTooLarge"
    jpeg = tmp_path / "logo.jpg"
    Image.new("RGB", (10, 10)).save(jpeg, "JPEG")
    with pytest.raises(WatermarkError) as exc:
        load_picture(str(jpeg))
    assert exc.value.code == "WatermarkImageNotPng"
    broken = tmp_path / "broken.png"
    buf = io.BytesIO()
    Image.new("RGB", (50, 50)).save(buf, "PNG")
    broken.write_bytes(buf.getvalue()[:60])
    with pytest.raises(WatermarkError) as exc:
        load_picture(str(broken))
    assert exc.value.code == "WatermarkImageUnreadable"


def test_colour_names_and_hex_agree():
    named = draw({"type": "text", "text": "Colour", "fontSize": "40pt", "color": "darkblue"})
    hexed = draw({"type": "text", "text": "Colour", "fontSize": "40pt", "color": "#00008B"})
    assert named.tobytes() == hexed.tobytes()


A4 = (1240, 1754)  # A4 at 150 dpi
A4_MARGIN = round(MARGIN * min(A4))


def inside_margins(box, size=A4) -> bool:
    margin = round(MARGIN * min(size))
    left, top, right, bottom = box
    return left >= margin - 1 and top >= margin - 1 and right <= size[0] - margin + 1 and bottom <= size[1] - margin + 1


def test_a_diagonal_text_without_a_font_size_spans_the_page_diagonal():
    image = draw({"type": "diagonalText", "text": "DRAFT"}, size=A4)
    left, top, right, bottom = box = ink_box(image)
    assert right - left >= 0.85 * A4[0] and bottom - top >= 0.8 * A4[1]  # was 58 x 76 px at 12pt
    assert inside_margins(box)
    assert abs(ink_angle(image) - math.degrees(math.atan2(A4[1], A4[0]))) < 3


def test_explicit_font_sizes_and_plain_text_keep_their_size():
    for mark, expected in [
        ({"type": "diagonalText", "text": "DRAFT", "fontSize": "12pt"}, (591, 838, 649, 914)),
        ({"type": "text", "text": "DRAFT"}, (581, 867, 661, 885)),  # text without fontSize: 12pt
        ({"type": "text", "text": "DRAFT", "fontSize": "12pt"}, (581, 867, 661, 885)),
        ({"type": "diagonalText", "text": "DRAFT", "fontSize": "90pt"}, (405, 592, 835, 1159)),
    ]:  # boxes measured before autoSize applied to text
        assert ink_box(draw(mark, size=A4)) == expected, mark


@pytest.mark.parametrize("size", [A4, (A4[1], A4[0])])
@pytest.mark.parametrize(("h", "v"), [("center", "middle"), ("left", "top"), ("right", "bottom")])
def test_auto_size_fit_makes_text_as_large_as_the_margins_allow(size, h, v):
    for text in ("DRAFT", "jdoe\nNOT FOR DISTRIBUTION"):
        mark = {"type": "text", "text": text, "fontSize": "8pt", "autoSize": "fit", "horizontalAlign": h}
        left, top, right, bottom = box = ink_box(draw({**mark, "verticalAlign": v}, size=size))
        inner_w, inner_h = size[0] - 2 * round(MARGIN * min(size)), size[1] - 2 * round(MARGIN * min(size))
        assert inside_margins(box, size)
        assert right - left >= 0.95 * inner_w or bottom - top >= 0.95 * inner_h, text
    if h == "left":
        assert left - round(MARGIN * min(size)) <= 3
    if v == "bottom":
        assert size[1] - round(MARGIN * min(size)) - bottom <= 3


def test_auto_size_fit_on_a_diagonal_text_measures_along_the_diagonal():
    fit = draw({"type": "diagonalText", "text": "CONFIDENTIAL", "fontSize": "200pt", "autoSize": "fit"}, size=A4)
    left, top, right, bottom = box = ink_box(fit)
    assert inside_margins(box)
    inner_w, inner_h = A4[0] - 2 * A4_MARGIN, A4[1] - 2 * A4_MARGIN
    assert right - left >= 0.95 * inner_w or bottom - top >= 0.95 * inner_h
    assert abs(ink_angle(fit) - math.degrees(math.atan2(A4[1], A4[0]))) < 3


def test_auto_size_fill_covers_the_page_and_stretch_spans_it():
    fill = draw({"type": "text", "text": "DRAFT", "autoSize": "fill"}, size=A4)
    assert ink_box(fill) == (0, 0, *A4)  # as tall as the page, wider than it
    stretch = draw({"type": "text", "text": "DRAFT", "autoSize": "stretch"}, size=A4)
    assert ink_box(stretch) == (0, 0, *A4)
    fit = draw({"type": "text", "text": "DRAFT", "autoSize": "fit"}, size=A4)
    assert dark_pixels(stretch) > 2 * dark_pixels(fit)  # stretched in y, not only fitted in x
    diagonal = draw({"type": "diagonalText", "text": "DRAFT", "slope": "down", "autoSize": "stretch"}, size=A4)
    left, top, right, bottom = ink_box(diagonal)
    assert right - left >= A4[0] - 3 and bottom - top >= A4[1] - 3
    assert abs(ink_angle(diagonal) + math.degrees(math.atan2(A4[1], A4[0]))) < 3  # still along the diagonal


def test_auto_sized_text_stays_within_the_drawing_limit():
    started = time.perf_counter()
    image = draw({"type": "text", "text": "y" * 1000, "autoSize": "fill"}, size=A4)
    assert time.perf_counter() - started < 5
    assert ink_box(image)[0] == 0  # wider than the page, cut off on both sides


@pytest.mark.parametrize("mode", ["fill", "stretch"])
def test_pdf_vector_text_fills_and_stretches_like_pixels(mode):
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(595, 842)  # A4 in points
    stamp_pdf_page(pdf, page, parse_marks([{"type": "text", "text": "DRAFT", "autoSize": mode}]))
    rendered = page.render(scale=1).to_pil()
    left, top, right, bottom = ink_box(rendered)
    assert top <= 1 and bottom >= 841  # as tall as the page (the font box, so letters nearly)
    assert (left <= 1 and right >= 594) if mode == "stretch" else right - left > 500
    plain = pdfium.PdfDocument.new()
    small = plain.new_page(595, 842)
    stamp_pdf_page(plain, small, parse_marks([{"type": "text", "text": "DRAFT", "fontSize": "12pt"}]))
    _, top, _, bottom = ink_box(small.render(scale=1).to_pil())
    assert bottom - top < 12  # an explicit 12pt stays 12pt
