"""vit_bert: one Transformer encoder core that reads text tokens (BERT) or image patches (ViT).

    config -> front-end -> shared Encoder -> pooling/head -> Lightning task

The names below load on first use (PEP 562), so that ``import vit_bert`` and the ``vit-bert`` command's
help cost no torch import; ``from vit_bert import build_model`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

_EXPORTS = {  # name -> the module that defines it
    **dict.fromkeys(["DataContract", "ModelConfig", "ModelOptions", "list_presets"], "config"),
    "VitBertError": "errors",
    **dict.fromkeys([
        "Block", "ClassifierHead", "ConvStem", "Encoder", "EncoderConfig", "EncoderInput", "HeadConfig", "ImageConfig",
        "ImageFrontEnd", "PatchEmbedding", "SelfAttention", "TextConfig", "TextFrontEnd", "pool_tokens",
    ], "layers"),
    **dict.fromkeys(["TransformerClassifier", "build_model"], "model"),
    **dict.fromkeys(["MultiTaskModel", "build_multitask"], "multitask"),
    "PRESETS": "presets",
    "load_pretrained": "weights",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # once loaded, a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # for type checkers and editors: the same names, imported eagerly
    from .config import DataContract, ModelConfig, ModelOptions, list_presets
    from .errors import VitBertError
    from .layers import (
        Block, ClassifierHead, ConvStem, Encoder, EncoderConfig, EncoderInput, HeadConfig, ImageConfig, ImageFrontEnd, PatchEmbedding,
        SelfAttention, TextConfig, TextFrontEnd, pool_tokens,
    )
    from .model import TransformerClassifier, build_model
    from .multitask import MultiTaskModel, build_multitask
    from .presets import PRESETS
    from .weights import load_pretrained
