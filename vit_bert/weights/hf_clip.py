"""Hugging Face CLIP, SigLIP and SigLIP 2 vision towers (``CLIPVisionModel``, ``SiglipVisionModel``,
``Siglip2VisionModel``) -> ``Pretrained``, through timm's key layout.

HF keys (optionally under ``vision_model.``): ``embeddings.patch_embedding.{weight (D, C, P, P), bias (SigLIP)}``,
``embeddings.position_embedding.weight`` ((1+N, D) for CLIP, whose table covers its ``class_embedding`` (D,); (N, D) for
SigLIP, which has no [CLS]), CLIP's ``pre_layrnorm`` (timm's ``norm_pre``), ``encoder.layers.i.{layer_norm1,
self_attn.{q,k,v}_proj, self_attn.out_proj, layer_norm2, mlp.fc1, mlp.fc2}``, ``post_layernorm``, and SigLIP's attention
pooling ``head.{probe, attention.in_proj_{weight,bias}, attention.out_proj, layernorm, mlp}`` (timm's ``attn_pool``: the
probe its latent query, ``in_proj`` split into ``q`` and ``kv``).
CLIP applies ``post_layernorm`` to [CLS] alone (its ``pooler_output``); here it is the encoder's final norm over every
token, as in timm's CLIP: [CLS] then equals ``pooler_output``, and every token equals ``post_layernorm(last_hidden_state)``.
SigLIP's ``post_layernorm`` is already over every token (``last_hidden_state``); without a head it pools the mean.
Both resample their position table with plain bicubic (transformers' ``interpolate_pos_encoding``).
"""

from __future__ import annotations

from einops import rearrange

from ..formats.hf_image_keys import CLIP_LAYOUT, rename_to_timm
from ..errors import WeightsError
from .hf_image import hf_image_facts, read_hf_image
from .pretrained import Pretrained, Source

CLIP_TYPES, SIGLIP_TYPES, SIGLIP2_TYPES = ("clip_vision_model",), ("siglip_vision_model",), ("siglip2_vision_model",)


def _timm_keys(source: Source) -> dict:
    timm_keys = rename_to_timm(source.state_dict, CLIP_LAYOUT)
    if "cls_token" in timm_keys:
        timm_keys["cls_token"] = timm_keys["cls_token"].reshape(1, 1, -1)
    if "pos_embed" in timm_keys:
        timm_keys["pos_embed"] = timm_keys["pos_embed"].unsqueeze(0)
    for kind in ("weight", "bias"):  # the pooling attention's packed q; k; v: timm's q and kv
        packed = timm_keys.pop(f"attn_pool.in_proj.{kind}", None)
        if packed is not None:
            third = packed.shape[0] // 3
            timm_keys[f"attn_pool.q.{kind}"], timm_keys[f"attn_pool.kv.{kind}"] = packed[:third], packed[third:]
    return timm_keys


def read_clip_vision(source: Source) -> Pretrained:
    return read_hf_image(source, _timm_keys(source), hf_image_facts(source.config, act="quick_gelu", eps=1e-5), antialias=False)


def read_siglip_vision(source: Source) -> Pretrained:
    return read_hf_image(source, _timm_keys(source), hf_image_facts(source.config, act="gelu_pytorch_tanh", eps=1e-6), antialias=False)


def read_siglip2_vision(source: Source) -> Pretrained:
    """SigLIP 2 (NaFlex, ``Siglip2VisionModel``): SigLIP's tower with a Linear patch embedding over patches flattened as
    (row, column, channel), vit_bert's own (weight (D, P*P*C) -> timm's (D, C, P, P)), and a position table of
    ``num_patches`` resampled to each image's grid with antialiased bilinear interpolation (``pos_embed_interp``). Its
    batches (``pixel_values``, ``pixel_attention_mask``, ``spatial_shapes``) are the model's input as they are."""
    timm_keys = _timm_keys(source)
    weight = timm_keys["patch_embed.proj.weight"]
    if weight.ndim == 2:
        patch = source.config.get("patch_size")
        if not isinstance(patch, int) or weight.shape[1] % (patch * patch):
            raise WeightsError(f"config.json's patch_size={patch!r} does not divide the patch embedding's {weight.shape[1]} inputs")
        timm_keys["patch_embed.proj.weight"] = rearrange(weight, "d (p1 p2 c) -> d c p1 p2", p1=patch, p2=patch)
    return read_hf_image(source, timm_keys, hf_image_facts(source.config, act="gelu_pytorch_tanh", eps=1e-6), antialias=True,
                         fields={"pos_embed_interp": "bilinear"})
