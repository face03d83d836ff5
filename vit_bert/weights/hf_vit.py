"""Hugging Face ViT and DeiT folders (``ViTModel``, ``ViTForImageClassification``, ``DeiTModel``,
``DeiTForImageClassificationWithTeacher``) -> ``Pretrained``, through timm's key layout (``hf_image``).

HF keys (under ``vit.`` / ``deit.`` in the classifiers): ``embeddings.cls_token`` (1, 1, D), DeiT's
``embeddings.distillation_token`` (1, 1, D), ``embeddings.position_embeddings`` (1, prefix+N, D),
``embeddings.patch_embeddings.projection.{weight (D, C, P, P), bias}``, ``encoder.layer.i.{layernorm_before,
attention.attention.{query, key, value}, attention.output.dense, layernorm_after, intermediate.dense, output.dense}``,
``layernorm``, ``pooler.dense`` (tanh over [CLS]), ``classifier`` (ViT), ``cls_classifier`` + ``distillation_classifier`` (DeiT
with teacher: their mean at inference, as timm's distilled head).
A ``ViTModel(use_mask_token=True)``'s mask token (masked-image modelling) stops, named. The facts the tensors do not
store (head count, activation, LayerNorm eps) come from config.json.
"""

from __future__ import annotations

import logging

from ..errors import WeightsError
from ..formats.hf_image_keys import VIT_LAYOUT, rename_to_timm
from .hf_image import hf_image_facts, read_hf_image
from .pretrained import Pretrained, Source

MODEL_TYPES = ("vit", "deit")
log = logging.getLogger(__name__)


def read_hf_vit(source: Source) -> Pretrained:
    timm_keys = rename_to_timm(source.state_dict, VIT_LAYOUT)
    pooler = {"head.pooler.0." + k.removeprefix("pooler."): timm_keys.pop(k) for k in [k for k in timm_keys if k.startswith("pooler.")]}
    if "dist_token" in timm_keys and "head.weight" in timm_keys and "head_dist.weight" not in timm_keys:
        if source.head == "keep":
            raise WeightsError("a DeiTForImageClassification classifies from [CLS] alone beside its distillation token; vit_bert's "
                               "distilled head averages both classifiers (DeiTForImageClassificationWithTeacher): load its encoder "
                               "with num_classes=N to train a new head")
        timm_keys = {k: v for k, v in timm_keys.items() if not k.startswith("head.")}
    fields = {}
    if pooler and "dist_token" in timm_keys:
        log.warning("not kept: DeiTModel's pooler (tanh over [CLS]); vit_bert's distilled head reads [CLS] and the distillation "
                    "token. The encoder output is transformers' last_hidden_state")
        pooler = {}
    if pooler:  # ViTModel's pooler_output: tanh(dense([CLS]))
        dim = source.config.get("hidden_size")
        if source.config.get("pooler_act", "tanh") != "tanh" or source.config.get("pooler_output_size", dim) != dim:
            raise WeightsError("config.json's pooler (pooler_act, pooler_output_size) is not vit_bert's tanh pooler of the model's width")
        fields = {"head_pooler": True, "pooler_act": "tanh"}
    return read_hf_image(source, timm_keys, hf_image_facts(source.config), antialias=False, extra=pooler, fields=fields)


