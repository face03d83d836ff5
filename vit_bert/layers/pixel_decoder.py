"""Masked-image decoder (MAE): the encoder's visible tokens back to the pixels of every patch.

Shapes: encoded (B, prefix + K, D) -- [CLS] (if any) + the K visible patches, in the order of their
indices ``kept`` (B, K) -> pixels (B, N, P * P * C), one row per patch in the order of ``patchify``:
(p1 p2 c), row-major over the patch grid. ``kept=None`` means every patch was visible (K = N).

The encoder saw only the visible patches. The decoder puts a learned ``mask_token`` at every hidden
place, adds fixed 2-D sin-cos positions (so it knows which patch each row is), runs one Block of the
encoder's width and projects each token to its patch's pixels. Fine-tuning drops the whole decoder.
"""

from __future__ import annotations

import torch
from einops import rearrange
from timm.layers import trunc_normal_
from torch import nn

from ..errors import InputError
from .block import Block
from .configs import EncoderConfig
from .pos_embed import sincos_2d


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, P * P * C): each row is one P x P patch, flattened as (p1 p2 c)."""
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


def unpatchify(patches: torch.Tensor, patch_size: int, grid: tuple[int, int]) -> torch.Tensor:
    """(B, N, P * P * C) -> (B, C, H, W), the inverse of ``patchify`` for a (h, w) patch grid."""
    return rearrange(patches, "b (h w) (p1 p2 c) -> b c (h p1) (w p2)", h=grid[0], w=grid[1], p1=patch_size, p2=patch_size)


class PixelDecoder(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, grid: tuple[int, int], num_prefix_tokens: int, patch_pixels: int,
                 ln_eps: float = 1e-6):
        super().__init__()
        self.grid, self.num_prefix_tokens = grid, num_prefix_tokens
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.block = Block(EncoderConfig(dim=dim, depth=1, heads=heads, mlp_ratio=mlp_ratio, ln_eps=ln_eps))
        self.out_norm = nn.LayerNorm(dim, eps=ln_eps)  # not 'norm': the MLM head's keys start with head.norm.
        self.proj = nn.Linear(dim, patch_pixels)
        positions = torch.cat([torch.zeros(num_prefix_tokens, dim), sincos_2d(grid, dim)])  # [CLS] gets no position
        self.register_buffer("positions", positions[None], persistent=False)
        trunc_normal_(self.mask_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, encoded: torch.Tensor, kept: torch.Tensor | None = None) -> torch.Tensor:
        prefix, patches = self.num_prefix_tokens, self.grid[0] * self.grid[1]
        tokens = encoded[:, prefix:]
        if kept is not None:
            if kept.shape != tokens.shape[:2]:
                raise InputError(f"kept has shape {tuple(kept.shape)}; expected one index per visible token, {tuple(tokens.shape[:2])}")
            full = self.mask_token.to(tokens.dtype).expand(len(tokens), patches, tokens.shape[-1]).clone()
            tokens = full.scatter(1, kept[..., None].expand(-1, -1, tokens.shape[-1]), tokens)
        if tokens.shape[1] != patches:
            raise InputError(f"the decoder was built for a {self.grid[0]}x{self.grid[1]} patch grid ({patches} patches); got {tokens.shape[1]}")
        tokens = torch.cat([encoded[:, :prefix], tokens], dim=1) + self.positions.to(tokens.dtype)
        return self.proj(self.out_norm(self.block(tokens)))[:, prefix:]
