"""The building blocks, below everything else: they import torch, timm.layers, einops and ``vit_bert.errors`` only.

    attention.SelfAttention   (B, L, D) -> (B, L, D)
    block.Block               (B, L, D) -> (B, L, D)
    encoder.Encoder           (B, L, D) [+ mask (B, L)] -> (B, L, D)
    packing.Packing           (B, L, ...) <-> (N, ...) real tokens
    patch_embed.PatchEmbedding, conv_stem.ConvStem   (B, C, H, W) -> (B, N, D)
    image_frontend.ImageFrontEnd   (B, C, H, W) -> (B, 1 + N, D)
    text_frontend.TextFrontEnd     ids (B, T) [+ mask, types] -> (B, T, D)
    head.ClassifierHead       (B, L, D) -> (B, num_classes)
    masked_token_head.MaskedTokenHead   (B, T, D) -> (B, T, vocab_size), decoder tied to the word embeddings
    pixel_head.PixelHead      patch tokens (B, N, D) -> pixels (B, N, P * P * C); ``patchify`` makes the targets
"""

from .attention import SelfAttention
from .block import Block
from .conv_stem import ConvStem
from .encoder import Encoder
from .head import ClassifierHead, pool_tokens
from .image_frontend import ImageFrontEnd
from .masked_token_head import MaskedTokenHead
from .packing import Packing
from .patch_embed import PatchEmbedding
from .pixel_head import PixelHead, patchify
from .pos_embed import sincos_2d
from .text_frontend import TextFrontEnd

__all__ = [
    "Block", "ClassifierHead", "ConvStem", "Encoder", "ImageFrontEnd", "MaskedTokenHead", "Packing", "PatchEmbedding", "PixelHead", "SelfAttention",
    "TextFrontEnd", "patchify", "pool_tokens", "sincos_2d",
]
