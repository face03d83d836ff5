"""vit_bert: one Transformer encoder core that reads text tokens (BERT) or image patches (ViT).

    config -> front-end -> shared Encoder -> pooling/head -> Lightning task
"""

__version__ = "0.1.0"  # before the imports: weights.native reads it

from .attention import SelfAttention
from .block import Block
from .config import ModelConfig, list_presets
from .conv_stem import ConvStem
from .encoder import Encoder
from .head import ClassifierHead, pool_tokens
from .image_frontend import ImageFrontEnd, PatchEmbedding
from .model import TransformerClassifier, build_model
from .presets import PRESETS
from .text_frontend import TextFrontEnd
from .weights import load_pretrained

__all__ = [
    "Block", "ClassifierHead", "ConvStem", "Encoder", "ImageFrontEnd", "ModelConfig", "PRESETS", "PatchEmbedding",
    "SelfAttention", "TextFrontEnd", "TransformerClassifier", "build_model", "list_presets", "load_pretrained", "pool_tokens",
]
