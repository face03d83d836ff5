"""Rotary position embeddings (RoPE): one implementation for text (1-D) and images (2-D axial).

Shapes: TokenPositions.coords (N, A) or (B, N, A) -> rotary_tables(...): Rotation.cos / .sin (N, d) or (B, 1, N, d)
        rotate(x (B, heads, n, d), rotation) -> (B, heads, n, d)

Queries and keys are turned by an angle that grows with the token's position, so that q_i . k_j depends on
the positions only through their difference. With A axes (1 for text, 2 for an image's (row, column)) each
axis gets d / (2A) frequencies, theta ** (-f / (d / (2A))) for f = 0, 1, ...; a token's angles are its
coordinate on each axis times that axis's frequencies, d / 2 angles in all, axis by axis. That is
ModernBERT's RoPE for A = 1 (positions 0..T-1), and EVA-02's and DINOv3's axial RoPE for A = 2, whose
coordinates the image front-end makes (patch indices, or patch centres in [-1, 1] times 2 pi).

Each angle turns one pair of channels: ``layout="half"`` pairs channel f with f + d/2 (Hugging Face,
ModernBERT, DINOv3), ``"interleaved"`` pairs 2f with 2f + 1 (EVA-02). The first ``prefix`` tokens
([CLS], registers) are not turned, as in EVA-02 and DINOv3; text has no such prefix (its [CLS] is position 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from timm.layers import apply_rot_embed
from einops import rearrange

LAYOUTS = ("half", "interleaved")


@dataclass
class TokenPositions:
    """Where the rotated tokens are: ``coords`` (N, A) shared by the batch, or (B, N, A) per sample (MAE's visible
    patches); ``prefix`` tokens before them keep no position."""

    coords: torch.Tensor
    prefix: int = 0

    @classmethod
    def sequence(cls, length: int, device: torch.device | None = None) -> "TokenPositions":
        """Positions 0 .. length-1 on one axis: text, or any (B, L, D) tokens given to the Encoder alone."""
        return cls(torch.arange(length, device=device, dtype=torch.float32)[:, None])


@dataclass
class Rotation:
    """cos and sin of every rotated token's angles, laid out as ``layout`` pairs channels; ``prefix`` tokens are skipped."""

    cos: torch.Tensor
    sin: torch.Tensor
    layout: str
    prefix: int


def rotary_tables(positions: TokenPositions, head_dim: int, theta: float, layout: str) -> Rotation:
    """The cos/sin tables of ``positions`` for heads of width ``head_dim`` and base ``theta``."""
    axes = positions.coords.shape[-1]
    per_axis = head_dim // (2 * axes)
    coords = positions.coords.float()
    exponents = torch.arange(per_axis, device=coords.device, dtype=torch.float32) / per_axis
    frequencies = theta ** -exponents  # (per_axis,)
    angles = rearrange(coords[..., None] * frequencies, "... n axes f -> ... n (axes f)")  # (..., N, d / 2)
    angles = torch.cat([angles, angles], dim=-1) if layout == "half" else angles.repeat_interleave(2, dim=-1)
    if angles.ndim == 3:
        angles = angles[:, None]  # (B, 1, N, d): one table per sample, shared by the heads
    return Rotation(angles.cos(), angles.sin(), layout, positions.prefix)


def rotate(x: torch.Tensor, rotation: Rotation) -> torch.Tensor:
    """(B, heads, n, d) queries or keys of the first n tokens -> the same, tokens from ``rotation.prefix`` on turned."""
    prefix, n = rotation.prefix, x.shape[-2]
    if n <= prefix:
        return x
    cos, sin = rotation.cos[..., : n - prefix, :], rotation.sin[..., : n - prefix, :]
    turned = apply_rot_embed(x[..., prefix:, :], sin, cos, half=rotation.layout == "half")
    return torch.cat([x[..., :prefix, :], turned], dim=-2) if prefix else turned
