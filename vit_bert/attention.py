"""Multi-head self-attention, written the way the seed note explains it.

Shapes: x (B, L, D) -> out (B, L, D); with ``return_attention=True`` also the
attention weights (B, heads, L, L), each row a softmax over the keys.

For one head with d = D / heads:
    Q = X W_Q, K = X W_K, V = X W_V          (L, d) each
    scores  = Q K^T / sqrt(d)                (L, L)
    weights = softmax(scores, dim=-1)        row-wise
    out     = weights V                      (L, d)
Heads are concatenated back to D and projected by ``proj``.

``queries=n`` computes the output for the first n tokens only (keys and values
still read all L): (B, L, D) -> (B, n, D). The model's last block uses it when the
head reads [CLS] alone, so no work is spent on token outputs nothing reads.

Two paths share the same parameters: the fast path calls
``torch.nn.functional.scaled_dot_product_attention`` (fused kernels, never
materialises the weights); the explicit path computes the lines above and
returns the weights for inspection. Both give the same outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .packing import Packing


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection (rows stacked q; k; v, as in timm)."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True, attn_dropout: float = 0.0, proj_dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads: got dim={dim}, heads={heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_dropout)

    def split_heads(self, x: torch.Tensor, project: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, L, D) -> q, k, v each (B, heads, L, d); ``project=False``: x is already the (B, L, 3D) qkv output."""
        qkv = rearrange(self.qkv(x) if project else x, "b l (three h d) -> three b h l d", three=3, h=self.heads)
        return qkv.unbind(0)  # unbind, not indexing: its backward is one stack, not three zero-filled copies

    def split_heads_first(self, x: torch.Tensor, queries: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, L, D) -> q (B, heads, queries, d) for the first tokens only; k, v (B, heads, L, d)."""
        dim = x.shape[-1]
        weight, bias = self.qkv.weight, self.qkv.bias
        q = F.linear(x[:, :queries], weight[:dim], None if bias is None else bias[:dim])
        kv = F.linear(x, weight[dim:], None if bias is None else bias[dim:])
        k, v = rearrange(kv, "b l (two h d) -> two b h l d", two=2, h=self.heads).unbind(0)
        return rearrange(q, "b l (h d) -> b h l d", h=self.heads), k, v

    def attention_weights(self, q: torch.Tensor, k: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """softmax(Q K^T / sqrt(d)) row-wise, padded keys excluded: (B, h, L, d) x2 -> (B, h, L, L)."""
        scores = (q @ k.transpose(-2, -1)) * self.scale
        if attention_mask is not None:
            scores = scores.masked_fill(~attention_mask[:, None, None, :], float("-inf"))
        return scores.softmax(dim=-1)

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        return_attention: bool = False,
        packing: Packing | None = None,
        queries: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, L, D), attention_mask (B, L) bool, True = real token -> (out (B, L, D), weights (B, h, L, L) or None).

        With ``packing``, x and out are the real tokens only, (N, D): the projections skip the padding.
        With ``queries=n``, out is (B, n, D) (and weights (B, h, n, L))."""
        if packing is not None:
            return self._forward_packed(x, packing), None
        q, k, v = self.split_heads(x) if queries is None else self.split_heads_first(x, queries)
        dropout_p = self.attn_dropout if self.training else 0.0
        weights = None
        if return_attention:
            weights = self.attention_weights(q, k, attention_mask)
            out = F.dropout(weights, dropout_p, self.training) @ v
        else:
            mask = None if attention_mask is None else attention_mask[:, None, None, :]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        out = rearrange(out, "b h l d -> b l (h d)")
        return self.proj_drop(self.proj(out)), weights

    def _forward_packed(self, x: torch.Tensor, packing: Packing) -> torch.Tensor:
        """(N, D) real tokens -> (N, D): Q/K/V for real tokens only, attention in the padded layout."""
        q, k, v = self.split_heads(packing.unpack(self.qkv(x)), project=False)
        dropout_p = self.attn_dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=packing.mask[:, None, None, :], dropout_p=dropout_p)
        return self.proj_drop(self.proj(packing.pack(rearrange(out, "b h l d -> b l (h d)"))))
