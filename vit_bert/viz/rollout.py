"""Attention maps from a model's per-layer attention weights.

    attentions: list of depth tensors (B, heads, L, L), rows = queries, each row a softmax over keys
    attention_rollout(attentions)            -> (B, L, L), rows sum to 1
    rollouts(attentions)                     -> [(B, L, L) through layer 0, through layers 0-1, ...]
    token_map(rollout or layer, grid, prefix) -> (B, gh, gw) attention of [CLS] over the patch grid

Rollout (Abnar & Zuidema 2020): average the heads of each layer, add the identity for the
residual connection, re-normalise rows, and multiply through the layers (last layer on the left),
so entry (i, j) estimates how much of token j flows into token i at the top of the encoder.
"""

from __future__ import annotations

import torch
from einops import rearrange

from ..errors import InputError


def attention_rollout(attentions: list[torch.Tensor]) -> torch.Tensor:
    """list of (B, h, L, L) -> (B, L, L)."""
    return rollouts(attentions)[-1]


def rollouts(attentions: list[torch.Tensor]) -> list[torch.Tensor]:
    """list of (B, h, L, L) -> the rollout through each layer, (B, L, L) each, in one pass."""
    if not attentions:
        raise InputError("attention_rollout needs at least one layer of attention weights")
    through = []
    for weights in attentions:
        mixed = weights.float().mean(dim=1)
        mixed = mixed + torch.eye(mixed.shape[-1], device=mixed.device)
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        through.append(mixed if not through else mixed @ through[-1])
    return through


def cls_to_patches(weights: torch.Tensor, grid: tuple[int, int], num_prefix_tokens: int = 1) -> torch.Tensor:
    """(..., L, L) -> (..., gh, gw): the [CLS] row over the patch tokens.

    Without a [CLS] token (mean-pooled models) the rows of all patches are averaged instead."""
    patches = weights[..., num_prefix_tokens:]
    row = patches[..., 0, :] if num_prefix_tokens else patches.mean(dim=-2)
    return rearrange(row, "... (h w) -> ... h w", h=grid[0], w=grid[1])
