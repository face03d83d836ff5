"""Multi-head self-attention, the textbook arithmetic with fused kernels.

Shapes: x (B, L, D) -> out (B, L, D); attention_mask (B, L) bool, True = real token.

For one head with d = D / heads:
    Q = X W_Q, K = X W_K, V = X W_V          (L, d) each
    scores  = Q K^T / sqrt(d)                (L, L)
    weights = softmax(scores, dim=-1)        row-wise
    out     = weights V                      (L, d)
Heads are concatenated back to D and projected by ``proj``.

Q, K and V are made in one place, ``project`` (all tokens) / ``project_first`` (queries for the first n
tokens), both ending in ``_finish_heads``: a change to queries and keys (QK-norm, then rotary positions,
``rotary.py``) goes there once and holds for every path. Which keys a query may read is decided in one
place too, ``allowed``: real keys (the padding mask) and, in a local layer, keys within ``window // 2``.

One method per path, all with the same parameters and the same outputs (``rotation``: the rotary tables of
the tokens' positions, or None):
    forward(x, mask, rotation)                -> (B, L, D)   fused ``scaled_dot_product_attention``; never materialises weights
    forward_with_weights(x, mask, rotation)   -> (B, L, D), weights (B, heads, L, L)   the explicit arithmetic above
    forward_packed(x, packing, rotation)      -> (N, D)      x holds the N real tokens only: projections skip the padding
    forward_first(x, n, mask, rotation)       -> (B, n, D)   outputs for the first n tokens; keys and values still read all L
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .checks import check_heads
from .packing import Packing
from .rotary import Rotation, rotate


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused ``qkv`` projection (rows stacked q; k; v, as in timm).

    ``qk_norm`` is a norm factory ``(width) -> module`` for each head's queries and keys (timm's ``q_norm``/``k_norm``), or None.
    ``window``: a local layer's query reads only the keys at most ``window // 2`` positions away (ModernBERT); None: all.
    ``k_bias=False`` (with ``qkv_bias``): queries and values have a bias, keys none (EVA-02, BEiT). The key rows of
    ``qkv.bias`` are then read as zero, so they never train: under rotary positions a key bias would change the scores."""

    def __init__(
        self, dim: int, heads: int, qkv_bias: bool = True, attn_dropout: float = 0.0, proj_dropout: float = 0.0,
        proj_bias: bool = True, qk_norm: Callable[[int], nn.Module] | None = None, window: int | None = None, k_bias: bool = True,
    ):
        super().__init__()
        check_heads(dim, heads)
        self.heads = heads
        self.window = window
        self.head_dim = dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.register_buffer("bias_rows", None if k_bias or not qkv_bias else torch.tensor([1.0, 0.0, 1.0]).repeat_interleave(dim), persistent=False)
        self.q_norm = qk_norm(self.head_dim) if qk_norm is not None else nn.Identity()
        self.k_norm = qk_norm(self.head_dim) if qk_norm is not None else nn.Identity()
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_dropout)

    def _finish_heads(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rotation: Rotation | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q (B, h, n, d), k and v (B, h, L, d): what every path does to the projected heads (QK-norm, then rotary positions)."""
        q, k = self.q_norm(q), self.k_norm(k)
        if rotation is not None:
            q, k = rotate(q, rotation), rotate(k, rotation)
        return q, k, v

    def qkv_bias(self) -> torch.Tensor | None:
        """The fused projection's bias (3D,), its key rows zero without a key bias."""
        bias = self.qkv.bias
        return bias if bias is None or self.bias_rows is None else bias * self.bias_rows

    def qkv_projection(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., D) -> (..., 3D): queries, keys and values of every token."""
        return F.linear(x, self.qkv.weight, self.qkv_bias())

    def split_heads(self, qkv: torch.Tensor, rotation: Rotation | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The (B, L, 3D) output of ``qkv`` -> q, k, v each (B, heads, L, d), finished (``_finish_heads``)."""
        q_k_v = rearrange(qkv, "b l (three h d) -> three b h l d", three=3, h=self.heads)
        return self._finish_heads(*q_k_v.unbind(0), rotation)  # unbind, not indexing: its backward is one stack, not three zero-filled copies

    def project(self, x: torch.Tensor, rotation: Rotation | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, L, D) -> q, k, v each (B, heads, L, d)."""
        return self.split_heads(self.qkv_projection(x), rotation)

    def project_first(self, x: torch.Tensor, n: int, rotation: Rotation | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, L, D) -> q (B, heads, n, d) for the first n tokens, k and v (B, heads, L, d) for all."""
        dim = x.shape[-1]
        weight, bias = self.qkv.weight, self.qkv_bias()
        q = F.linear(x[:, :n], weight[:dim], None if bias is None else bias[:dim])
        kv = F.linear(x, weight[dim:], None if bias is None else bias[dim:])
        k, v = rearrange(kv, "b l (two h d) -> two b h l d", two=2, h=self.heads).unbind(0)
        return self._finish_heads(rearrange(q, "b l (h d) -> b h l d", h=self.heads), k, v, rotation)

    def _dropout_p(self) -> float:
        return self.attn_dropout if self.training else 0.0

    def allowed(self, attention_mask: torch.Tensor | None, queries: int, keys: int) -> torch.Tensor | None:
        """Which keys each of the first ``queries`` tokens reads: bool, broadcastable to (B, h, queries, keys); None: all.
        Real keys only (``attention_mask`` (B, L)); in a local layer, only those within ``window // 2`` positions."""
        mask = None if attention_mask is None else attention_mask[:, None, None, :]
        if self.window is None:
            return mask
        device = attention_mask.device if attention_mask is not None else None
        distance = torch.arange(queries, device=device)[:, None] - torch.arange(keys, device=device)[None]
        near = distance.abs() <= self.window // 2
        if mask is None:
            return near
        return (mask & near) | (distance == 0)  # a padded query reads itself, so no row is empty (its output is dropped)

    def _fused(self, q, k, v, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """q (B, h, n, d), k and v (B, h, L, d) -> (B, n, D) before the output projection."""
        mask = self.allowed(attention_mask, q.shape[-2], k.shape[-2])
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self._dropout_p())
        return rearrange(out, "b h l d -> b l (h d)")

    def attention_weights(self, q: torch.Tensor, k: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """softmax(Q K^T / sqrt(d)) row-wise, keys a query may not read excluded: (B, h, L, d) x2 -> (B, h, L, L)."""
        scores = (q @ k.transpose(-2, -1)) * self.scale
        mask = self.allowed(attention_mask, q.shape[-2], k.shape[-2])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return scores.softmax(dim=-1)

    def output(self, heads_out: torch.Tensor) -> torch.Tensor:
        """The heads concatenated (B, L, D) -> the output projection (B, L, D)."""
        return self.proj_drop(self.proj(heads_out))

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, rotation: Rotation | None = None) -> torch.Tensor:
        """x (B, L, D) -> (B, L, D) on the fused kernel."""
        return self.output(self._fused(*self.project(x, rotation), attention_mask))

    def forward_with_weights(
        self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, rotation: Rotation | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, L, D) -> (out (B, L, D), weights (B, heads, L, L)), computed line by line."""
        q, k, v = self.project(x, rotation)
        weights = self.attention_weights(q, k, attention_mask)
        out = rearrange(F.dropout(weights, self._dropout_p(), self.training) @ v, "b h l d -> b l (h d)")
        return self.output(out), weights

    def forward_packed(self, x: torch.Tensor, packing: Packing, rotation: Rotation | None = None) -> torch.Tensor:
        """(N, D) real tokens -> (N, D): Q/K/V and the output projection for real tokens only."""
        q, k, v = self.split_heads(packing.unpack(self.qkv_projection(x)), rotation)
        return self.output(packing.pack(self._fused(q, k, v, packing.mask)))

    def forward_first(
        self, x: torch.Tensor, n: int, attention_mask: torch.Tensor | None = None, rotation: Rotation | None = None
    ) -> torch.Tensor:
        """x (B, L, D) -> (B, n, D): queries for the first n tokens only, keys and values for all."""
        return self.output(self._fused(*self.project_first(x, n, rotation), attention_mask))
