"""Fixed 2D sine-cosine position embeddings (MoCo v3 / MAE style).

Shapes: grid (h, w), dim D (a multiple of 4) -> (h * w, D), row-major over the grid,
the same order as the patch tokens. A quarter of the channels each holds
sin(y), cos(y), sin(x), cos(x) at geometrically spaced frequencies.
"""

from __future__ import annotations

import torch
from einops import rearrange

from ..errors import ConfigError


def sincos_2d(grid: tuple[int, int], dim: int, temperature: float = 10000.0) -> torch.Tensor:
    if dim % 4:
        raise ConfigError(f"sin-cos position embeddings need dim divisible by 4; got {dim}")
    ys, xs = torch.meshgrid(torch.arange(grid[0], dtype=torch.float32), torch.arange(grid[1], dtype=torch.float32), indexing="ij")
    omega = 1.0 / temperature ** (torch.arange(dim // 4, dtype=torch.float32) / (dim // 4))
    y = rearrange(ys, "h w -> (h w) 1") * omega
    x = rearrange(xs, "h w -> (h w) 1") * omega
    return torch.cat([y.sin(), y.cos(), x.sin(), x.cos()], dim=1)
