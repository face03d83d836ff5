"""timm's key layouts, both ways: vit_bert's keys <-> timm VisionTransformer's <-> timm Eva's.

    timm_vit_to_vit_bert(state_dict)   timm ViT keys -> vit_bert's (patch_embed.proj.weight (D, C, P, P) -> (D, P*P*C))
    vit_bert_to_timm_vit(state_dict, patch_size)   the inverse
    eva_state_dict(state_dict)         an Eva's tensors in ViT keys (fused q/k/v, ``gamma_i`` -> ``lsi.gamma``, SwiGLU halves)
    has_eva_keys(state_dict)           tensors only an Eva has
    invert_by_probe(shapes, forward)   the inverse of a key map made of renames and concatenations (like ``eva_state_dict``),
                                       found by sending distinct values through it: target key -> (source key, row slice)
"""

from __future__ import annotations

import re

import torch
from einops import rearrange


def has_eva_keys(state_dict: dict) -> bool:
    """Tensors only an Eva has (LayerScale ``gamma_i``, q and v biases, separate projections, SwiGLU's halves)."""
    return any(k.endswith(("gamma_1", "attn.q_bias", "attn.q_proj.weight", "mlp.fc1_g.weight")) for k in state_dict)


def eva_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An Eva's tensors in timm VisionTransformer's keys: LayerScale ``gamma_i`` -> ``lsi.gamma``; q/k/v (fused weight with
    q and v biases, or three projections) -> ``attn.qkv`` with a zero k bias; SwiGLU's ``fc1_g`` and ``fc1_x`` -> one ``mlp.fc1``
    (gate rows first, as vit_bert's gated MLP reads them)."""
    out = {}
    for key, value in state_dict.items():
        block = re.match(r"(blocks\.\d+\.)(.+)$", key)
        if block is None:
            out[key] = value
            continue
        prefix, name = block.groups()
        if name in ("gamma_1", "gamma_2"):
            out[f"{prefix}ls{name[-1]}.gamma"] = value
        elif name in ("attn.q_bias", "attn.v_bias", "attn.k_proj.weight", "attn.v_proj.weight", "attn.q_proj.bias", "attn.v_proj.bias",
                      "mlp.fc1_x.weight", "mlp.fc1_x.bias"):
            continue  # fused below, with its partner
        elif name == "attn.q_proj.weight":
            out[f"{prefix}attn.qkv.weight"] = torch.cat([state_dict[f"{prefix}attn.{p}_proj.weight"] for p in "qkv"])
            _qkv_bias(out, state_dict, prefix, f"{prefix}attn.q_proj.bias", f"{prefix}attn.v_proj.bias")
        elif name == "attn.qkv.weight":
            out[key] = value
            _qkv_bias(out, state_dict, prefix, f"{prefix}attn.q_bias", f"{prefix}attn.v_bias")
        elif name in ("mlp.fc1_g.weight", "mlp.fc1_g.bias"):
            kind = name.rsplit(".", 1)[1]
            out[f"{prefix}mlp.fc1.{kind}"] = torch.cat([value, state_dict[f"{prefix}mlp.fc1_x.{kind}"]])
        else:
            out[key] = value
    return out


def _qkv_bias(out: dict, state_dict: dict, prefix: str, q_key: str, v_key: str) -> None:
    if q_key in state_dict:  # no k bias: a zero one computes the same
        q, v = state_dict[q_key], state_dict[v_key]
        out[f"{prefix}attn.qkv.bias"] = torch.cat([q, torch.zeros_like(q), v])


_RENAMES = {"cls_token": "frontend.cls_token", "dist_token": "frontend.dist_token", "reg_token": "frontend.reg_token",
            "pos_embed": "frontend.pos_embed", "patch_embed.": "frontend.patch_embed.", "norm_pre.": "frontend.norm_pre.",
            "blocks.": "encoder.blocks.", "norm.": "encoder.norm.", "fc_norm.": "head.fc_norm.", "attn_pool.": "head.attn_pool.",
            "head_dist.": "head.fc_dist.", "head.": "head.fc."}


def timm_vit_to_vit_bert(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename timm keys to vit_bert's; unknown keys pass through unchanged (the loader reports them)."""
    out = {}
    for key, value in state_dict.items():
        if key == "patch_embed.proj.weight":
            value = rearrange(value, "d c p1 p2 -> d (p1 p2 c)")
        old = next((prefix for prefix in _RENAMES if key == prefix or (prefix.endswith(".") and key.startswith(prefix))), None)
        out[_RENAMES[old] + key[len(old):] if old else key] = value
    return out


def vit_bert_to_timm_vit(state_dict: dict[str, torch.Tensor], patch_size: int) -> dict[str, torch.Tensor]:
    """vit_bert keys -> timm VisionTransformer's; a key of no timm part passes through (the timm model's strict load names it)."""
    inverse = {new: old for old, new in _RENAMES.items()}
    out = {}
    for key, value in state_dict.items():
        new = next((prefix for prefix in inverse if key == prefix or (prefix.endswith(".") and key.startswith(prefix))), None)
        if key == "frontend.patch_embed.proj.weight":
            value = rearrange(value, "d (p1 p2 c) -> d c p1 p2", p1=patch_size, p2=patch_size)
        out[inverse[new] + key[len(new):] if new else key] = value
    return out


def invert_by_probe(shapes: dict[str, torch.Size], forward) -> dict[str, tuple[str, int, int]]:
    """For a map ``forward`` of state dicts that only renames and concatenates along the first dimension: each key of
    ``shapes`` (the map's input keys) -> (the output key holding it, first row, end row). Each input gets distinct
    values, which are then found in the output; an input the map drops (a zero-sized one) is left out."""
    generator = torch.Generator().manual_seed(0)
    probe = {key: torch.rand(shape, generator=generator, dtype=torch.float64) + i for i, (key, shape) in enumerate(shapes.items())}
    mapped = forward(probe)
    found = {}
    for key, value in probe.items():
        if value.numel() == 0:
            continue
        for out_key, out in mapped.items():
            if out.shape[1:] != value.shape[1:] or out.dtype != value.dtype:
                continue
            rows = value.shape[0] if value.ndim else 1
            flat = out.reshape(-1, *value.shape[1:]) if value.ndim else out.reshape(-1)
            for start in range(0, flat.shape[0] - rows + 1):
                if torch.equal(flat[start:start + rows].reshape(value.shape), value):
                    found[key] = (out_key, start, start + rows)
                    break
            if key in found:
                break
    return found
