"""timm VisionTransformer state dicts -> vit_bert config + state dict.

timm keys (see ../shared/DESIGN.md): ``cls_token`` (1, 1, D), ``pos_embed`` (1, 1 + N, D),
``patch_embed.proj.weight`` (D, C, P, P), ``blocks.i.{norm1, attn.qkv, attn.proj, norm2,
mlp.fc1, mlp.fc2}``, ``norm``, ``head``. Pre-norm, LayerNorm eps 1e-6, exact GELU.

vit_bert's encoder uses the same block names under ``encoder.``; only the patch
projection changes layout (Conv2d (D, C, P, P) -> Linear (D, P*P*C)).
"""

from __future__ import annotations

import math
import re

import torch
from einops import rearrange


def is_timm_vit(state_dict: dict) -> bool:
    return "patch_embed.proj.weight" in state_dict and any(k.startswith("blocks.") for k in state_dict)


def timm_vit_config(state_dict: dict[str, torch.Tensor], heads: int | None = None) -> dict:
    """ModelConfig fields read off the tensors. Head count is not stored in the weights:
    it defaults to D / 64 (every timm ViT size), pass ``heads=`` for other shapes."""
    dim, in_chans, patch_size, _ = state_dict["patch_embed.proj.weight"].shape
    depth = 1 + max(int(m.group(1)) for k in state_dict if (m := re.match(r"blocks\.(\d+)\.", k)))
    class_token = "cls_token" in state_dict
    num_patches = state_dict["pos_embed"].shape[1] - int(class_token)
    grid = math.isqrt(num_patches)
    if grid * grid != num_patches:
        raise ValueError(f"timm pos_embed holds {num_patches} patch positions, not a square grid; expected e.g. 196 (14 x 14)")
    head = state_dict.get("head.weight")
    return dict(
        modality="image",
        dim=dim,
        depth=depth,
        heads=heads or max(1, dim // 64),
        mlp_ratio=state_dict["blocks.0.mlp.fc1.weight"].shape[0] / dim,
        pre_norm=True,
        ln_eps=1e-6,
        qkv_bias="blocks.0.attn.qkv.bias" in state_dict,
        pool="cls" if class_token else "mean",
        head_pooler=False,
        num_classes=head.shape[0] if head is not None else 0,
        img_size=grid * patch_size,
        patch_size=patch_size,
        in_chans=in_chans,
        class_token=class_token,
        pos_embed="learned",
    )


def timm_vit_to_vit_bert(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename timm keys to vit_bert's; unknown keys pass through unchanged (the loader reports them)."""
    out = {}
    for key, value in state_dict.items():
        if key == "patch_embed.proj.weight":
            out["frontend.patch_embed.proj.weight"] = rearrange(value, "d c p1 p2 -> d (p1 p2 c)")
        elif key in ("cls_token", "pos_embed") or key.startswith("patch_embed."):
            out[f"frontend.{key}"] = value
        elif key.startswith(("blocks.", "norm.")):
            out[f"encoder.{key}"] = value
        elif key.startswith("head."):
            out[f"head.fc.{key[len('head.'):]}"] = value
        else:
            out[key] = value
    return out
