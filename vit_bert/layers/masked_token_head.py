"""BERT's masked-language-model head: the encoder's output tokens back to scores over the vocabulary.

Shapes: tokens (B, T, D), word embeddings (vocab_size, E) -> logits (B, T, vocab_size); E = D, or the narrower
embedding width of ELECTRA's generator (its dense layer maps D -> E).

    h = LayerNorm(GELU(dense(x)));  logits = h E^T + b

The decoder is the word-embedding table E itself (tied, as in BERT), passed in at call time, so
the head owns only dense, LayerNorm and the output bias b.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import nn


class MaskedTokenHead(nn.Module):
    def __init__(
        self, dim: int, vocab_size: int, ln_eps: float = 1e-12, act_layer: type[nn.Module] = nn.GELU, dense_bias: bool = True,
        norm_bias: bool = True, embed_dim: int | None = None,
    ):
        """``dense_bias`` / ``norm_bias``: False in ModernBERT's head; ``embed_dim``: the word embeddings' width when
        it is not ``dim`` (ELECTRA)."""
        super().__init__()
        width = embed_dim or dim
        self.dense = nn.Linear(dim, width, bias=dense_bias)
        self.act = act_layer()
        self.norm = nn.LayerNorm(width, eps=ln_eps, bias=norm_bias)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        trunc_normal_(self.dense.weight, std=0.02)
        if self.dense.bias is not None:
            nn.init.zeros_(self.dense.bias)

    def forward(self, x: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(self.norm(self.act(self.dense(x))), word_embeddings, self.bias)
