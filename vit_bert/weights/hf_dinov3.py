"""Hugging Face DINOv3 ViT folders (``DINOv3ViTModel``) -> ``Pretrained``, through timm's key layout.

HF keys (optionally under ``model.``): ``embeddings.{cls_token (1, 1, D), register_tokens (1, R, D), patch_embeddings}``,
``layer.i.{norm1, attention.{q,k,v}_proj, attention.o_proj, layer_scale1.lambda1, norm2, mlp.{up_proj, down_proj} (or
gate_proj + up_proj: a gated MLP), layer_scale2.lambda1}``, ``norm``. No position table: 2-D rotary positions over the
patch centres in [-1, 1] (base ``rope_theta``, channels in halves: vit_bert's ``rope_grid='centered'``), [CLS] and
registers unturned. config.json's ``pos_embed_shift / jitter / rescale`` (moves of those coordinates in training) become
``rope_shift / rope_jitter / rope_rescale``. A key projection without bias (``key_bias`` false) is a zero bias with
``k_bias=False``. The masked-modelling ``mask_token`` computes nothing at inference and is left out.
"""

from __future__ import annotations

import torch

from ..errors import WeightsError
from ..formats.hf_image_keys import DINOV3_LAYOUT, rename_to_timm
from .hf_image import hf_image_facts, read_hf_image
from .pretrained import Pretrained, Source

MODEL_TYPES = ("dinov3_vit",)
AUGMENTS = {"pos_embed_shift": "rope_shift", "pos_embed_jitter": "rope_jitter", "pos_embed_rescale": "rope_rescale"}


def read_dinov3(source: Source) -> Pretrained:
    hf = source.config
    timm_keys = rename_to_timm(source.state_dict, DINOV3_LAYOUT)
    for key in [k for k in timm_keys if ".mlp.fc1_gate." in k]:  # gate rows first, as vit_bert's gated MLP reads them
        timm_keys[key.replace("fc1_gate", "fc1")] = torch.cat([timm_keys.pop(key), timm_keys[key.replace("fc1_gate", "fc1")]])
    if "reg_token" in timm_keys and timm_keys["reg_token"].shape[1] == 0:
        del timm_keys["reg_token"]
    if hf.get("apply_layernorm", True) is False:
        raise WeightsError("config.json sets apply_layernorm false (no final norm over the output); vit_bert's DINOv3 ends with its norm")
    size, theta = hf.get("image_size", 224), hf.get("rope_theta", 100.0)
    if not isinstance(size, int) or not isinstance(theta, (int, float)):
        raise WeightsError(f"config.json needs an integer image_size and a numeric rope_theta; got {size!r}, {theta!r}")
    rotary = {"rope_theta": float(theta), "rope_grid": "centered", "rope_ref_grid": None, "rope_layout": "half",
              "pos_embed": "none", "img_size": size}
    rotary.update({field: float(hf[key]) for key, field in AUGMENTS.items() if hf.get(key) is not None})
    if "blocks.0.attn.qkv.bias" in timm_keys and not hf.get("key_bias", True):
        rotary["k_bias"] = False
    facts = {**hf_image_facts(hf, eps=1e-5), "eva": rotary}
    return read_hf_image(source, timm_keys, facts, antialias=False)
