"""Odd and hostile image files, read by the one reader that every image path uses."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vit_bert.data.image_reading import decode_uint8, open_image
from vit_bert.errors import DataError


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(Image.new("L", (12_000, 10_000))))  # 120 M pixels, a few hundred kB
    with pytest.raises(DataError, match=r"bomb\.png is 12000 x 10000 = 120,000,000 pixels, over the limit of 89,478,485; raise --data.max_image_pixels"):
        open_image(path)
    with pytest.raises(DataError, match=r"over the limit of 1,000; raise --max_image_pixels"):
        open_image(png_bytes(Image.new("RGB", (40, 30))), max_pixels=1000, option="--max_image_pixels")
    assert open_image(png_bytes(Image.new("RGB", (40, 30))), max_pixels=1200).size == (40, 30)
    huge = png_bytes(Image.new("1", (20_000, 10_000)))  # 200 M pixels: past twice PIL's own limit, which refuses at open
    with pytest.raises(DataError, match=r"the image is 200,000,000 pixels, over the limit of 89,478,485"):
        open_image(huge)
    assert open_image(huge, channels=1, max_pixels=None).size == (20_000, 10_000)  # a trusted file, read on request
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # PIL's own limit is back


def test_exif_orientation_is_applied():
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :20] = 255  # left half white
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to view": a phone held upright
    read = decode_uint8(png_bytes(image, format="JPEG", exif=exif, quality=95))
    assert read.shape == (3, 40, 20)  # portrait, as the phone showed it
    assert read[:, :20].float().mean() > 200 and read[:, 20:].float().mean() < 50  # the white half is on top


def test_sixteen_bit_grey_reads_as_its_eight_bit_copy():
    eight = np.arange(256, dtype=np.uint8).reshape(16, 16)
    sixteen = Image.fromarray(eight.astype(np.uint16) * 257)  # mode I;16: 65535 is white
    assert sixteen.mode.startswith("I;16")
    assert torch.equal(decode_uint8(png_bytes(sixteen)), decode_uint8(png_bytes(Image.fromarray(eight))))
    assert decode_uint8(png_bytes(sixteen), channels=1).max() == 255


def test_cmyk_palette_with_alpha_and_grey_alpha_become_rgb():
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red
    assert decode_uint8(png_bytes(cmyk, format="JPEG", quality=100))[:, 4, 4].tolist()[0] > 240
    palette = Image.new("P", (8, 8))
    palette.putpalette([10, 20, 30] * 256)
    palette.info["transparency"] = 0
    for image in (palette, Image.new("LA", (8, 8), (90, 128)), Image.new("RGBA", (8, 8), (1, 2, 3, 4))):
        read = decode_uint8(png_bytes(image))
        assert read.shape == (3, 8, 8) and read.dtype == torch.uint8
    assert decode_uint8(png_bytes(palette))[:, 0, 0].tolist() == [10, 20, 30]


def test_an_animated_file_reads_its_first_frame():
    frames = [Image.new("RGB", (8, 8), color) for color in ((250, 0, 0), (0, 250, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    first = decode_uint8(buffer.getvalue())
    assert first[0].float().mean() > 200 and first[1].float().mean() < 50


def test_float_pixels_are_refused_with_what_to_do():
    with pytest.raises(DataError, match="floating-point pixels, whose range vit_bert cannot know; save it as 8- or 16-bit"):
        open_image(png_bytes(Image.new("F", (8, 8)), format="TIFF"))


def test_a_truncated_jpeg_is_an_error_not_half_an_image(tmp_path):
    full = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)), format="JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match=r"cannot read image .*cut\.jpg \(OSError: image file is truncated"):
        open_image(path)
    with pytest.raises(DataError, match=r"cannot read the image \(UnidentifiedImageError"):
        open_image(b"not an image at all")
