"""The typed settings: ``ModelConfig`` (what defines a model) and ``DataContract`` (what the data decided).

``ModelConfig`` composes the sections of ``layers/configs.py`` (EncoderConfig, ImageConfig, TextConfig,
HeadConfig), each taken by the module of that name. ``ModelConfig.from_name("vit-b/16", num_classes=10)`` starts from a preset
(``presets.PRESETS``) and applies overrides; unknown names or keys raise with
the closest valid spelling. ``to_dict`` / ``from_dict`` round-trip through JSON.
``ModelOptions`` has every ModelConfig field, each optional: the typed overrides of the command line.
``DataContract`` travels with the weights (checkpoints and save_pretrained folders), so predict,
viz and export read an input exactly as training did.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field

import docstring_parser
from tokenizers import Tokenizer

from .errors import ConfigError, ConfigKeyError, suggest
from .layers.checks import check_choice, check_types
from .layers.configs import EncoderConfig, HeadConfig, ImageConfig, TextConfig, field_names, fixed_by_weights, section_of, weight_fixed_names
from .presets import PRESETS

INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "lanczos", "box", "hamming")
"""timm's names of the resampling filters (``timm.data.str_to_interp_mode``)."""


SECTIONS = (EncoderConfig, ImageConfig, TextConfig, HeadConfig)


@dataclass
class ModelConfig(HeadConfig, TextConfig, ImageConfig, EncoderConfig):
    """A whole model's settings: the modality plus the fields of ``EncoderConfig``, ``ImageConfig``, ``TextConfig``
    and ``HeadConfig`` (see ``layers/configs.py``), one level deep, as timm's and Hugging Face's keyword overrides are.
    ``encoder_config``, ``image_config``, ``text_config`` and ``head_config`` hand each module its own part."""

    modality: str = fixed_by_weights("image")
    """'image' (patches -> tokens, ViT) or 'text' (token ids, BERT)."""

    def __post_init__(self):
        check_types(self, "model config")
        check_choice("modality", self.modality, ("image", "text"))
        for section in SECTIONS:
            section.check(self)
        if self.head == "mlm" and self.modality != "text":
            raise ConfigError("head='mlm' (masked-token prediction over a vocabulary) needs modality='text'")
        if self.head == "pixels" and self.modality != "image":
            raise ConfigError("head='pixels' (masked-patch prediction of pixels) needs modality='image'")
        if self.fc_norm and self.pre_norm and self.final_norm:
            raise ConfigError("fc_norm=True normalises after pooling in place of the encoder's final norm; set final_norm=False too")
        if self.rope_theta is None and not (self.learned_positions if self.modality == "text" else self.pos_embed != "none"):
            what = "learned_positions=False" if self.modality == "text" else "pos_embed='none'"
            raise ConfigError(f"{what} leaves the tokens without positions: set rope_theta (rotary positions) too")
        if self.modality == "image":
            if self.rope_augments_on and self.rope_theta is None:
                raise ConfigError(f"{', '.join(self.rope_augments_on)} augment the rotary patch coordinates: set rope_theta (rotary positions) too")
            if self.pool == "cls" and not self.class_token:
                raise ConfigError("pool='cls' needs class_token=True; use pool='mean' or 'map' for a model without [CLS]")
            if self.dist_token and self.pool != "cls":
                raise ConfigError(f"dist_token=True reads [CLS] and the distillation token: it needs pool='cls'; got pool={self.pool!r}")

    @property
    def encoder_config(self) -> EncoderConfig:
        return section_of(EncoderConfig, self)

    @property
    def image_config(self) -> ImageConfig:
        return section_of(ImageConfig, self)

    @property
    def text_config(self) -> TextConfig:
        return section_of(TextConfig, self)

    @property
    def head_config(self) -> HeadConfig:
        return section_of(HeadConfig, self)

    @property
    def frontend_config(self) -> ImageConfig | TextConfig:
        return self.image_config if self.modality == "image" else self.text_config

    @property
    def num_prefix_tokens(self) -> int:
        return self.image_config.num_prefix_tokens if self.modality == "image" else 0

    @classmethod
    def field_names(cls) -> list[str]:
        return field_names(cls)

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


# Fields that pretrained weights fix: a different value would not fit them, or would compute something else.
ARCHITECTURE_FIELDS = tuple(weight_fixed_names(ModelConfig))


def list_presets() -> list[str]:
    return list(PRESETS)


def _field_helps() -> dict[str, str]:
    """Each field's docstring, from the section that declares it (ModelConfig's own last)."""
    helps = {}
    for owner in (*SECTIONS, ModelConfig):
        helps.update({p.arg_name: " ".join(p.description.split()) for p in docstring_parser.parse_from_object(owner).params if p.description})
    return helps


def _model_options() -> type:
    """ModelConfig's fields, each ``Optional`` with default None (= the preset's value), with the same help texts."""
    hints = typing.get_type_hints(ModelConfig)
    helps = _field_helps()
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
    """Side the model sees (images are resized and center-cropped to it, see crop_pct)."""
    mean: list[float] | None = None
    """Per-channel mean of the training images in [0, 1], subtracted before the model."""
    std: list[float] | None = None
    """Per-channel standard deviation of the training images in [0, 1]."""
    crop_pct: float | None = None
    """Evaluation resizes the short side to img_size / crop_pct, then center-crops img_size (timm's protocol);
    None: the whole image is resized to img_size x img_size (how checkpoints before this field read images)."""
    interpolation: str = "bilinear"
    """Resampling filter of evaluation's resize (timm's names: bilinear, bicubic, ...)."""
    crop_mode: str = "center"
    """With crop_pct: 'center' resizes the short side to img_size / crop_pct (the aspect ratio kept); 'squash' resizes
    the whole image to that square; then both center-crop img_size (timm's crop_mode)."""
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
        check_types(self, "data contract")
        check_choice("modality", self.modality, ("image", "text"))
        needed = self.IMAGE_FIELDS if self.modality == "image" else self.TEXT_FIELDS
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ConfigError(f"a {self.modality} data contract needs {', '.join(missing)}")
        if self.modality == "image" and not len(self.mean) == len(self.std) == self.in_chans:
            raise ConfigError(f"mean and std need one value per channel ({self.in_chans}); got {self.mean} and {self.std}")
        if self.crop_pct is not None and not 0 < self.crop_pct <= 1:
            raise ConfigError(f"crop_pct is the share of the resized short side kept by the center crop, in (0, 1]; got {self.crop_pct}")
        if self.crop_mode not in ("center", "squash"):
            raise ConfigError(f"crop_mode must be 'center' or 'squash'; got {self.crop_mode!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"interpolation must be one of {INTERPOLATIONS}; got {self.interpolation!r}")

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

