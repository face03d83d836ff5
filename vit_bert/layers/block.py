"""One Transformer block: self-attention + MLP, each with a residual connection.

Shapes: x (B, L, D) -> (B, L, D); attention_mask (B, L) bool, True = real token.

``pre_norm=True`` (ViT):   x = x + ls1(attn(norm1(x)));  x = x + ls2(mlp(norm2(x)))
``pre_norm=False`` (BERT): x = norm1(x + ls1(attn(x)));  x = norm2(x + ls2(mlp(x)))
(ls1, ls2: LayerScale when ``layer_scale`` is set, else identity; norms and MLP by name from ``registry``.)
BERT checkpoints are post-norm and ViT checkpoints pre-norm, so it is one flag. Dropout sits where
each family has it: timm's MLP drops after the activation and after fc2; BERT's only after fc2.

A block knows its place in the stack (``layer``): whether it attends locally and its rotary base come
from ``EncoderConfig.is_local`` / ``layer_rope_theta``, and block 0 may leave out its attention norm
(``first_norm=False``: ModernBERT's embeddings end normalised).

The methods mirror ``SelfAttention``'s paths (``rotation``: the rotary tables of the tokens, or None):
    forward(x, mask, rotation) -> (B, L, D);  forward_with_weights(x, mask, rotation) -> ((B, L, D), (B, heads, L, L))
    forward_packed(x, packing, rotation): (N, D) real tokens -> (N, D)
    forward_first(x, n, mask, rotation) -> (B, n, D): attention reads every token as a key and value, but the
        queries, residual stream and MLP run for the first n alone.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from timm.layers import DropPath, LayerScale
from torch import nn

from .attention import SelfAttention
from .configs import EncoderConfig
from .packing import Packing
from .registry import ACTIVATIONS, MLPS, NORMS
from .rotary import Rotation


def norm_factory(config: EncoderConfig) -> Callable[..., nn.Module]:
    """(width) -> the config's norm layer with its epsilon and bias setting."""
    return partial(NORMS[config.norm], eps=config.ln_eps, bias=config.norm_bias)


class Block(nn.Module):
    """Block ``layer`` of ``config`` (an EncoderConfig): its norm, attention and MLP kinds come from the registry by name."""

    def __init__(self, config: EncoderConfig, drop_path: float = 0.0, layer: int = 0):
        super().__init__()
        self.pre_norm = config.pre_norm
        self.rope_theta = config.layer_rope_theta(layer)
        norm = norm_factory(config)
        self.norm1 = nn.Identity() if layer == 0 and not config.first_norm else norm(config.dim)
        self.attn = SelfAttention(
            config.dim, config.heads, qkv_bias=config.qkv_bias, attn_dropout=config.attn_dropout, proj_dropout=config.dropout,
            proj_bias=config.proj_bias, qk_norm=norm if config.qk_norm else None,
            window=config.local_window if config.is_local(layer) else None, k_bias=config.k_bias,
        )
        self.ls1 = LayerScale(config.dim, config.layer_scale) if config.layer_scale is not None else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm(config.dim)
        mlp_drop = config.dropout if config.pre_norm else (0.0, config.dropout)  # BERT has no dropout between its two MLP layers
        self.mlp = MLPS[config.mlp](config.dim, config.hidden_width, ACTIVATIONS[config.act], config.mlp_bias, mlp_drop,
                                    norm if config.mlp_norm else None)
        self.ls2 = LayerScale(config.dim, config.layer_scale) if config.layer_scale is not None else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def attention_branch(self, x: torch.Tensor, attend: Callable[[torch.Tensor], torch.Tensor], residual: torch.Tensor) -> torch.Tensor:
        """The residual stream after attention: ``attend`` maps the (pre-norm: normalised) input to the attention output."""
        if self.pre_norm:
            return residual + self.drop_path1(self.ls1(attend(self.norm1(x))))
        return self.norm1(residual + self.drop_path1(self.ls1(attend(x))))

    def mlp_branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual stream after attention -> the block's output."""
        if self.pre_norm:
            return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return self.norm2(x + self.drop_path2(self.ls2(self.mlp(x))))

    def _residual(self, x: torch.Tensor, attend: Callable[[torch.Tensor], torch.Tensor], residual: torch.Tensor) -> torch.Tensor:
        return self.mlp_branch(self.attention_branch(x, attend, residual))

    def attention_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the attention reads: norm1(x) in a pre-norm block, x itself in a post-norm one."""
        return self.norm1(x) if self.pre_norm else x

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, rotation: Rotation | None = None) -> torch.Tensor:
        return self._residual(x, lambda h: self.attn(h, attention_mask, rotation), x)

    def forward_with_weights(
        self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, rotation: Rotation | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weights = []

        def attend(h: torch.Tensor) -> torch.Tensor:
            out, w = self.attn.forward_with_weights(h, attention_mask, rotation)
            weights.append(w)
            return out

        return self._residual(x, attend, x), weights[0]

    def forward_packed(self, x: torch.Tensor, packing: Packing, rotation: Rotation | None = None) -> torch.Tensor:
        return self._residual(x, lambda h: self.attn.forward_packed(h, packing, rotation), x)

    def forward_first(
        self, x: torch.Tensor, n: int, attention_mask: torch.Tensor | None = None, rotation: Rotation | None = None
    ) -> torch.Tensor:
        return self._residual(x, lambda h: self.attn.forward_first(h, n, attention_mask, rotation), x[:, :n])
