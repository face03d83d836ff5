"""The classifier: front-end -> shared Encoder -> head, composed, for either modality.

    image: images (B, C, H, W)                          -> logits (B, num_classes)
    text:  input_ids (B, T), attention_mask, token_type_ids -> logits (B, num_classes)

``forward_features`` returns the encoder output (B, L, D); ``forward_head`` pools
and classifies; ``forward`` does both, and with ``return_attention=True``
returns ``(logits, attentions)``, a list of ``depth`` tensors (B, heads, L, L).
"""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from torch import nn

from .config import ModelConfig
from .encoder import Encoder
from .head import ClassifierHead
from .image_frontend import ImageFrontEnd
from .text_frontend import TextFrontEnd


def build_frontend(config: ModelConfig) -> nn.Module:
    if config.modality == "image":
        return ImageFrontEnd(
            config.img_size, config.patch_size, config.in_chans, config.dim, config.class_token, config.pos_embed, config.dropout,
            config.stem,
        )
    return TextFrontEnd(
        config.vocab_size, config.dim, config.max_len, config.type_vocab_size, config.ln_eps, config.dropout, config.pad_token_id
    )


def _init_linear(module: nn.Module) -> None:
    # BERT and timm ViT both start the encoder's and head's Linear weights at std 0.02.
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class TransformerClassifier(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.frontend = build_frontend(config)
        self.encoder = Encoder(**config.encoder_kwargs())
        self.head = ClassifierHead(
            config.dim, config.num_classes, config.pool, config.head_pooler, config.head_dropout, self.frontend.num_prefix_tokens
        )
        self.encoder.apply(_init_linear)
        self.head.apply(_init_linear)
        self.frontend.init_weights()
        # Set by load_pretrained when the source has them; written by save_pretrained.
        self.class_names: list[str] | None = None
        self.tokenizer = None

    @property
    def modality(self) -> str:
        return self.config.modality

    def forward_features(self, *inputs, return_attention: bool = False, **kwargs):
        """Front-end + Encoder -> features (B, L, D), or ``(features, attentions)`` with return_attention.

        For text with ``pool="mean"``, pass the same attention_mask on to ``forward_head``.
        """
        tokens, mask = self.frontend(*inputs, **kwargs)
        return self.encoder(tokens, mask, return_attention=return_attention)

    def forward_head(self, features: torch.Tensor, attention_mask: torch.Tensor | None = None, pre_logits: bool = False) -> torch.Tensor:
        """(B, L, D) -> logits (B, num_classes), or the pooled (B, D) vector with ``pre_logits=True``."""
        mask = attention_mask.bool() if attention_mask is not None else None
        return self.head(features, mask, pre_logits=pre_logits)

    def save_pretrained(self, directory, tokenizer=None, class_names: list[str] | None = None):
        """config.json + model.safetensors (+ tokenizer.json) in ``directory``; ``vit_bert.load_pretrained(directory)`` reads it back."""
        from .weights.native import save_pretrained

        return save_pretrained(self, directory, tokenizer, class_names)

    def forward(self, *inputs, return_attention: bool = False, **kwargs):
        tokens, mask = self.frontend(*inputs, **kwargs)
        # A [CLS]-pooled head reads token 0 only, so the last block computes that token alone
        # (same logits, ~1/depth less work); attention maps are wanted whole.
        keep = 1 if self.head.pool == "cls" and not return_attention else None
        features = self.encoder(tokens, mask, return_attention=return_attention, keep=keep)
        if return_attention:
            features, attentions = features
            return self.head(features, mask), attentions
        return self.head(features, mask)


def build_model(name_or_config: str | ModelConfig | dict = "vit-b/16", **overrides) -> TransformerClassifier:
    """``build_model("vit-b/16", num_classes=10)``; ``build_model("bert-mini", num_classes=2, vocab_size=30522)``.

    Accepts a preset name, a ModelConfig or a dict of ModelConfig fields; keyword
    overrides replace single fields (unknown keys raise KeyError with a suggestion).
    """
    if isinstance(name_or_config, str):
        config = ModelConfig.from_name(name_or_config, **overrides)
    elif isinstance(name_or_config, ModelConfig):
        config = name_or_config.replace(**overrides)
    elif isinstance(name_or_config, dict):
        config = ModelConfig.from_dict({**name_or_config, **overrides})
    else:
        raise TypeError(f"build_model takes a preset name, a ModelConfig or a dict; got {type(name_or_config).__name__}")
    return TransformerClassifier(config)
