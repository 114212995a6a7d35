"""Encoding a rendered page (PNG, JPEG, TIFF) and hashing what was written."""

import hashlib
import struct
import zlib
from types import ModuleType

from PIL import Image, ImageChops

from workers.render.spec import RenderSpec

try:
    import fpng  # type: ignore[import-untyped]
except ImportError:  # optional accelerator; Pillow's encoder is the fallback
    fpng = None

deflate: ModuleType
try:
    from isal import isal_zlib as deflate  # ISA-L's deflate: a grey text page in ~1 ms (zlib: ~9 ms)
except ImportError:  # optional accelerator; the standard library's zlib is the fallback
    deflate = zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hash_file(path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def is_grey(image: Image.Image) -> bool:
    """True when an RGB image has no colour at all (R == G == B everywhere)."""
    red, green, blue = image.split()
    return ImageChops.difference(red, green).getbbox() is None and ImageChops.difference(green, blue).getbbox() is None


def compact(image: Image.Image) -> Image.Image:
    """A colourless page as one grey channel: identical pixels, a third of the bytes to encode.

    Text pages are usually colourless; PNG encoding then costs about a quarter of the time and
    the files shrink by more than half.
    """
    if image.mode == "RGB" and is_grey(image):
        return image.convert("L")
    return image


def encode(image: Image.Image, spec: RenderSpec, out_path: str) -> None:
    """Write one page image in the spec's format."""
    dpi = (spec.dpi, spec.dpi)
    if spec.format in ("png", "jpeg", "tiff"):
        image = compact(image)
    if spec.format == "png":
        if fpng is not None and image.mode in ("RGB", "RGBA"):
            # Colour pages: fpng writes standard, lossless PNG about ten times faster than zlib.
            with open(out_path, "wb") as fh:
                fh.write(fpng.from_pil(image))
        elif image.mode == "L":
            with open(out_path, "wb") as fh:
                fh.write(grey_png(image, spec.png_compress_level, spec.dpi))
        else:
            image.save(out_path, "PNG", compress_level=spec.png_compress_level, dpi=dpi)
    elif spec.format == "jpeg":
        rgb = image if image.mode in ("RGB", "L") else image.convert("RGB")
        rgb.save(out_path, "JPEG", quality=spec.jpeg_quality, dpi=dpi)
    elif spec.format == "tiff":
        image.save(out_path, "TIFF", compression="tiff_lzw", dpi=dpi)
    elif spec.format == "pdf":
        rgb = image if image.mode in ("RGB", "L", "1") else image.convert("RGB")
        rgb.save(out_path, "PDF", resolution=float(spec.dpi))
    else:
        raise ValueError(f"unknown format {spec.format}")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def deflate_level(zlib_level: int) -> int:
    """The deflate level for PAGEMILL_PNG_COMPRESS_LEVEL (zlib's 0-9; ISA-L has 0-3, its 1 already about
    as small as zlib's 3)."""
    if deflate is zlib:
        return zlib_level
    return 0 if zlib_level == 0 else min(3, (zlib_level + 2) // 3)


def grey_png(image: Image.Image, zlib_level: int, dpi: int) -> bytes:
    """A one-channel 8-bit PNG of `image` (mode L), written directly: Pillow tries all five row filters
    on every row (26 ms for a 150 dpi letter page); text pages compress as well unfiltered (no filter,
    each row as it is) and ISA-L deflates them in about a millisecond. The pixels are the same."""
    width, height = image.size
    raw = image.tobytes()
    rows = b"".join(b"\x00" + raw[y * width : (y + 1) * width] for y in range(height))
    ppm = int(dpi / 0.0254 + 0.5)  # pixels per metre, as Pillow writes them
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
            _chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)),
            _chunk(b"IDAT", deflate.compress(rows, deflate_level(zlib_level))),
            _chunk(b"IEND", b""),
        )
    )
