"""Reading one image file safely: the size checked from the header before decoding, EXIF orientation, one pixel format.

    open_image(source, channels, max_pixels) -> PIL.Image in mode "RGB" (channels 3) or "L" (channels 1)
    decode_uint8(source, channels, max_pixels) -> (channels, H, W) uint8 tensor

``source`` is a path or the file's bytes. Every place that reads an image goes through here: training folders
(in memory and streamed), predict, viz and the explorer's upload. What it does with odd files:
- over ``max_pixels`` (PIL's own default, ~89.5M): refused from the header, before any pixel is decoded;
- EXIF orientation (phone photos): applied;
- CMYK, palette (with or without transparency), grey+alpha, RGBA: converted (alpha dropped, as timm and torchvision do);
- 16-bit grey: scaled to 8 bits (65535 -> 255), so an 8-bit and a 16-bit copy of one picture read the same;
- 32-bit integer or float pixels: refused (their range is not defined);
- animated files: the first frame;
- truncated or unreadable files: a DataError, never a hang or a half image.
"""

from __future__ import annotations

import io
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError

DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
"""PIL's default decompression-bomb limit: ~89.5 million pixels (a 9,459 x 9,459 image)."""

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}

_SIXTEEN_BIT_GREY = {"I;16", "I;16L", "I;16B", "I;16N"}
_PIL_LIMIT_LOCK = threading.Lock()
ORIENTATION = 0x0112  # the EXIF tag


def _name(source: str | Path | bytes) -> str:
    return "the image" if isinstance(source, bytes) else f"image {source}"


@contextmanager
def _pil_limit(max_pixels: int | None):
    """PIL refuses at open an image over twice its own limit; a caller's higher limit (or None) lifts PIL's while opening."""
    pil = Image.MAX_IMAGE_PIXELS
    if pil is None or (max_pixels is not None and max_pixels <= 2 * pil):
        yield
        return
    with _PIL_LIMIT_LOCK:
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = pil


def open_image(source: str | Path | bytes, channels: int = 3, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               option: str = "--data.max_image_pixels") -> Image.Image:
    """An image file (path or bytes) -> a decoded PIL image of ``channels`` (3: RGB, 1: L); ``option`` is what the
    over-the-limit message tells the user to raise."""
    name = _name(source)
    over = f"over the limit of {max_pixels:,}; raise {option} if the file is trusted" if max_pixels else ""
    try:
        with _pil_limit(max_pixels), Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise DataError(f"{name} is {width} x {height} = {width * height:,} pixels, {over}")
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # animated: the first frame
            image.load()
            if image.getexif().get(ORIENTATION, 1) != 1:  # exif_transpose copies even an upright image: only when needed
                image = ImageOps.exif_transpose(image)
            return _convert(image, channels, name)
    except DataError:
        raise
    except Image.DecompressionBombError as err:  # PIL's own check at open, past twice its limit
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        raise DataError(f"{name} is {int(pixels.group(1)):,} pixels, {over}" if pixels else f"{name}: {err}") from None
    except Exception as err:  # noqa: BLE001 PIL's decoders raise many kinds on a corrupt file (OSError, IndexError, TypeError, zlib.error ...)
        raise DataError(f"cannot read {name} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'corrupt'})") from None


def _convert(image: Image.Image, channels: int, name: str) -> Image.Image:
    if image.mode in _SIXTEEN_BIT_GREY:
        scaled = (np.asarray(image, dtype=np.float32) / 257.0).round().astype(np.uint8)
        image = Image.fromarray(scaled, mode="L")
    elif image.mode in ("I", "F"):
        raise DataError(f"{name} has {'32-bit integer' if image.mode == 'I' else 'floating-point'} pixels, whose range "
                        "vit_bert cannot know; save it as 8- or 16-bit")
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    mode = "L" if channels == 1 else "RGB"
    return image if image.mode == mode else image.convert(mode)


def decode_uint8(source: str | Path | bytes, channels: int = 3, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """An image file -> (channels, H, W) uint8."""
    array = np.asarray(open_image(source, channels, max_pixels))
    tensor = torch.from_numpy(array.copy())
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def header_size(source: str | Path | bytes) -> tuple[int, int] | None:
    """(width, height) from the file's header, without decoding; None when the header cannot be read."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
