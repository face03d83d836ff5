"""One Transformer block: self-attention + MLP, each with a residual connection.

Shapes: x (B, L, D) -> (B, L, D); optional attention mask (B, L) and weights (B, heads, L, L).

``pre_norm=True`` (ViT):   x = x + attn(norm1(x));  x = x + mlp(norm2(x))
``pre_norm=False`` (BERT): x = norm1(x + attn(x));  x = norm2(x + mlp(x))
BERT checkpoints are post-norm and ViT checkpoints pre-norm, so it is one flag.
``keep=n`` returns only the first n tokens (B, n, D): attention then reads every token as a
key and value, but the queries, residual stream and MLP run for those n alone.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import DropPath, Mlp
from torch import nn

from .attention import SelfAttention
from .packing import Packing


class Block(nn.Module):
    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_ratio: float = 4.0,
        pre_norm: bool = True,
        ln_eps: float = 1e-6,
        qkv_bias: bool = True,
        act: str = "gelu",
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.pre_norm = pre_norm
        self.norm1 = nn.LayerNorm(dim, eps=ln_eps)
        self.attn = SelfAttention(dim, heads, qkv_bias=qkv_bias, attn_dropout=attn_dropout, proj_dropout=dropout)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=ln_eps)
        # Exact (erf) GELU is what timm ViT and BERT use; some BERT variants use the tanh approximation.
        approximate = {"gelu": "none", "gelu_tanh": "tanh"}[act]
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=partial(nn.GELU, approximate=approximate), drop=dropout)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        return_attention: bool = False,
        packing: Packing | None = None,
        keep: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (B, L, D), or (N, D) real tokens with ``packing`` -> same shape, or (B, keep, D)
        (+ attention weights on request)."""
        residual = x if keep is None else x[:, :keep]
        if self.pre_norm:
            attn_out, weights = self.attn(self.norm1(x), attention_mask, return_attention, packing, keep)
            x = residual + self.drop_path1(attn_out)
            x = x + self.drop_path2(self.mlp(self.norm2(x)))
        else:
            attn_out, weights = self.attn(x, attention_mask, return_attention, packing, keep)
            x = self.norm1(residual + self.drop_path1(attn_out))
            x = self.norm2(x + self.drop_path2(self.mlp(x)))
        return x, weights
