"""What a front-end hands the Encoder: the tokens, their padding mask and how many of them are prefix tokens.

    EncoderInput.tokens             (B, L, D)
    EncoderInput.mask               (B, L) bool, True = real token; None when nothing is padded
    EncoderInput.num_prefix_tokens  tokens before the content ([CLS], a distillation token, registers); 0 for text,
                                    whose [CLS] is an ordinary token id
    EncoderInput.grid               (h, w) patch grid of an image batch; None for text
    EncoderInput.positions          where the tokens are, for rotary positions (``rotary.TokenPositions``): an image's
                                    patch coordinates after its prefix tokens; None: positions 0..L-1 (text)

Pooling, the MAE decoder and the attention views read the prefix count from here, never from ``class_token``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .rotary import TokenPositions


@dataclass
class EncoderInput:
    tokens: torch.Tensor
    mask: torch.Tensor | None
    num_prefix_tokens: int
    grid: tuple[int, int] | None = None
    positions: TokenPositions | None = None
