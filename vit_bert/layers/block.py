"""One Transformer block: self-attention + MLP, each with a residual connection.

Shapes: x (B, L, D) -> (B, L, D); attention_mask (B, L) bool, True = real token.

``pre_norm=True`` (ViT):   x = x + attn(norm1(x));  x = x + mlp(norm2(x))
``pre_norm=False`` (BERT): x = norm1(x + attn(x));  x = norm2(x + mlp(x))
BERT checkpoints are post-norm and ViT checkpoints pre-norm, so it is one flag. Dropout sits where
each family has it: timm's MLP drops after the activation and after fc2; BERT's only after fc2.

The methods mirror ``SelfAttention``'s paths:
    forward(x, mask) -> (B, L, D);  forward_with_weights(x, mask) -> ((B, L, D), (B, heads, L, L))
    forward_packed(x, packing): (N, D) real tokens -> (N, D)
    forward_first(x, n, mask) -> (B, n, D): attention reads every token as a key and value, but the
        queries, residual stream and MLP run for the first n alone.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from timm.layers import DropPath, Mlp
from torch import nn

from .attention import SelfAttention
from .packing import Packing

ACTIVATIONS = {"gelu": "none", "gelu_tanh": "tanh"}  # exact erf GELU (timm ViT, BERT) or the tanh approximation


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
        mlp_drop = dropout if pre_norm else (0.0, dropout)  # BERT has no dropout between its two MLP layers
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=partial(nn.GELU, approximate=ACTIVATIONS[act]), drop=mlp_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _residual(self, x: torch.Tensor, attend: Callable[[torch.Tensor], torch.Tensor], residual: torch.Tensor) -> torch.Tensor:
        """The block around any attention path: ``attend`` maps the (normalised) input to the attention output."""
        if self.pre_norm:
            x = residual + self.drop_path1(attend(self.norm1(x)))
            return x + self.drop_path2(self.mlp(self.norm2(x)))
        x = self.norm1(residual + self.drop_path1(attend(x)))
        return self.norm2(x + self.drop_path2(self.mlp(x)))

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self._residual(x, lambda h: self.attn(h, attention_mask), x)

    def forward_with_weights(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        weights = []

        def attend(h: torch.Tensor) -> torch.Tensor:
            out, w = self.attn.forward_with_weights(h, attention_mask)
            weights.append(w)
            return out

        return self._residual(x, attend, x), weights[0]

    def forward_packed(self, x: torch.Tensor, packing: Packing) -> torch.Tensor:
        return self._residual(x, lambda h: self.attn.forward_packed(h, packing), x)

    def forward_first(self, x: torch.Tensor, n: int, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self._residual(x, lambda h: self.attn.forward_first(h, n, attention_mask), x[:, :n])
