"""The key names of transformers' image families (ViT, DeiT, DINOv2, CLIP and SigLIP vision, DINOv3) in timm
VisionTransformer's terms, as data, read and written both ways.

    KeyLayout                                 a family's names for timm's tensors (top level, layers, Q/K/V)
    rename_to_timm(state_dict, layout)        the family's tensors -> timm's keys; Q, K, V projections fused into timm's
                                              one ``qkv`` (rows q; k; v; a missing k bias is zero); a key of no part stops
    rename_from_timm(timm_keys, layout, prefix, choose)   the inverse, under a task model's prefix
    VIT_LAYOUT, DINOV2_LAYOUT, CLIP_LAYOUT (CLIP and SigLIP), DINOV3_LAYOUT
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from ..errors import WeightsError


@dataclass(frozen=True)
class KeyLayout:
    """How a transformers image family names timm VisionTransformer's tensors."""

    family: str
    """In messages: "Hugging Face ViT"."""
    layer: str
    """A layer's key prefix as a regex, its index the one group: ``r"encoder\\.layer\\.(\\d+)\\."``."""
    qkv: dict[str, str]
    """A layer's query, key and value projections -> "q", "k", "v"."""
    block: dict[str, str]
    """A layer's other parts -> timm's block names (``"layernorm_before": "norm1"``)."""
    top: dict[str, str]
    """Everything else -> timm's keys; a name ending in "." renames a prefix (``"layernorm.": "norm."``)."""
    prefixes: tuple[str, ...] = ()
    """A task model's prefix (``vit.``), removed first."""
    dropped: tuple[str, ...] = field(default=())
    """Keys that compute nothing at inference (a masked-modelling token, stored position ids)."""
    heads: tuple[str, ...] = ()
    """The task heads' key prefixes, which a task model does not put under its prefix (``classifier.``)."""

    def layer_key(self, index: int) -> str:
        """The layer's key prefix (``encoder.layer.3.``), from ``layer``'s regex."""
        return self.layer.replace("\\.", ".").replace("(\\d+)", str(index))


def rename_to_timm(state_dict: dict[str, torch.Tensor], layout: KeyLayout) -> dict[str, torch.Tensor]:
    """The tensors in timm's keys; a key of no known part stops, named."""
    out, qkv = {}, {}
    for key, value in state_dict.items():
        for prefix in layout.prefixes:
            key = key.removeprefix(prefix)
        if key in layout.dropped:
            continue
        layer = re.match(layout.layer + r"(.+)$", key)
        if layer:
            index, rest = layer.groups()
            name, _, kind = rest.rpartition(".")
            if name in layout.qkv and kind in ("weight", "bias"):
                qkv.setdefault((index, kind), {})[layout.qkv[name]] = value
                continue
            old = next((part for part in layout.block if rest == part or rest.startswith(part + ".")), None)
            if old is not None:
                out[f"blocks.{index}.{layout.block[old]}{rest[len(old):]}"] = value
                continue
        else:
            old = next((name for name in layout.top if key == name or (name.endswith(".") and key.startswith(name))), None)
            if old is not None:
                out[layout.top[old] + key[len(old):]] = value
                continue
        raise WeightsError(f"the {layout.family} weights hold {key}, which vit_bert cannot represent")
    for (index, kind), parts in qkv.items():
        if kind == "bias" and "k" not in parts and {"q", "v"} <= set(parts):  # no key bias: a zero one computes the same
            parts["k"] = torch.zeros_like(parts["q"])
        if set(parts) != {"q", "k", "v"}:
            raise WeightsError(f"layer {index} of the {layout.family} weights has a {kind} for {', '.join(sorted(parts))} only; "
                               "vit_bert's attention projects queries, keys and values alike")
        out[f"blocks.{index}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def rename_from_timm(timm_keys: dict[str, torch.Tensor], layout: KeyLayout, prefix: str = "",
                     choose: dict[str, str] | None = None) -> dict[str, torch.Tensor]:
    """The inverse of ``rename_to_timm``: timm's keys -> the family's, under the task model's ``prefix`` (heads aside).
    ``choose``: for a timm name several of the family's map to, which one (``{"head.": "cls_classifier."}``)."""
    top, block = _inverse(layout.top, choose), _inverse(layout.block, choose)
    qkv = {part: name for name, part in layout.qkv.items()}
    out = {}
    for key, value in timm_keys.items():
        layer = re.match(r"blocks\.(\d+)\.(.+)$", key)
        if layer:
            index, rest = int(layer.group(1)), layer.group(2)
            base = layout.layer_key(index)
            if rest.startswith("attn.qkv."):
                kind = rest.rsplit(".", 1)[1]
                for part, piece in zip("qkv", value.chunk(3)):
                    out[f"{prefix}{base}{qkv[part]}.{kind}"] = piece
                continue
            old = max((part for part in block if rest == part or rest.startswith(part + ".")), key=len, default=None)
            if old is None:
                raise WeightsError(f"{key} has no place in {layout.family}'s layout")
            out[f"{prefix}{base}{block[old]}{rest[len(old):]}"] = value
            continue
        old = max((name for name in top if key == name or (name.endswith(".") and key.startswith(name))), key=len, default=None)
        if old is None:
            raise WeightsError(f"{key} has no place in {layout.family}'s layout")
        new = top[old] + key[len(old):]
        out[new if new.startswith(layout.heads) else prefix + new] = value
    return out


def _inverse(table: dict[str, str], choose: dict[str, str] | None) -> dict[str, str]:
    inverse = {}
    for theirs, timm_name in table.items():
        inverse.setdefault(timm_name, theirs)  # the first listed, unless chosen
    return {**inverse, **(choose or {})}


VIT_LAYOUT = KeyLayout(
    family="Hugging Face ViT",
    prefixes=("vit.", "deit."),
    layer=r"encoder\.layer\.(\d+)\.",
    qkv={"attention.attention.query": "q", "attention.attention.key": "k", "attention.attention.value": "v"},
    block={"layernorm_before": "norm1", "attention.output.dense": "attn.proj", "layernorm_after": "norm2", "intermediate.dense": "mlp.fc1",
           "output.dense": "mlp.fc2"},
    top={"embeddings.cls_token": "cls_token", "embeddings.distillation_token": "dist_token", "embeddings.position_embeddings": "pos_embed",
         "embeddings.patch_embeddings.projection.": "patch_embed.proj.", "layernorm.": "norm.", "classifier.": "head.",
         "cls_classifier.": "head.", "distillation_classifier.": "head_dist.", "pooler.dense.": "pooler."},
    heads=("classifier.", "cls_classifier.", "distillation_classifier."),
)


DINOV2_LAYOUT = KeyLayout(
    family="Hugging Face DINOv2",
    prefixes=("dinov2.", "dinov2_with_registers."),
    layer=r"encoder\.layer\.(\d+)\.",
    qkv={"attention.attention.query": "q", "attention.attention.key": "k", "attention.attention.value": "v"},
    block={"norm1": "norm1", "attention.output.dense": "attn.proj", "layer_scale1.lambda1": "ls1.gamma", "norm2": "norm2",
           "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2", "mlp.weights_in": "mlp.fc1", "mlp.weights_out": "mlp.fc2",
           "layer_scale2.lambda1": "ls2.gamma"},
    top={"embeddings.cls_token": "cls_token", "embeddings.register_tokens": "reg_token", "embeddings.position_embeddings": "pos_embed",
         "embeddings.patch_embeddings.projection.": "patch_embed.proj.", "layernorm.": "norm.", "classifier.": "head."},
    dropped=("embeddings.mask_token",),
)


CLIP_LAYOUT = KeyLayout(
    family="Hugging Face CLIP/SigLIP vision",
    prefixes=("vision_model.",),
    layer=r"encoder\.layers\.(\d+)\.",
    qkv={"self_attn.q_proj": "q", "self_attn.k_proj": "k", "self_attn.v_proj": "v"},
    block={"layer_norm1": "norm1", "self_attn.out_proj": "attn.proj", "layer_norm2": "norm2", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"},
    top={"embeddings.class_embedding": "cls_token", "embeddings.position_embedding.weight": "pos_embed",
         "embeddings.patch_embedding.": "patch_embed.proj.", "pre_layrnorm.": "norm_pre.", "post_layernorm.": "norm.",
         "head.probe": "attn_pool.latent", "head.attention.in_proj_weight": "attn_pool.in_proj.weight",
         "head.attention.in_proj_bias": "attn_pool.in_proj.bias", "head.attention.out_proj.": "attn_pool.proj.",
         "head.layernorm.": "attn_pool.norm.", "head.mlp.": "attn_pool.mlp."},
    dropped=("embeddings.position_ids",),
)


DINOV3_LAYOUT = KeyLayout(
    family="Hugging Face DINOv3",
    prefixes=("model.",),
    layer=r"layer\.(\d+)\.",
    qkv={"attention.q_proj": "q", "attention.k_proj": "k", "attention.v_proj": "v"},
    block={"norm1": "norm1", "attention.o_proj": "attn.proj", "layer_scale1.lambda1": "ls1.gamma", "norm2": "norm2",
           "mlp.gate_proj": "mlp.fc1_gate", "mlp.up_proj": "mlp.fc1", "mlp.down_proj": "mlp.fc2", "layer_scale2.lambda1": "ls2.gamma"},
    top={"embeddings.cls_token": "cls_token", "embeddings.register_tokens": "reg_token", "embeddings.patch_embeddings.": "patch_embed.proj.",
         "norm.": "norm."},
    dropped=("embeddings.mask_token",),
)
