"""Masked-image head: the encoder's patch tokens back to the pixels of their patches (SimMIM).

Shapes: patch tokens (B, N, D) -> pixels (B, N, P * P * C), one row per patch in the order of
``patchify``: (p1 p2 c), row-major over the patch grid.

During pretraining the front-end puts ``mask_token`` (a learned D-vector) in place of each
masked patch's embedding; the head owns it so that fine-tuning, which drops this head, drops
the token with it. The head is one Linear layer: SimMIM found a light head enough, and it
leaves the learning to the encoder.
"""

from __future__ import annotations

import torch
from einops import rearrange
from timm.layers import trunc_normal_
from torch import nn


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, P * P * C): each row is one P x P patch, flattened as (p1 p2 c)."""
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


class PixelHead(nn.Module):
    def __init__(self, dim: int, patch_size: int, in_chans: int):
        super().__init__()
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.proj = nn.Linear(dim, patch_size * patch_size * in_chans)
        trunc_normal_(self.mask_token, std=0.02)
        trunc_normal_(self.proj.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)

    def forward(self, patch_tokens: torch.Tensor) -> torch.Tensor:
        return self.proj(patch_tokens)
