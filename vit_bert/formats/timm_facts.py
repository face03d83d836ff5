"""What a timm ViT's weights say of its architecture, and the facts they do not say, for every registered timm ViT and Eva.

    weights_signature(state_dict)   timm keys -> one string: width, MLP widths, depth, prefix tokens, every optional part
    rotary_signature(state_dict)    an Eva's key in the table (its tensors in ViT keys): + the q/k/v bias and the patch grid
    facts_table()                   signature -> [{heads, act, ln_eps, norm, pool, eva, names}], from ``timm_vit_heads.json``
                                    (made by ``scripts/timm_vit_heads.py``)
The weights reader asks the table what a bare state dict does not store; the timm writer asks it which registered
architecture computes a model.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path

HEADS_TABLE = Path(__file__).with_name("timm_vit_heads.json")
FACTS = ("heads", "act", "ln_eps", "norm", "pool")  # what a state dict does not store (and an Eva's fields, "eva": eva_fields)
TIMM_POOLS = {"token": "cls", "avg": "mean", "max": "max", "map": "map"}


@cache
def facts_table() -> dict:
    return json.loads(HEADS_TABLE.read_text(encoding="utf-8"))["signatures"]


def _prefix(state_dict: dict) -> str:
    parts = [name for name in ("cls", "dist") if f"{name}_token" in state_dict]
    if "reg_token" in state_dict:
        parts.append(f"reg{state_dict['reg_token'].shape[1]}")
    return "+".join(parts) or "none"


def weights_signature(state_dict: dict) -> str:
    """What the keys and shapes say about the architecture, as one string: width, MLP widths, depth, prefix tokens
    and every optional part. Two timm ViTs with the same signature differ at most in the ``FACTS``."""
    fc1, fc2 = state_dict["blocks.0.mlp.fc1.weight"], state_dict["blocks.0.mlp.fc2.weight"]
    parts = [
        str(state_dict["patch_embed.proj.weight"].shape[0]), f"{fc1.shape[0]}-{fc2.shape[1]}", f"d{depth(state_dict)}", _prefix(state_dict),
        *(flag for flag, key in (("pos", "pos_embed"), ("norm_pre", "norm_pre.weight"), ("ls", "blocks.0.ls1.gamma"),
                                 ("qkn", "blocks.0.attn.q_norm.weight"), ("fc_norm", "fc_norm.weight"), ("map", "attn_pool.latent"),
                                 ("final_norm", "norm.weight"), ("norm_bias", "blocks.0.norm1.bias"))
          if key in state_dict),
    ]
    return "/".join(parts)


def rotary_signature(state_dict: dict) -> str:
    """An Eva's key in the facts table, its tensors in ViT keys: the signature, whether Q, K, V have a bias (an Eva's has
    no key part: ``k_bias``) and the patch grid (or 'none' without a position table; an EVA-02's rotary reference grid is its
    pretraining grid)."""
    grid = "none"
    if "pos_embed" in state_dict:
        prefix = sum(f"{name}_token" in state_dict for name in ("cls", "dist")) + (state_dict["reg_token"].shape[1] if "reg_token" in state_dict else 0)
        grid = str(math.isqrt(state_dict["pos_embed"].shape[1] - prefix))
    bias = "/qkv_bias" if "blocks.0.attn.qkv.bias" in state_dict else ""
    return f"{weights_signature(state_dict)}{bias}/rope/grid{grid}"


def depth(state_dict: dict) -> int:
    return 1 + max(int(m.group(1)) for k in state_dict if (m := re.match(r"blocks\.(\d+)\.", k)))
