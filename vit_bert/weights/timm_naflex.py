"""timm's NaFlexVit model objects (``naflexvit_base_patch16_gap``, ``_map``, ``_siglip``; any ViT built with
``use_naflex=True``) -> timm VisionTransformer's keys, which the timm converter reads.

NaFlexVit embeds patches with a Linear over each patch flattened as (row, column, channel), which is vit_bert's own
patch embedding (``embeds.proj.weight`` (D, P*P*C) -> timm's (D, C, P, P)); its position table is a grid
(1, H, W, D) over the patches alone ([CLS] and registers have none: vit_bert's ``no_embed_class``), resampled to each
image's grid with antialiased bicubic (bilinear for ``_siglip``: ``pos_embed_interp``) interpolation, as vit_bert resamples,
stretched or (``_par``) keeping the aspect ratio (``pos_embed_resize``). Blocks, norms and pooling are timm's
VisionTransformer's. What vit_bert does not compute stops, named: factorized position tables (``_parfac``),
grid-sample positions, another interpolation, a norm of the patch input or of the embeddings.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from ..errors import WeightsError

_EMBEDS = {"embeds.cls_token": "cls_token", "embeds.reg_token": "reg_token", "embeds.proj.bias": "patch_embed.proj.bias"}


def is_naflexvit(model: nn.Module) -> bool:
    return type(model).__name__ == "NaFlexVit"


def naflex_fields(model: nn.Module) -> dict:
    """The ModelConfig fields no tensor stores: how the position table is resampled."""
    embeds = model.embeds
    return {"pos_embed_interp": embeds.pos_embed_interp_mode, "pos_embed_resize": "keep_aspect" if embeds.pos_embed_ar_preserving else "stretch"}


def naflex_vit_keys(model: nn.Module) -> dict[str, torch.Tensor]:
    embeds = model.embeds
    unsupported = [what for what, on in (
        ("factorized position tables (pos_embed_type='factorized')", embeds.pos_embed_type != "learned"),
        ("grid-sample positions (pos_embed_use_grid_sample)", embeds.pos_embed_use_grid_sample),
        ("a norm of the patch input (norm_input)", getattr(embeds, "norm_input", None) is not None),
        ("a norm after the patch embedding", not isinstance(getattr(embeds, "norm", nn.Identity()), nn.Identity)),
        ("a convolutional patch embedding", not getattr(embeds, "is_linear", True)),
        (f"{embeds.pos_embed_interp_mode} interpolation of its position table (antialias={embeds.pos_embed_antialias}, align_corners="
         f"{embeds.pos_embed_align_corners}); vit_bert resamples antialiased bicubic or bilinear",
         embeds.pos_embed_interp_mode not in ("bicubic", "bilinear") or not embeds.pos_embed_antialias or embeds.pos_embed_align_corners),
    ) if on]
    if unsupported:
        raise WeightsError(f"this NaFlexVit has {unsupported[0]}, which vit_bert does not compute")
    patch = embeds.patch_size[0] if isinstance(embeds.patch_size, (tuple, list)) else embeds.patch_size
    out = {}
    for key, value in model.state_dict().items():
        if key in _EMBEDS:
            out[_EMBEDS[key]] = value
        elif key == "embeds.proj.weight":
            out["patch_embed.proj.weight"] = rearrange(value, "d (p1 p2 c) -> d c p1 p2", p1=patch, p2=patch)
        elif key == "embeds.pos_embed":
            out["pos_embed"] = rearrange(value, "one h w d -> one (h w) d")
        elif key.startswith("embeds."):
            raise WeightsError(f"this NaFlexVit holds {key}, which vit_bert cannot represent")
        else:
            out[key] = value
    return out
