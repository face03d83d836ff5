"""The typed settings: ``ModelConfig`` (what defines a model) and ``DataContract`` (what the data decided).

``ModelConfig.from_name("vit-b/16", num_classes=10)`` starts from a preset
(``presets.PRESETS``) and applies overrides; unknown names or keys raise with
the closest valid spelling. ``to_dict`` / ``from_dict`` round-trip through JSON.
``ModelOptions`` has every ModelConfig field, each optional: the typed overrides of the command line.
``DataContract`` travels with the weights (checkpoints and save_pretrained folders), so predict,
viz and export read an input exactly as training did.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field

import docstring_parser
from tokenizers import Tokenizer

from .errors import ConfigError, ConfigKeyError, ConfigTypeError
from .layers.checks import check_choice, check_heads, check_patch_grid, check_positive, check_power_of_two_patch
from .presets import PRESETS


def suggest(given: str, choices) -> str:
    """" Did you mean 'x'?" for the closest of ``choices``, or ""."""
    close = difflib.get_close_matches(given, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _check_types(instance, what: str) -> None:
    """Each field of a dataclass instance against its annotation (ints become floats where a float is expected)."""
    hints = typing.get_type_hints(type(instance))
    for f in dataclasses.fields(instance):
        value, expected = getattr(instance, f.name), hints[f.name]
        optional = typing.get_origin(expected) in (typing.Union, types.UnionType)
        if optional and value is None:
            continue
        if optional:
            expected = next(a for a in typing.get_args(expected) if a is not type(None))
        base = typing.get_origin(expected) or expected
        if base is float and isinstance(value, int) and not isinstance(value, bool):
            setattr(instance, f.name, float(value))
        elif not isinstance(value, base) or (base is int and isinstance(value, bool)):
            raise ConfigTypeError(f"{what} '{f.name}' must be {base.__name__}; got {value!r} ({type(value).__name__})")


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
    head: str = "classifier"
    """What reads the encoder's output: 'classifier' (pooling + Linear -> (B, num_classes)), 'mlm' (text only:
    BERT's masked-token head, tied to the word embeddings -> (B, T, vocab_size)) or 'pixels' (images only:
    MAE's decoder: one Block over the visible tokens and mask tokens -> (B, N, P * P * C) pixels per patch)."""
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
        _check_types(self, "model config")
        check_choice("modality", self.modality, ("image", "text"))
        check_choice("pool", self.pool, ("cls", "mean"))
        check_choice("pos_embed", self.pos_embed, ("learned", "sincos"))
        check_choice("act", self.act, ("gelu", "gelu_tanh"))
        check_choice("stem", self.stem, ("patch", "conv"))
        check_choice("head", self.head, ("classifier", "mlm", "pixels"))
        if self.head == "mlm" and self.modality != "text":
            raise ConfigError("head='mlm' (masked-token prediction over a vocabulary) needs modality='text'")
        if self.head == "pixels" and self.modality != "image":
            raise ConfigError("head='pixels' (masked-patch prediction of pixels) needs modality='image'")
        for name in ("dim", "depth", "heads", "patch_size", "img_size", "in_chans", "vocab_size", "max_len"):
            check_positive(name, getattr(self, name))
        if self.num_classes < 0:
            raise ConfigError(f"num_classes must be >= 0; got {self.num_classes}")
        check_heads(self.dim, self.heads)
        if self.modality == "image":
            check_patch_grid(self.img_size, self.patch_size)
            if self.stem == "conv":
                check_power_of_two_patch(self.patch_size)
            if self.pool == "cls" and not self.class_token:
                raise ConfigError("pool='cls' needs class_token=True; use pool='mean' for a model without [CLS]")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        unknown = [k for k in values if k not in cls.field_names()]
        if unknown:
            key = unknown[0]
            raise ConfigKeyError(f"unknown model config key {key!r}.{suggest(key, cls.field_names())} Valid keys: {', '.join(cls.field_names())}")
        return cls(**values)

    @classmethod
    def from_name(cls, name: str, **overrides) -> "ModelConfig":
        if name not in PRESETS:
            raise ConfigKeyError(f"unknown preset {name!r}.{suggest(name, PRESETS)} Known presets: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})

    def replace(self, **overrides) -> "ModelConfig":
        return self.from_dict({**self.to_dict(), **overrides})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def encoder_kwargs(self) -> dict:
        names = ("dim", "depth", "heads", "mlp_ratio", "pre_norm", "ln_eps", "qkv_bias", "act", "dropout", "attn_dropout", "drop_path", "grad_checkpointing")
        return {name: getattr(self, name) for name in names}


# Fields that pretrained weights fix: a different value would not fit them, or would compute something else.
ARCHITECTURE_FIELDS = (
    "modality", "dim", "depth", "heads", "mlp_ratio", "pre_norm", "qkv_bias", "act", "patch_size", "stem", "in_chans", "class_token",
    "pos_embed", "vocab_size", "max_len", "type_vocab_size",
)


def list_presets() -> list[str]:
    return list(PRESETS)


def _model_options() -> type:
    """ModelConfig's fields, each ``Optional`` with default None (= the preset's value), with the same help texts."""
    hints = typing.get_type_hints(ModelConfig)
    helps = {p.arg_name: " ".join(p.description.split()) for p in docstring_parser.parse_from_object(ModelConfig).params}
    doc = "Model fields that replace the preset's (each one optional).\n\nArgs:\n" + "\n".join(
        f"    {f.name}: {helps.get(f.name, '')}" for f in dataclasses.fields(ModelConfig)
    )
    options = dataclasses.make_dataclass(
        "ModelOptions", [(f.name, typing.Optional[hints[f.name]], field(default=None)) for f in dataclasses.fields(ModelConfig)],
        namespace={"__doc__": doc, "set_fields": lambda self: {k: v for k, v in dataclasses.asdict(self).items() if v is not None}},
    )
    options.__module__ = __name__
    return options


ModelOptions = _model_options()
"""``--model.config.depth 6``: every ModelConfig field on the command line, typed and in ``--help``."""


@dataclass
class DataContract:
    """What the data decided, in ModelConfig's field names where they overlap. It is saved with the weights
    (train.py checkpoints, save_pretrained folders) and read back by predict, viz and export."""

    modality: str
    """'image' or 'text'."""
    class_names: list[str]
    """Label names in label-id order."""
    in_chans: int | None = None
    """Image channels."""
    img_size: int | None = None
    """Side the model sees (images are resized to it)."""
    mean: list[float] | None = None
    """Per-channel mean of the training images in [0, 1], subtracted before the model."""
    std: list[float] | None = None
    """Per-channel standard deviation of the training images in [0, 1]."""
    vocab_size: int | None = None
    """Tokenizer vocabulary size."""
    pad_token_id: int | None = None
    """Id of [PAD]."""
    max_length: int | None = None
    """Longest text in tokens ([CLS] and [SEP] included); longer texts are truncated."""
    tokenizer: str | None = None
    """The tokenizer as tokenizer.json text."""

    IMAGE_FIELDS: typing.ClassVar[tuple[str, ...]] = ("in_chans", "img_size", "mean", "std")
    TEXT_FIELDS: typing.ClassVar[tuple[str, ...]] = ("vocab_size", "pad_token_id", "max_length", "tokenizer")

    def __post_init__(self):
        _check_types(self, "data contract")
        check_choice("modality", self.modality, ("image", "text"))
        needed = self.IMAGE_FIELDS if self.modality == "image" else self.TEXT_FIELDS
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ConfigError(f"a {self.modality} data contract needs {', '.join(missing)}")
        if self.modality == "image" and not len(self.mean) == len(self.std) == self.in_chans:
            raise ConfigError(f"mean and std need one value per channel ({self.in_chans}); got {self.mean} and {self.std}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def model_fields(self) -> dict:
        """The ModelConfig fields this data dictates."""
        if self.modality == "image":
            return {"num_classes": self.num_classes, "in_chans": self.in_chans, "img_size": self.img_size}
        return {"num_classes": self.num_classes, "vocab_size": self.vocab_size, "pad_token_id": self.pad_token_id}

    def load_tokenizer(self) -> Tokenizer | None:
        return Tokenizer.from_str(self.tokenizer) if self.tokenizer is not None else None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "DataContract":
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in values if k not in names]
        if unknown:
            raise ConfigKeyError(f"unknown data contract key {unknown[0]!r}.{suggest(unknown[0], names)} Valid keys: {', '.join(names)}")
        return cls(**values)

