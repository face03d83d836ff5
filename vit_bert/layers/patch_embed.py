"""Patch embedding: each P x P x C patch flattened to one vector, then one Linear layer.

Shapes: images (B, C, H, W) -> tokens (B, N, D), N = (H / P) * (W / P).
A 16 x 16 x 3 patch is 768 numbers: "patches as tokens". This is the same function as a
Conv2d with kernel = stride = P (see ``conv_weight``), written as the reshape it is.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn


class PatchEmbedding(nn.Module):
    """(B, C, H, W) -> (B, N, D): flatten non-overlapping P x P patches, then one Linear."""

    def __init__(self, patch_size: int = 16, in_chans: int = 3, dim: int = 768, bias: bool = True):
        super().__init__()
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.proj = nn.Linear(patch_size * patch_size * in_chans, dim, bias=bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        p = self.patch_size
        patches = rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=p, p2=p)
        return self.proj(patches)

    def reset_parameters(self) -> None:
        self.proj.reset_parameters()

    def conv_weight(self) -> torch.Tensor:
        """The same weights in Conv2d layout (D, C, P, P), e.g. to compare with timm's ``patch_embed.proj``."""
        p = self.patch_size
        return rearrange(self.proj.weight, "d (p1 p2 c) -> d c p1 p2", p1=p, p2=p)
