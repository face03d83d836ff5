"""Hugging Face ViT and DeiT folders (``ViTModel``, ``ViTForImageClassification``, ``DeiTModel``,
``DeiTForImageClassificationWithTeacher``) -> timm's key layout, which the timm converter reads; their
``preprocessor_config.json`` -> the data contract's evaluation protocol.

HF keys (under ``vit.`` / ``deit.`` in the classifiers): ``embeddings.cls_token`` (1, 1, D), DeiT's
``embeddings.distillation_token`` (1, 1, D), ``embeddings.position_embeddings`` (1, prefix+N, D),
``embeddings.patch_embeddings.projection.{weight (D, C, P, P), bias}``, ``encoder.layer.i.{layernorm_before,
attention.attention.{query, key, value}, attention.output.dense, layernorm_after, intermediate.dense, output.dense}``,
``layernorm``, ``pooler.dense`` (tanh over [CLS]), ``classifier`` (ViT), ``cls_classifier`` + ``distillation_classifier`` (DeiT
with teacher: their mean at inference, as timm's distilled head).
Three separate Q, K, V projections become timm's one ``qkv`` (rows stacked q; k; v). The facts the tensors do not
store (head count, activation, LayerNorm eps) come from config.json.
"""

from __future__ import annotations

import re

import torch

from ..config import DataContract
from ..errors import WeightsError
from .hf_bert import HF_ACTIVATIONS

_LAYER = {"layernorm_before": "norm1", "attention.output.dense": "attn.proj", "layernorm_after": "norm2",
          "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2"}
_TOP = {"embeddings.cls_token": "cls_token", "embeddings.distillation_token": "dist_token", "embeddings.position_embeddings": "pos_embed",
        "embeddings.patch_embeddings.projection.": "patch_embed.proj.", "layernorm.": "norm.", "classifier.": "head.",
        "cls_classifier.": "head.", "distillation_classifier.": "head_dist."}
MODEL_TYPES = ("vit", "deit")
POOLER = "pooler.dense."  # kept aside: vit_bert's head.pooler
RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}  # PIL's codes


def is_hf_vit(hf_config: dict | None) -> bool:
    return (hf_config or {}).get("model_type") in MODEL_TYPES


def hf_vit_facts(hf_config: dict) -> dict:
    """timm_vit_config's facts from config.json."""
    act = hf_config.get("hidden_act", "gelu")
    if not isinstance(act, str) or act not in HF_ACTIVATIONS:
        raise WeightsError(f"config.json's hidden_act={act!r} is not one vit_bert computes ({', '.join(HF_ACTIVATIONS)})")
    heads, eps = hf_config.get("num_attention_heads"), hf_config.get("layer_norm_eps", 1e-12)
    if not isinstance(heads, int) or heads <= 0 or not isinstance(eps, (int, float)):
        raise WeightsError(f"config.json needs num_attention_heads (a positive integer) and a numeric layer_norm_eps; got {heads!r}, {eps!r}")
    return {"heads": heads, "act": HF_ACTIVATIONS[act], "ln_eps": float(eps), "norm": "layernorm", "pool": "cls", "eva": None}


def hf_vit_to_timm(state_dict: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """-> (the weights in timm's keys, the pooler's in vit_bert's ``head.pooler.0``). A key of no known part stops, named."""
    timm, pooler, qkv = {}, {}, {}
    for key, value in state_dict.items():
        key = key.removeprefix("vit.").removeprefix("deit.")
        if key.startswith(POOLER):
            pooler["head.pooler.0." + key[len(POOLER):]] = value
            continue
        layer = re.match(r"encoder\.layer\.(\d+)\.(.+)$", key)
        if layer:
            index, rest = layer.groups()
            part = re.match(r"attention\.attention\.(query|key|value)\.(weight|bias)$", rest)
            if part:
                qkv.setdefault((index, part.group(2)), {})[part.group(1)] = value
                continue
            old = next((name for name in _LAYER if rest.startswith(name + ".")), None)
            if old is None:
                raise WeightsError(f"the Hugging Face ViT weights hold {key}, which vit_bert cannot represent")
            timm[f"blocks.{index}.{_LAYER[old]}{rest[len(old):]}"] = value
            continue
        old = next((name for name in _TOP if key == name or (name.endswith(".") and key.startswith(name))), None)
        if old is None:
            raise WeightsError(f"the Hugging Face ViT weights hold {key}, which vit_bert cannot represent")
        timm[_TOP[old] + key[len(old):]] = value
    for (index, kind), parts in qkv.items():
        timm[f"blocks.{index}.attn.qkv.{kind}"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    if "dist_token" in timm and "head.weight" in timm and "head_dist.weight" not in timm:
        raise WeightsError("a DeiTForImageClassification classifies from [CLS] alone beside its distillation token; vit_bert's "
                           "distilled head averages both classifiers (DeiTForImageClassificationWithTeacher): load its encoder "
                           "with num_classes=N to train a new head")
    return timm, pooler


def preprocessor_protocol(processor: dict, img_size: int) -> dict:
    """A ``preprocessor_config.json`` -> DataContract fields (img_size, mean, std, crop_pct, crop_mode, interpolation): how
    transformers' image processor reads an image, in timm's terms. What has no such terms stops, named."""
    where = "preprocessor_config.json"
    if not processor.get("do_resize", True):
        raise WeightsError(f"{where} does not resize (do_resize false); vit_bert resizes every image to the model's input size")
    factor = processor.get("rescale_factor", 1 / 255) if processor.get("do_rescale", True) else 1.0
    if abs(factor * 255 - 1) > 1e-6:
        raise WeightsError(f"{where} rescales pixels by {factor}; vit_bert reads them in [0, 1] (rescale_factor 1/255)")
    size, crop = processor.get("size") or {}, processor.get("crop_size") or {}
    cropped = bool(processor.get("do_center_crop")) and bool(crop)
    if cropped and crop.get("height") != crop.get("width"):
        raise WeightsError(f"{where} center-crops to {crop}; vit_bert reads square inputs")
    if "height" in size and "width" in size:
        if size["height"] != size["width"]:
            raise WeightsError(f"{where} resizes to {size['height']} x {size['width']}; vit_bert reads square inputs")
        side = crop["height"] if cropped else size["height"]  # the whole image squashed to the square, then cropped
        protocol = {"crop_pct": side / size["height"], "crop_mode": "squash"} if cropped else {"crop_pct": None}
    elif "shortest_edge" in size and cropped:
        side = crop["height"]
        protocol = {"crop_pct": side / size["shortest_edge"], "crop_mode": "center"}
    else:
        raise WeightsError(f"{where} resizes with size={size} and crop_size={crop}; vit_bert reads a square resize, or the short "
                           "side resized and a square center crop")
    if side != img_size:
        raise WeightsError(f"{where} makes {side} px inputs, but the model's position table is for {img_size} px")
    resample = processor.get("resample", 2)
    if resample not in RESAMPLE:
        raise WeightsError(f"{where} resamples with PIL filter {resample}; vit_bert reads {', '.join(map(str, RESAMPLE))}")
    normalise = processor.get("do_normalize", True)
    mean = processor.get("image_mean") if normalise else [0.0, 0.0, 0.0]
    std = processor.get("image_std") if normalise else [1.0, 1.0, 1.0]
    if mean is None or std is None:
        raise WeightsError(f"{where} normalises but names no image_mean and image_std")
    return {"img_size": side, "mean": [float(m) for m in mean], "std": [float(s) for s in std], **protocol,
            "interpolation": RESAMPLE[resample]}


def hf_vit_contract(processor: dict, class_names: list[str], in_chans: int, img_size: int) -> DataContract:
    return DataContract("image", class_names, in_chans=in_chans, **preprocessor_protocol(processor, img_size))
