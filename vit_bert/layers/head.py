"""Pooling and classification head.

Shapes: tokens (B, L, D) [+ attention_mask (B, L)] -> pooled (B, D) -> logits (B, num_classes).

``pool="cls"`` reads token 0 (the [CLS] vector, BERT's sentence representation);
``pool="mean"`` averages the real tokens: padding is excluded for text, and the
[CLS] prefix is excluded for images (as timm's 'avg' pool does).
"""

from __future__ import annotations

import torch
from torch import nn


def pool_tokens(
    x: torch.Tensor, mode: str, attention_mask: torch.Tensor | None = None, num_prefix_tokens: int = 0
) -> torch.Tensor:
    """(B, L, D) -> (B, D)."""
    if mode == "cls":
        return x[:, 0]
    x = x[:, num_prefix_tokens:]
    if attention_mask is None:
        return x.mean(dim=1)
    weights = attention_mask[:, num_prefix_tokens:, None].to(x.dtype)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class ClassifierHead(nn.Module):
    """pool -> [dense + tanh (BERT pooler)] -> dropout -> Linear(D, num_classes)."""

    def __init__(self, dim: int, num_classes: int, pool: str = "cls", pooler: bool = False, dropout: float = 0.0, num_prefix_tokens: int = 0):
        super().__init__()
        self.pool = pool
        self.num_prefix_tokens = num_prefix_tokens
        self.pooler = nn.Sequential(nn.Linear(dim, dim), nn.Tanh()) if pooler else nn.Identity()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, pre_logits: bool = False) -> torch.Tensor:
        x = self.pooler(pool_tokens(x, self.pool, attention_mask, self.num_prefix_tokens))
        return x if pre_logits else self.fc(self.drop(x))
