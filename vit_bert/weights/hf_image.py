"""What every Hugging Face image folder shares (ViT, DeiT, DINOv2, CLIP, SigLIP, DINOv3): each family's file renames its
tensors to timm's VisionTransformer layout (its key names are data in ``formats.hf_image_keys``, read and written both
ways); this module reads that layout into a ``Pretrained`` with the folder's head and data contract.

    hf_image_facts(config, act, eps)    config.json's head count, activation and LayerNorm eps (validated), as
                                        ``timm_vit_config``'s facts; ``act`` and ``eps``: the family's defaults
    read_hf_image(source, timm_keys, facts, antialias=...)   -> Pretrained: ``timm_keys`` (timm's keys and shapes:
                                        ``patch_embed.proj.weight`` (D, C, P, P), ``blocks.i....``) read by the timm
                                        converter; a classifier is kept single-label with config.json's id2label;
                                        ``preprocessor_config.json`` -> the data contract (``preprocessor_protocol``)
"""

from __future__ import annotations

import torch

from ..config import DataContract
from ..errors import WeightsError, WeightsMismatchError
from ..formats.hf_processor import PROCESSOR_FILE, preprocessor_protocol
from ..formats.timm_keys import timm_vit_to_vit_bert
from ..json_file import read_json_object
from .head_labels import check_single_label, hf_class_names
from .hf_bert import HF_ACTIVATIONS
from .pretrained import Pretrained, Source
from .timm_vit import is_timm_vit, timm_vit_config


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
