"""What every Hugging Face image folder shares (ViT, DeiT, DINOv2, CLIP, SigLIP, DINOv3): each family's file renames its
tensors to timm's VisionTransformer layout; this module reads that layout into a ``Pretrained`` with the folder's head and
data contract.

    KeyLayout, rename_to_timm(state_dict, layout)   a family's tensors in timm's keys: its key names as data; Q, K, V
                                        projections fused into timm's one ``qkv`` (rows q; k; v; a missing k bias is zero)
    hf_image_facts(config, act, eps)    config.json's head count, activation and LayerNorm eps (validated), as
                                        ``timm_vit_config``'s facts; ``act`` and ``eps``: the family's defaults
    read_hf_image(source, timm_keys, facts, antialias=...)   -> Pretrained: ``timm_keys`` (timm's keys and shapes:
                                        ``patch_embed.proj.weight`` (D, C, P, P), ``blocks.i....``) read by the timm
                                        converter; a classifier is kept single-label with config.json's id2label;
                                        ``preprocessor_config.json`` -> the data contract (``preprocessor_protocol``)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch

from ..config import DataContract
from ..errors import WeightsError, WeightsMismatchError
from ..json_file import read_json_object
from .head_labels import check_single_label, hf_class_names
from ..formats.hf_processor import PROCESSOR_FILE, preprocessor_protocol
from .hf_bert import HF_ACTIVATIONS
from .pretrained import Pretrained, Source
from .timm_vit import is_timm_vit, timm_vit_config, timm_vit_to_vit_bert



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


def hf_image_facts(hf_config: dict, act: str = "gelu", eps: float = 1e-12) -> dict:
    """timm_vit_config's facts from config.json (``act``, ``eps``: the family's defaults where config.json names none)."""
    act = hf_config.get("hidden_act", act)
    if not isinstance(act, str) or act not in HF_ACTIVATIONS:
        raise WeightsError(f"config.json's hidden_act={act!r} is not one vit_bert computes ({', '.join(HF_ACTIVATIONS)})")
    heads, eps = hf_config.get("num_attention_heads"), hf_config.get("layer_norm_eps", eps)
    if not isinstance(heads, int) or heads <= 0 or not isinstance(eps, (int, float)):
        raise WeightsError(f"config.json needs num_attention_heads (a positive integer) and a numeric layer_norm_eps; got {heads!r}, {eps!r}")
    return {"heads": heads, "act": HF_ACTIVATIONS[act], "ln_eps": float(eps), "norm": "layernorm", "pool": "cls", "eva": None}


def read_hf_image(source: Source, timm_keys: dict[str, torch.Tensor], facts: dict, *, antialias: bool,
                  extra: dict[str, torch.Tensor] | None = None, fields: dict | None = None, no_embed_class: bool | None = None) -> Pretrained:
    """``extra``: tensors already in vit_bert's keys (a pooler); ``fields``: ModelConfig fields on top of the tensors'.
    ``antialias``: whether the family resamples its position table with antialiasing (``Pretrained.pos_embed_antialias``);
    ``no_embed_class``: whether the position table leaves out the prefix tokens (None: its length tells)."""
    if not is_timm_vit(timm_keys):
        raise WeightsMismatchError(f"{source.where}: config.json names a {source.model_type!r} model, but its weights are not one's "
                                   f"(first keys: {', '.join(list(source.state_dict)[:4]) or 'none'})")
    config = {**timm_vit_config(timm_keys, facts, no_embed_class), **(fields or {})}
    if source.head == "keep":
        check_single_label(source.config, config["num_classes"])
    class_names = hf_class_names(source.config, config["num_classes"])
    pretrained = Pretrained(config, {**timm_vit_to_vit_bert(timm_keys), **(extra or {})}, class_names, pos_embed_antialias=antialias)
    processor = source.directory / PROCESSOR_FILE if source.directory is not None else None
    if processor is not None and processor.is_file():
        names = class_names or [str(i) for i in range(config["num_classes"])]
        pretrained.data_contract = DataContract("image", names, in_chans=config["in_chans"],
                                                **preprocessor_protocol(read_json_object(processor), config["img_size"]))
    return pretrained
