"""timm VisionTransformer state dicts -> vit_bert config + state dict.

timm keys: ``cls_token`` (1, 1, D), ``pos_embed`` (1, 1 + N, D),
``patch_embed.proj.weight`` (D, C, P, P), ``blocks.i.{norm1, attn.qkv, attn.proj, norm2,
mlp.fc1, mlp.fc2}``, ``norm``, ``head``. Pre-norm, LayerNorm eps 1e-6, exact GELU.

vit_bert's encoder uses the same block names under ``encoder.``; only the patch
projection changes layout (Conv2d (D, C, P, P) -> Linear (D, P*P*C)).

The head count is not in the tensors. A timm model object says it (``model.blocks[0].attn.num_heads``);
for a bare state dict it is looked up in ``timm_vit_heads.json``, the head counts of timm's registered
architectures by (width, MLP width, [CLS] or not), made by ``scripts/timm_vit_heads.py``. When that is
not one number, loading stops and asks for ``heads=``.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path

import torch
from einops import rearrange

from ..errors import AmbiguousWeightsError, WeightsError
from ..layers.checks import head_counts

HEADS_TABLE = Path(__file__).with_name("timm_vit_heads.json")


@cache
def _heads_table() -> dict:
    return json.loads(HEADS_TABLE.read_text(encoding="utf-8"))["shapes"]


def registered_heads(dim: int, mlp_hidden: int, class_token: bool) -> dict[int, list[str]]:
    """Head counts of timm's registered ViT architectures of this shape -> their names. Architectures with the
    same [CLS] choice first; when none has it (a timm ViT built with class_token=False, say), either choice."""
    table = _heads_table()
    exact = table.get(f"{dim}/{mlp_hidden}/{'cls' if class_token else 'nocls'}")
    found: dict[int, list[str]] = {}
    for by_heads in [exact] if exact else [table.get(f"{dim}/{mlp_hidden}/cls", {}), table.get(f"{dim}/{mlp_hidden}/nocls", {})]:
        for heads, names in by_heads.items():
            found.setdefault(int(heads), []).extend(names)
    return found


def infer_heads(state_dict: dict[str, torch.Tensor]) -> int:
    """The head count of a bare timm ViT state dict, when timm's registered architectures of its shape agree on one."""
    dim = state_dict["patch_embed.proj.weight"].shape[0]
    mlp_hidden = state_dict["blocks.0.mlp.fc1.weight"].shape[0]
    class_token = "cls_token" in state_dict
    found = registered_heads(dim, mlp_hidden, class_token)
    if len(found) == 1:
        return next(iter(found))
    shape = f"width {dim}, MLP width {mlp_hidden}, {'with' if class_token else 'without'} [CLS]"
    if found:
        options = "; ".join(f"{h} heads: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}" for h, names in sorted(found.items()))
        known = f"timm's architectures of this shape disagree ({options})"
    else:
        known = "no timm architecture registered in vit_bert's table has this shape"
    raise AmbiguousWeightsError(
        f"the state dict does not store the attention head count ({shape}) and {known}; "
        f"pass heads= (a divisor of {dim}: {head_counts(dim)}), or load the timm model object or its timm name instead"
    )


def is_timm_vit(state_dict: dict) -> bool:
    return "patch_embed.proj.weight" in state_dict and any(k.startswith("blocks.") for k in state_dict)


def timm_vit_config(state_dict: dict[str, torch.Tensor], heads: int | None = None) -> dict:
    """ModelConfig fields read off the tensors; the head count from ``heads`` or ``infer_heads``."""
    dim, in_chans, patch_size, _ = state_dict["patch_embed.proj.weight"].shape
    depth = 1 + max(int(m.group(1)) for k in state_dict if (m := re.match(r"blocks\.(\d+)\.", k)))
    class_token = "cls_token" in state_dict
    num_patches = state_dict["pos_embed"].shape[1] - int(class_token)
    grid = math.isqrt(num_patches)
    if grid * grid != num_patches:
        raise WeightsError(f"timm pos_embed holds {num_patches} patch positions, not a square grid; expected e.g. 196 (14 x 14)")
    head = state_dict.get("head.weight")
    return dict(
        modality="image",
        dim=dim,
        depth=depth,
        heads=heads or infer_heads(state_dict),
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
