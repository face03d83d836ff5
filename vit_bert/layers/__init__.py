"""The building blocks, below everything else: they import torch, timm.layers, einops and ``vit_bert.errors`` only.

    configs.EncoderConfig / ImageConfig / TextConfig / HeadConfig   each module's settings (ModelConfig composes them)
    encoder_input.EncoderInput   what a front-end hands the encoder: tokens, mask, prefix count, grid
    registry                  norms, MLPs and activations by config name
    rotary.TokenPositions / rotary_tables / rotate   rotary positions: coordinates (N, A) -> cos/sin tables -> turned Q and K
    attention.SelfAttention   (B, L, D) -> (B, L, D)
    block.Block               (B, L, D) -> (B, L, D)
    encoder.Encoder           (B, L, D) [+ mask (B, L)] -> (B, L, D)
    packing.Packing           (B, L, ...) <-> (N, ...) real tokens
    patch_embed.PatchEmbedding, conv_stem.ConvStem   (B, C, H, W) -> (B, N, D)
    image_frontend.ImageFrontEnd   (B, C, H, W) -> EncoderInput (B, prefix + N, D)
    text_frontend.TextFrontEnd     ids (B, T) [+ mask, types] -> EncoderInput (B, T, D)
    head.ClassifierHead       (B, L, D) -> (B, num_classes)
    masked_token_head.MaskedTokenHead   (B, T, D) -> (B, T, vocab_size), decoder tied to the word embeddings
    pixel_decoder.PixelDecoder   visible tokens (B, 1 + K, D) -> pixels of every patch (B, N, P * P * C) (MAE);
                              ``patchify`` / ``unpatchify`` convert images <-> patch rows
    patch_batches.images_from_patches   timm NaFlex / transformers SigLIP 2 patch dicts -> a list of (C, H, W) images
    lora.LoRAConfig / add_lora / merge_lora   low-rank updates of the encoder's projections (parametrizations)
"""

from .attention import SelfAttention
from .block import Block
from .configs import EncoderConfig, HeadConfig, ImageConfig, TextConfig
from .encoder_input import EncoderInput
from .conv_stem import ConvStem
from .encoder import Encoder
from .head import ClassifierHead, pool_tokens
from .image_frontend import ImageFrontEnd
from .masked_token_head import MaskedTokenHead
from .packing import Packing
from .patch_embed import PatchEmbedding
from .pixel_decoder import PixelDecoder, patchify, unpatchify
from .pos_embed import sincos_2d
from .rotary import TokenPositions
from .text_frontend import TextFrontEnd

__all__ = [
    "EncoderConfig", "EncoderInput", "HeadConfig", "ImageConfig", "TextConfig",
    "Block", "ClassifierHead", "ConvStem", "Encoder", "ImageFrontEnd", "MaskedTokenHead", "Packing", "PatchEmbedding", "PixelDecoder", "SelfAttention",
    "TextFrontEnd", "TokenPositions", "patchify", "unpatchify", "pool_tokens", "sincos_2d",
]
