"""Text front-end: token ids to a token sequence, BERT-style.

Shapes: input_ids (B, T) int, attention_mask (B, T) {0,1}/bool (1 = real token),
token_type_ids (B, T) -> EncoderInput: tokens (B, T, D), attention_mask (B, T) bool or None, no prefix tokens.

tokens = LayerNorm(word[ids] + position[offset .. offset+T-1] + token_type[types]), then dropout, then (when the
tables are narrower than the encoder, ELECTRA) a Linear to the encoder's width. Without a position table
(``learned_positions=False``: ModernBERT) the encoder's rotary positions 0..T-1 are the only position signal.
[CLS] is expected as the first id (the tokenizer puts it there); its output
vector is what ``pool="cls"`` reads. The mask is handed on to the Encoder so
that no real token attends to padding: outputs at real positions do not
depend on how much padding follows.
"""

from __future__ import annotations

import dataclasses

import torch
from timm.layers import trunc_normal_
from torch import nn

from ..errors import InputError
from .configs import TextConfig
from .encoder_input import EncoderInput


class TextFrontEnd(nn.Module):
    num_prefix_tokens = 0  # [CLS] is an ordinary token id here, counted in T

    def __init__(self, config: TextConfig | None = None, dim: int = 768, **fields):
        """``TextFrontEnd(TextConfig(...), dim)`` or ``TextFrontEnd(vocab_size=8000, dim=256)``."""
        super().__init__()
        config = dataclasses.replace(config or TextConfig(), **fields)
        self.config = config
        self.vocab_size = config.vocab_size
        self.max_len = config.max_len
        self.type_vocab_size = config.type_vocab_size
        width = config.embed_dim or dim
        self.max_positions = config.max_len - config.position_offset  # the longest input
        self.word_embeddings = nn.Embedding(config.vocab_size, width, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_len, width) if config.learned_positions else None
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, width) if config.type_vocab_size > 0 else None
        self.norm = nn.LayerNorm(width, eps=config.ln_eps, bias=config.norm_bias)
        self.drop = nn.Dropout(config.dropout)
        self.project = nn.Linear(width, dim) if width != dim else None
        self.register_buffer("position_ids", torch.arange(config.position_offset, config.max_len)[None], persistent=False)
        self.init_weights()

    def init_weights(self) -> None:
        """BERT's init: embeddings ~ N(0, 0.02) truncated, the padding row zero."""
        for table in filter(None, (self.word_embeddings, self.position_embeddings, self.token_type_embeddings)):
            trunc_normal_(table.weight, std=0.02)
        self.word_embeddings.weight.data[self.word_embeddings.padding_idx].zero_()

    def check_input(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, token_type_ids: torch.Tensor | None
    ) -> None:
        if input_ids.ndim != 2 or input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool:
            raise InputError(
                f"input_ids must be an integer tensor of shape (B, T); got {input_ids.dtype} of shape {tuple(input_ids.shape)}"
            )
        length = input_ids.shape[1]
        if length > self.max_positions:
            raise InputError(
                f"sequence length {length} is longer than the position table (max_len={self.max_len}, "
                f"position_offset={self.config.position_offset}); truncate inputs to at most {self.max_positions} tokens"
            )
        for name, extra in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
            if extra is not None and extra.shape != input_ids.shape:
                raise InputError(
                    f"{name} must have the same shape as input_ids {tuple(input_ids.shape)}; got {tuple(extra.shape)}"
                )
        if token_type_ids is not None and self.token_type_embeddings is None:
            raise InputError("token_type_ids were given, but this model has type_vocab_size=0")

    def check_values(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, token_type_ids: torch.Tensor | None
    ) -> None:
        """Checks that read the tensors' values (a device sync each); skipped under torch.compile / export."""
        if input_ids.numel():
            low, high = int(input_ids.min()), int(input_ids.max())
            if low < 0 or high >= self.vocab_size:
                raise InputError(
                    f"token ids must lie in [0, {self.vocab_size - 1}] (vocab_size={self.vocab_size}); got ids from {low} to {high}"
                )
        if token_type_ids is not None and token_type_ids.numel():
            high = int(token_type_ids.max())
            if int(token_type_ids.min()) < 0 or high >= self.type_vocab_size:
                raise InputError(f"token_type_ids must lie in [0, {self.type_vocab_size - 1}]; got a maximum of {high}")
        if attention_mask is not None and attention_mask.numel() and not bool(attention_mask.bool().any(dim=1).all()):
            raise InputError("every sequence needs at least one real token; attention_mask has a row of all zeros")

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> EncoderInput:
        self.check_input(input_ids, attention_mask, token_type_ids)
        if not torch.compiler.is_compiling():
            self.check_values(input_ids, attention_mask, token_type_ids)
        x = self.word_embeddings(input_ids)
        if self.position_embeddings is not None:
            x = x + self.position_embeddings(self.position_ids[:, : input_ids.shape[1]])
        if self.token_type_embeddings is not None:
            types = token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids)
            x = x + self.token_type_embeddings(types)
        mask = attention_mask.bool() if attention_mask is not None else None
        tokens = self.drop(self.norm(x))
        return EncoderInput(self.project(tokens) if self.project is not None else tokens, mask, self.num_prefix_tokens)
