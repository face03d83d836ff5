"""timm's ``Eva`` models (EVA-02, DINOv3: ``timm/models/eva.py``) -> the timm ViT layout ``timm_vit`` reads, + their rotary settings.

An Eva is a pre-norm ViT whose queries and keys are turned by 2-D axial rotary positions, [CLS] and registers unturned:
    EVA-02   RotaryEmbeddingCat: patch indices rescaled to the pretraining grid (``ref_feat_shape``), base 10000, channels
             interleaved; SwiGLU (packed ``mlp.fc1``, or ``fc1_g`` / ``fc1_x`` with a norm inside: ``scale_mlp``);
             q and v biases but no k bias; fused ``qkv`` or separate ``q_proj`` / ``k_proj`` / ``v_proj``; learned positions too
    DINOv3   RotaryEmbeddingDinoV3: patch centres in [-1, 1], base (period) 100, channels in halves; no learned positions,
             4 registers, LayerScale (``gamma_1`` / ``gamma_2``)
``formats.timm_keys.eva_state_dict`` renames and fuses these tensors into timm VisionTransformer's keys (``ls1.gamma``, ``attn.qkv``,
``mlp.fc1``, ...); ``eva_fields`` gives the ModelConfig fields no tensor stores. The model object says them; a bare
state dict loads when timm registers an architecture of exactly its weights (``timm_vit``'s facts table), else it stops,
asking for the object.
"""

from __future__ import annotations

from torch import nn

from ..errors import WeightsError


def is_timm_eva(model: nn.Module) -> bool:
    return type(model).__name__ == "Eva"


def check_eva_blocks(model: nn.Module) -> None:
    block = model.blocks[0]
    if type(block).__name__ != "EvaBlock" or type(block.attn).__name__ != "EvaAttention":
        raise WeightsError(f"this Eva's block is timm's {type(block).__name__} with {type(block.attn).__name__}; vit_bert computes "
                           "EvaBlock (pre-norm) with EvaAttention")
    attn = block.attn
    if not isinstance(attn.norm, nn.Identity) or attn.gate is not None:
        raise WeightsError("this Eva normalises or gates the attention output (scale_attn_inner / gated_attn); vit_bert's attention does neither")


def _rope_fields(model: nn.Module) -> dict:
    """The rotary settings of an Eva's ``rope`` module as ModelConfig fields."""
    rope, attn = model.rope, model.blocks[0].attn
    kind = type(rope).__name__
    if getattr(rope, "grid_offset", 0.0) or getattr(rope, "grid_indexing", "ij") != "ij":
        raise WeightsError("this Eva's rotary grid is offset or in 'xy' order; vit_bert's rows-then-columns grid has no offset")
    if kind == "RotaryEmbeddingCat" and not rope.in_pixels and rope.grid_type == "index":
        ref = rope.ref_feat_shape
        if ref is not None and ref[0] != ref[1]:
            raise WeightsError(f"this Eva's rotary reference grid {tuple(ref)} is not square; vit_bert's rope_ref_grid is one side")
        fields = dict(rope_grid="index", rope_ref_grid=int(ref[0]) if ref is not None else None)
    elif kind == "RotaryEmbeddingDinoV3" and rope.min_period is None and rope.normalize_coords == "separate":
        fields = dict(rope_grid="centered", rope_ref_grid=None)
    else:
        raise WeightsError(f"this Eva's rotary embedding is timm's {kind} with settings vit_bert does not compute; vit_bert reads "
                           "EVA-02's RotaryEmbeddingCat (index grid) and DINOv3's RotaryEmbeddingDinoV3 (centred grid, temperature)")
    augments = {field: value for field, value in  # training only; set by a user, never by a registered architecture
                (("rope_shift", rope.shift_coords), ("rope_jitter", rope.jitter_coords), ("rope_rescale", rope.rescale_coords))
                if value is not None}
    return dict(fields, **augments, rope_theta=float(rope.temperature), rope_layout="half" if attn.rotate_half else "interleaved")


def eva_fields(model: nn.Module) -> dict:
    """The ModelConfig fields of an Eva that its tensors do not store (rotary settings, no key bias, image size without a
    position table)."""
    if model.rope is None:
        raise WeightsError("this Eva has no rotary positions; load it as a timm VisionTransformer instead")
    fields = _rope_fields(model)
    attn = model.blocks[0].attn
    if getattr(attn, "q_bias", None) is not None or getattr(getattr(attn, "q_proj", None), "bias", None) is not None:
        fields["k_bias"] = False  # timm's Eva biases queries and values only
    if model.pos_embed is None:
        fields.update(pos_embed="none", img_size=int(model.patch_embed.img_size[0]) if model.patch_embed.img_size else 224)
    return fields


