"""The shared Transformer encoder: the one core that both modalities run through.

Shapes: tokens (B, L, D) [+ attention_mask (B, L) bool, True = real token] -> (B, L, D);
with ``return_attention=True`` also a list of ``depth`` weight tensors (B, heads, L, L).
``keep=n`` returns only the first n tokens, (B, n, D): the last block then computes its
queries, residual and MLP for those alone (a [CLS]-pooled classifier needs token 0 only).

It never knows whether the tokens came from image patches or from words.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .block import Block
from .packing import Packing


class Encoder(nn.Module):
    """A stack of ``depth`` Blocks, plus a final LayerNorm when pre-norm (post-norm blocks end normalised already)."""

    def __init__(
        self,
        dim: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp_ratio: float = 4.0,
        pre_norm: bool = True,
        ln_eps: float = 1e-6,
        qkv_bias: bool = True,
        act: str = "gelu",
        dropout: float = 0.0,
        attn_dropout: float = 0.0,
        drop_path: float = 0.0,
        grad_checkpointing: bool = False,
    ):
        super().__init__()
        self.dim = dim
        self.grad_checkpointing = grad_checkpointing
        self.drop_path = drop_path
        # Stochastic depth grows linearly with depth (as in DeiT / timm).
        rates = torch.linspace(0, drop_path, depth).tolist() if depth > 1 else [drop_path] * depth
        self.blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio, pre_norm, ln_eps, qkv_bias, act, dropout, attn_dropout, rate) for rate in rates
        )
        self.norm = nn.LayerNorm(dim, eps=ln_eps) if pre_norm else nn.Identity()

    def forward(
        self,
        x: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        return_attention: bool = False,
        keep: int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        if x.ndim != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"Encoder expects tokens of shape (B, L, {self.dim}); got {tuple(x.shape)}")
        if attention_mask is not None and attention_mask.shape != x.shape[:2]:
            raise ValueError(
                f"attention_mask must have shape (B, L) = {tuple(x.shape[:2])}; got {tuple(attention_mask.shape)}"
            )
        packing = self._packing(attention_mask, return_attention)
        if packing is not None:
            x = packing.pack(x)
        attentions = []
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            block_keep = keep if index == last else None
            if block_keep is not None and packing is not None:
                x, packing = packing.unpack(x), None  # the last block reads all keys but few queries: padded layout
            if self.grad_checkpointing and self.training and torch.is_grad_enabled():
                x, weights = checkpoint(block, x, attention_mask, return_attention, packing, block_keep, use_reentrant=False)
            else:
                x, weights = block(x, attention_mask, return_attention, packing, block_keep)
            if return_attention:
                attentions.append(weights)
        x = self.norm(x)
        if packing is not None:
            x = packing.unpack(x)  # padded positions come out as zeros
        return (x, attentions) if return_attention else x

    def _packing(self, attention_mask: torch.Tensor | None, return_attention: bool) -> Packing | None:
        """Pack real tokens when there is padding to skip. Not for: the explicit attention path (it returns
        (L, L) maps), stochastic depth in training (it drops whole samples), or compiled graphs (data-dependent shapes)."""
        if attention_mask is None or return_attention or torch.compiler.is_compiling():
            return None
        if self.training and self.drop_path > 0:
            return None
        return Packing.from_mask(attention_mask)
