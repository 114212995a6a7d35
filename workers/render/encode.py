"""Encoding a rendered page (PNG, JPEG, TIFF) and hashing what was written."""

import hashlib

from PIL import Image, ImageChops

from workers.render.spec import RenderSpec

try:
    import fpng  # type: ignore[import-untyped]
except ImportError:  # optional accelerator; Pillow's encoder is the fallback
    fpng = None


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
