"""ModelConfig: every number that defines a vit_bert model, validated on creation.

``ModelConfig.from_name("vit-b/16", num_classes=10)`` starts from a preset
(``presets.PRESETS``) and applies overrides; unknown names or keys raise with
the closest valid spelling. ``to_dict`` / ``from_dict`` round-trip through JSON.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass

from .presets import PRESETS


def _suggest(given: str, choices) -> str:
    close = difflib.get_close_matches(given, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


@dataclass
class ModelConfig:
    modality: str = "image"
    """'image' (patches -> tokens, ViT) or 'text' (token ids, BERT)."""
    dim: int = 768
    """Token width D."""
    depth: int = 12
    """Number of Transformer blocks."""
    heads: int = 12
    """Attention heads; each head works in D / heads dimensions (768 / 12 = 64)."""
    mlp_ratio: float = 4.0
    """MLP hidden width = mlp_ratio * D."""
    pre_norm: bool = True
    """True: LayerNorm before attention/MLP (ViT). False: after the residual add (BERT)."""
    ln_eps: float = 1e-6
    """LayerNorm epsilon (timm ViT 1e-6, BERT 1e-12)."""
    qkv_bias: bool = True
    """Bias in the fused Q, K, V projection."""
    act: str = "gelu"
    """MLP activation: 'gelu' (exact erf, timm ViT and BERT) or 'gelu_tanh' (the tanh approximation, HF 'gelu_new')."""
    dropout: float = 0.0
    """Dropout on embeddings, attention output and MLP."""
    attn_dropout: float = 0.0
    """Dropout on the attention weights."""
    drop_path: float = 0.0
    """Stochastic depth rate of the last block (linearly increasing from 0)."""
    grad_checkpointing: bool = False
    """Recompute block activations in backward to save memory."""
    pool: str = "cls"
    """How the sequence becomes one vector: 'cls' (token 0) or 'mean' (masked for text)."""
    head_pooler: bool = False
    """BERT's pooler: a dense + tanh layer between pooling and the classifier."""
    head_dropout: float = 0.0
    """Dropout before the classifier."""
    num_classes: int = 1000
    """Classifier outputs; 0 gives a model that returns pooled features."""
    # image front-end
    img_size: int = 224
    """Configured input size (square); other sizes interpolate the position embeddings."""
    patch_size: int = 16
    """Patch side P: a P x P x C patch becomes one token."""
    stem: str = "patch"
    """How pixels become tokens: 'patch' (one Linear per flattened patch, ViT) or 'conv' (stride-2 3x3
    conv stages down to the same grid, for small data and short budgets; P must be a power of 2)."""
    in_chans: int = 3
    """Image channels."""
    class_token: bool = True
    """Prepend a learned [CLS] token to image patches."""
    pos_embed: str = "learned"
    """Image position embeddings: 'learned' or fixed 2D 'sincos'."""
    # text front-end
    vocab_size: int = 30522
    """Number of token ids."""
    max_len: int = 512
    """Longest sequence the position table holds."""
    type_vocab_size: int = 2
    """Token-type (segment) ids; 0 disables them."""
    pad_token_id: int = 0
    """Id of the padding token."""

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value, expected = getattr(self, f.name), hints[f.name]
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                setattr(self, f.name, float(value))
            elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise TypeError(f"model config '{f.name}' must be {expected.__name__}; got {value!r} ({type(value).__name__})")
        self._check_choice("modality", ("image", "text"))
        self._check_choice("pool", ("cls", "mean"))
        self._check_choice("pos_embed", ("learned", "sincos"))
        self._check_choice("act", ("gelu", "gelu_tanh"))
        self._check_choice("stem", ("patch", "conv"))
        for name in ("dim", "depth", "heads", "patch_size", "img_size", "in_chans", "vocab_size", "max_len"):
            if getattr(self, name) <= 0:
                raise ValueError(f"model config '{name}' must be positive; got {getattr(self, name)}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0; got {self.num_classes}")
        if self.dim % self.heads:
            raise ValueError(f"dim must be divisible by heads; got dim={self.dim}, heads={self.heads}")
        if self.modality == "image" and self.img_size % self.patch_size:
            raise ValueError(
                f"img_size {self.img_size} is not divisible by patch_size {self.patch_size}; "
                f"expected a multiple of {self.patch_size} (e.g. {self.img_size // self.patch_size * self.patch_size or self.patch_size})"
            )
        if self.modality == "image" and self.stem == "conv" and self.patch_size & (self.patch_size - 1):
            raise ValueError(f"stem='conv' needs a patch_size that is a power of 2 (2, 4, 8, 16, ...); got {self.patch_size}")
        if self.modality == "image" and self.pool == "cls" and not self.class_token:
            raise ValueError("pool='cls' needs class_token=True; use pool='mean' for a model without [CLS]")

    def _check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        if getattr(self, name) not in choices:
            raise ValueError(f"model config '{name}' must be one of {choices}; got {getattr(self, name)!r}")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        unknown = [k for k in values if k not in cls.field_names()]
        if unknown:
            key = unknown[0]
            raise KeyError(f"unknown model config key {key!r}.{_suggest(key, cls.field_names())} Valid keys: {', '.join(cls.field_names())}")
        return cls(**values)

    @classmethod
    def from_name(cls, name: str, **overrides) -> "ModelConfig":
        if name not in PRESETS:
            raise KeyError(f"unknown preset {name!r}.{_suggest(name, PRESETS)} Known presets: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})

    def replace(self, **overrides) -> "ModelConfig":
        return self.from_dict({**self.to_dict(), **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def num_patches(self) -> int:
        return (self.img_size // self.patch_size) ** 2

    def encoder_kwargs(self) -> dict:
        names = ("dim", "depth", "heads", "mlp_ratio", "pre_norm", "ln_eps", "qkv_bias", "act", "dropout", "attn_dropout", "drop_path", "grad_checkpointing")
        return {name: getattr(self, name) for name in names}


def list_presets() -> list[str]:
    return list(PRESETS)

