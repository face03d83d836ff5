"""Pooling and classification head.

Shapes: tokens (B, L, D) [+ attention_mask (B, L)] -> pooled (B, D) -> logits (B, num_classes).

``pool="cls"`` reads token 0 (the [CLS] vector, BERT's sentence representation);
``pool="mean"`` averages the real tokens: padding is excluded for text, and the prefix tokens
([CLS], registers) are excluded for images (as timm's 'avg' pool does); ``pool="max"`` takes each feature's
maximum over the same tokens (timm's 'max' pool; max-over-time, as in Kim's sentence CNN);
``pool="map"`` is attention pooling (timm's ``AttentionPoolLatent``, SigLIP): a learned query attends
over the non-prefix tokens, then an MLP. ``fc_norm`` normalises the pooled vector (timm's fc_norm).
With DeiT's distillation token (token 1) a second classifier reads it and the logits are the mean
of the two, as timm's distilled DeiT computes them at inference.
"""

from __future__ import annotations

import torch
from timm.layers import AttentionPoolLatent
from torch import nn

from .configs import EncoderConfig, HeadConfig
from .block import norm_factory
from .registry import ACTIVATIONS


def pool_tokens(
    x: torch.Tensor, mode: str, attention_mask: torch.Tensor | None = None, num_prefix_tokens: int = 0
) -> torch.Tensor:
    """(B, L, D) -> (B, D) for mode 'cls', 'mean' or 'max'; ``attention_mask`` (B, L) True at real tokens."""
    if mode == "cls":
        return x[:, 0]
    x = x[:, num_prefix_tokens:]
    real = None if attention_mask is None else attention_mask[:, num_prefix_tokens:, None]
    if mode == "max":
        return x.amax(dim=1) if real is None else x.masked_fill(~real.bool(), torch.finfo(x.dtype).min).amax(dim=1)
    if real is None:
        return x.mean(dim=1)
    weights = real.to(x.dtype)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class ClassifierHead(nn.Module):
    """pool -> [fc_norm] -> [pooler: dense + pooler_act [+ norm]] -> dropout -> Linear(D, num_classes) [+ the distillation classifier]."""

    def __init__(self, config: HeadConfig, encoder: EncoderConfig, num_prefix_tokens: int = 0, dist_token: bool = False):
        super().__init__()
        dim = encoder.dim
        self.pool = config.pool
        self.num_prefix_tokens = num_prefix_tokens
        self.attn_pool = None
        if config.pool == "map":
            self.attn_pool = AttentionPoolLatent(
                dim, num_heads=encoder.heads, mlp_ratio=encoder.mlp_ratio, norm_layer=norm_factory(encoder),
                act_layer=ACTIVATIONS[encoder.act],
            )
        self.fc_norm = norm_factory(encoder)(dim) if config.fc_norm else nn.Identity()
        self.pooler = self._pooler(config, encoder) if config.head_pooler else nn.Identity()
        self.drop = nn.Dropout(config.head_dropout)
        self.fc = nn.Linear(dim, config.num_classes) if config.num_classes > 0 else nn.Identity()
        self.fc_dist = nn.Linear(dim, config.num_classes) if dist_token and config.num_classes > 0 else None
        self.dist_token = dist_token

    @staticmethod
    def _pooler(config: HeadConfig, encoder: EncoderConfig) -> nn.Sequential:
        """BERT's dense + tanh (``pooler.0``); ELECTRA's and DistilBERT's other activations; ModernBERT's norm after it (``pooler.2``)."""
        layers = [nn.Linear(encoder.dim, encoder.dim, bias=config.head_bias), ACTIVATIONS[config.pooler_act]()]
        return nn.Sequential(*layers, norm_factory(encoder)(encoder.dim)) if config.pooler_norm else nn.Sequential(*layers)

    @property
    def tokens_read(self) -> int | None:
        """How many leading tokens the head reads (1 for [CLS], 2 with the distillation token); None: all of them."""
        return 1 + int(self.dist_token) if self.pool == "cls" else None

    def pooled(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, L, D) -> (B, D) before fc_norm."""
        if self.attn_pool is not None:
            mask = None if attention_mask is None else attention_mask[:, None, None, self.num_prefix_tokens:]
            return self.attn_pool(x[:, self.num_prefix_tokens:], attn_mask=mask)
        return pool_tokens(x, self.pool, attention_mask, self.num_prefix_tokens)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, pre_logits: bool = False) -> torch.Tensor:
        if self.dist_token:  # DeiT: [CLS] and the distillation token each have a classifier; the logits are their mean
            cls, dist = self.fc_norm(x[:, 0]), self.fc_norm(x[:, 1])
            if pre_logits or self.fc_dist is None:
                return (cls + dist) / 2
            return (self.fc(self.drop(cls)) + self.fc_dist(self.drop(dist))) / 2
        x = self.pooler(self.fc_norm(self.pooled(x, attention_mask)))
        return x if pre_logits else self.fc(self.drop(x))
