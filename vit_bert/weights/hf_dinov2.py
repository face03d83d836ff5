"""Hugging Face DINOv2 folders (``Dinov2Model``, ``Dinov2WithRegistersModel``) -> ``Pretrained``, through timm's key layout.

HF keys: ``embeddings.{cls_token (1, 1, D), register_tokens (1, R, D), position_embeddings (1, 1+N, D),
patch_embeddings.projection}``, ``encoder.layer.i.{norm1, attention.attention.{query, key, value}, attention.output.dense,
layer_scale1.lambda1, norm2, mlp.{fc1, fc2} or mlp.{weights_in, weights_out} (SwiGLU), layer_scale2.lambda1}``, ``layernorm``.
The position table covers [CLS] and the patches; registers sit after [CLS] without one. With registers, [CLS]'s position
is folded into its token and the table keeps the patches' (timm's ``no_embed_class`` layout): the same sums, and a table
resampled as transformers resamples it (the patch grid alone). The masked-modelling ``mask_token`` (iBOT) computes
nothing at inference and is left out, as timm leaves it. transformers resamples the table with plain bicubic for DINOv2
and with antialiasing for DINOv2 with registers. ``Dinov2ForImageClassification`` classifies [CLS] beside the mean
patch token, which vit_bert's heads do not: its encoder loads with a new head (``num_classes=N``) or none.
"""

from __future__ import annotations

from ..errors import WeightsError
from ..formats.hf_image_keys import DINOV2_LAYOUT, rename_to_timm
from .hf_image import hf_image_facts, read_hf_image
from .pretrained import Pretrained, Source

MODEL_TYPES = ("dinov2", "dinov2_with_registers")


def read_dinov2(source: Source) -> Pretrained:
    timm_keys = rename_to_timm(source.state_dict, DINOV2_LAYOUT)
    if "head.weight" in timm_keys:
        if source.head == "keep":
            raise WeightsError("a Dinov2ForImageClassification classifies [CLS] beside the mean patch token; vit_bert's classifier reads "
                               "one pooled vector: load its encoder with num_classes=N for a new head, or num_classes=0 for features")
        timm_keys = {k: v for k, v in timm_keys.items() if not k.startswith("head.")}
    if source.config.get("apply_layernorm", True) is False:
        raise WeightsError("config.json sets apply_layernorm false (no final norm over the output); vit_bert's DINOv2 ends with its layernorm")
    facts = hf_image_facts(source.config, eps=1e-6)
    if source.config.get("use_swiglu_ffn"):
        facts["act"] = "silu"  # transformers' SwiGLU gates with SiLU whatever hidden_act says
    if "reg_token" in timm_keys and timm_keys["reg_token"].shape[1] == 0:
        del timm_keys["reg_token"]
    registers = "reg_token" in timm_keys
    if registers:  # [CLS]'s position into [CLS]: the table then holds the patches alone (see the module docstring)
        table = timm_keys["pos_embed"]
        timm_keys["cls_token"] = timm_keys["cls_token"] + table[:, :1]
        timm_keys["pos_embed"] = table[:, 1:]
    return read_hf_image(source, timm_keys, facts, antialias=source.model_type == "dinov2_with_registers",
                         no_embed_class=registers or None)
