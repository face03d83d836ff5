"""Batches of images of different sizes as other libraries pack them -> a list of (C, H, W) images, for the image
front-end's ``forward_list``. Both carry each patch flattened in (row, column, channel) order, P * P * C values.

    timm NaFlex:  {"patches": (B, N, P*P*C), "patch_coord": (B, N, 2) (row, column) patch indices, "patch_valid": (B, N) bool}
    transformers (SigLIP 2): {"pixel_values": (B, N, P*P*C), "pixel_attention_mask": (B, N) 1 at real patches,
                  "spatial_shapes": (B, 2) each image's (rows, columns) of patches, its patches first in row-major order}
    images_from_patches(batch, patch_size, channels) -> [(C, rows * P, columns * P), ...]
"""

from __future__ import annotations

import torch
from einops import rearrange

from ..errors import InputError

TIMM_KEYS, HF_KEYS = ("patches", "patch_coord", "patch_valid"), ("pixel_values", "pixel_attention_mask", "spatial_shapes")


def _image(patches: torch.Tensor, rows: int, columns: int, patch_size: int, channels: int) -> torch.Tensor:
    return rearrange(patches, "(h w) (p1 p2 c) -> c (h p1) (w p2)", h=rows, w=columns, p1=patch_size, p2=patch_size, c=channels)


def images_from_patches(batch: dict, patch_size: int, channels: int) -> list[torch.Tensor]:
    keys = set(batch)
    if keys == set(TIMM_KEYS):
        patches, coords, valid = batch["patches"], batch["patch_coord"], batch["patch_valid"].bool()
    elif keys == set(HF_KEYS):
        patches, valid, shapes = batch["pixel_values"], batch["pixel_attention_mask"].bool(), batch["spatial_shapes"]
    else:
        raise InputError(f"a dict of images holds {sorted(keys)}; expected timm's NaFlex keys {list(TIMM_KEYS)} or transformers' "
                         f"{list(HF_KEYS)}")
    if patches.ndim != 3 or patches.shape[-1] != patch_size * patch_size * channels or valid.shape != patches.shape[:2]:
        raise InputError(f"patches of shape {tuple(patches.shape)} with a mask of {tuple(valid.shape)}: expected (B, N, {patch_size ** 2 * channels}) "
                         f"(patch {patch_size}, {channels} channels) and (B, N)")
    images = []
    for row in range(len(patches)):
        real = patches[row][valid[row]]
        if keys == set(TIMM_KEYS):  # the patches may come in any order: each goes to its (row, column)
            where = coords[row][valid[row]].long()
            rows, columns = (int(where[:, 0].max()) + 1, int(where[:, 1].max()) + 1) if len(where) else (0, 0)
            grid = real.new_zeros(rows * columns, real.shape[-1])
            if len(where) != rows * columns:
                raise InputError(f"image {row}: {len(where)} valid patches do not fill its {rows} x {columns} grid")
            grid[where[:, 0] * columns + where[:, 1]] = real
            real = grid
        else:
            rows, columns = (int(v) for v in shapes[row])
            if rows * columns != len(real):
                raise InputError(f"image {row}: spatial_shapes says {rows} x {columns} patches, pixel_attention_mask {len(real)}")
        if not len(real):
            raise InputError(f"image {row} has no valid patches")
        images.append(_image(real, rows, columns, patch_size, channels))
    return images
