"""The shared Transformer encoder: the one core that both modalities run through.

Shapes: tokens (B, L, D) [+ attention_mask (B, L) bool, True = real token] [+ positions] -> (B, L, D).
    forward(x, mask, positions)                  -> (B, L, D)
    forward_first(x, n, mask, positions)         -> (B, n, D): the last block computes its queries, residual and MLP
                                                    for the first n tokens alone (a [CLS]-pooled classifier needs token 0)
    forward_with_weights(x, mask, positions)     -> ((B, L, D), [depth x (B, heads, L, L)]) on the explicit attention path
    forward_intermediates(x, mask, positions, blocks=None) -> [blocks + 1 x (B, L, D)]: the input of block 0, then each
                                                    block's output (before the final norm), on the same fast path as
                                                    ``forward``; ``blocks``: the first this many (None: all)

``positions`` (``rotary.TokenPositions``) matter only with rotary positions (``rope_theta``): the front-end
says where its tokens are (an image's patch grid, prefix tokens unrotated); None means positions 0..L-1.

It never knows whether the tokens came from image patches or from words. Padded batches skip the
padding: token-wise layers run on the real tokens only (see ``packing.py``), and padded positions
come out as zeros.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..errors import InputError
from .block import Block, norm_factory
from .configs import EncoderConfig
from .packing import Packing
from .rotary import Rotation, TokenPositions, rotary_tables


class Encoder(nn.Module):
    """A stack of ``depth`` Blocks, plus a final norm when pre-norm (post-norm blocks end normalised already) unless ``final_norm=False``."""

    def __init__(self, config: EncoderConfig | None = None, **fields):
        """``Encoder(EncoderConfig(...))`` or ``Encoder(dim=256, depth=4, heads=4)``: keyword fields replace the config's."""
        super().__init__()
        config = dataclasses.replace(config or EncoderConfig(), **fields)
        self.config = config
        self.dim = config.dim
        self.grad_checkpointing = config.grad_checkpointing
        self.drop_path = config.drop_path
        # Stochastic depth grows linearly with depth (as in DeiT / timm).
        rates = torch.linspace(0, config.drop_path, config.depth).tolist() if config.depth > 1 else [config.drop_path] * config.depth
        self.blocks = nn.ModuleList(Block(config, rate, layer) for layer, rate in enumerate(rates))
        self.norm = norm_factory(config)(config.dim) if config.pre_norm and config.final_norm else nn.Identity()

    def check_input(self, x: torch.Tensor, attention_mask: torch.Tensor | None) -> None:
        if x.ndim != 3 or x.shape[-1] != self.dim:
            raise InputError(f"Encoder expects tokens of shape (B, L, {self.dim}); got {tuple(x.shape)}")
        if attention_mask is not None and attention_mask.shape != x.shape[:2]:
            raise InputError(f"attention_mask must have shape (B, L) = {tuple(x.shape[:2])}; got {tuple(attention_mask.shape)}")

    def rotations(self, x: torch.Tensor, positions: TokenPositions | None) -> list[Rotation | None]:
        """Each block's rotary tables for tokens x (B, L, D) at ``positions`` (blocks of one base share a table); all None
        without rotary positions."""
        if self.config.rope_theta is None:
            return [None] * len(self.blocks)
        positions = positions if positions is not None else TokenPositions.sequence(x.shape[1], x.device)
        if positions.coords.shape[-2] != x.shape[1] - positions.prefix:
            raise InputError(f"positions give {positions.coords.shape[-2]} coordinates for {x.shape[1]} tokens with "
                             f"{positions.prefix} prefix tokens; expected one per non-prefix token")
        tables = {}
        for block in self.blocks:
            if block.rope_theta not in tables:
                tables[block.rope_theta] = rotary_tables(positions, self.config.head_dim, block.rope_theta, self.config.rope_layout)
        return [tables[block.rope_theta] for block in self.blocks]

    def _call(self, method, *args):
        """One block method, recomputed in backward when gradient checkpointing is on."""
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            return checkpoint(method, *args, use_reentrant=False)
        return method(*args)

    def packing(self, attention_mask: torch.Tensor | None) -> Packing | None:
        """Pack real tokens when there is padding to skip. Not while stochastic depth trains (it drops whole
        samples) or under torch.compile (data-dependent shapes)."""
        if attention_mask is None or torch.compiler.is_compiling() or (self.training and self.drop_path > 0):
            return None
        return Packing.from_mask(attention_mask)

    def _run_blocks(self, x, attention_mask, rotations, count: int, states: list | None = None) -> tuple[torch.Tensor, Packing | None]:
        """The first ``count`` blocks on the fast path -> (output, packing): (N, D) real tokens when packed, else (B, L, D).
        ``states`` (a list) receives the input and each block's output in the (B, L, D) layout."""
        packing = self.packing(attention_mask)
        if states is not None:
            states.append(x)
        if packing is not None:
            x = packing.pack(x)
        for block, rotation in zip(self.blocks[:count], rotations):
            if packing is None:
                x = self._call(block, x, attention_mask, rotation)
            else:
                x = self._call(block.forward_packed, x, packing, rotation)
            if states is not None:
                states.append(x if packing is None else packing.unpack(x))
        return x, packing

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, positions: TokenPositions | None = None) -> torch.Tensor:
        self.check_input(x, attention_mask)
        x, packing = self._run_blocks(x, attention_mask, self.rotations(x, positions), len(self.blocks))
        x = self.norm(x)
        return x if packing is None else packing.unpack(x)  # padded positions come out as zeros

    def forward_first(
        self, x: torch.Tensor, n: int, attention_mask: torch.Tensor | None = None, positions: TokenPositions | None = None
    ) -> torch.Tensor:
        self.check_input(x, attention_mask)
        rotations = self.rotations(x, positions)
        x, packing = self._run_blocks(x, attention_mask, rotations, len(self.blocks) - 1)
        if packing is not None:
            x = packing.unpack(x)  # the last block reads all keys but few queries: padded layout
        return self.norm(self._call(self.blocks[-1].forward_first, x, n, attention_mask, rotations[-1]))

    def forward_with_weights(
        self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, positions: TokenPositions | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self.check_input(x, attention_mask)
        attentions = []
        for block, rotation in zip(self.blocks, self.rotations(x, positions)):
            x, weights = self._call(block.forward_with_weights, x, attention_mask, rotation)
            attentions.append(weights)
        return self.norm(x), attentions

    def forward_intermediates(
        self, x: torch.Tensor, attention_mask: torch.Tensor | None = None, positions: TokenPositions | None = None, *,
        blocks: int | None = None,
    ) -> list[torch.Tensor]:
        """``blocks``: run the first this many blocks only (None: all)."""
        self.check_input(x, attention_mask)
        count = len(self.blocks) if blocks is None else blocks
        if not 0 <= count <= len(self.blocks):
            raise InputError(f"blocks={count}: the encoder has {len(self.blocks)} blocks")
        states = []
        self._run_blocks(x, attention_mask, self.rotations(x, positions), count, states)
        return states
