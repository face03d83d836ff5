"""vit_bert: one Transformer encoder core that reads text tokens (BERT) or image patches (ViT).

    config -> front-end -> shared Encoder -> pooling/head -> Lightning task
"""

from ._version import __version__
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

__all__ = [
    "Block", "ClassifierHead", "ConvStem", "DataContract", "Encoder", "EncoderConfig", "EncoderInput", "HeadConfig", "ImageConfig",
    "TextConfig", "ImageFrontEnd", "ModelConfig", "ModelOptions", "PRESETS",
    "MultiTaskModel", "PatchEmbedding", "SelfAttention", "TextFrontEnd", "TransformerClassifier", "VitBertError", "__version__",
    "build_model", "build_multitask", "list_presets", "load_pretrained", "pool_tokens",
]
