"""vit_bert image models -> transformers folders' config.json and state dict (the Hub's key names), through timm's layout:
ViT and DeiT (``vit_folder``), DINOv2 with and without registers (``dinov2_folder``), CLIP's and SigLIP's vision towers
(``clip_folder``, ``siglip_folder``) and DINOv3 (``dinov3_folder``). Each -> (config.json dict, state dict), or a
ConfigError naming what the family's classes cannot compute.
"""

from __future__ import annotations

import torch

from ..config import ModelConfig
from ..errors import ConfigError
from .hf_common import ACTS, fields_that_differ, labels, log
from .hf_image_keys import CLIP_LAYOUT, DINOV2_LAYOUT, DINOV3_LAYOUT, VIT_LAYOUT, rename_from_timm
from .timm_write import timm_vit_keys

_VIT_IMAGE = dict(modality="image", stem="patch", pre_norm=True, norm="layernorm", mlp_norm=False, qk_norm=False, head="classifier",
                  proj_bias=True, mlp_bias=True, head_bias=True, fc_norm=False)  # what every transformers image family shares


def _image_config(config: ModelConfig) -> dict:
    return {"hidden_size": config.dim, "num_hidden_layers": config.depth, "num_attention_heads": config.heads,
            "intermediate_size": _hidden(config), "hidden_act": ACTS[config.act], "layer_norm_eps": config.ln_eps,
            "image_size": config.img_size, "patch_size": config.patch_size, "num_channels": config.in_chans}


def _hidden(config: ModelConfig) -> int:
    return config.mlp_hidden or int(config.dim * config.mlp_ratio)


def _check_image(config: ModelConfig, architecture: str, wanted: dict, acts=tuple(ACTS)) -> None:
    differs = fields_that_differ(config, {**_VIT_IMAGE, **wanted})
    if config.act not in acts:
        differs.append(f"act={config.act!r}")
    if differs:
        raise ConfigError(f"this model cannot be written as a transformers {architecture}: {', '.join(differs)}; format='timm' writes more ViTs")


def _tower_only(model, architecture: str) -> bool:
    """A classifier the family's transformers classes have no counterpart for is left out, said in a warning."""
    if model.config.num_classes:
        log.warning("not written: the classifier (pool=%r, then a linear layer), which %s has no class for; the folder holds the "
                    "encoder (last_hidden_state), for a new head there", model.config.pool, architecture)
    return True


def _without_head(keys: dict) -> dict:
    return {k: v for k, v in keys.items() if not k.startswith(("head.", "head_dist."))}


def vit_folder(model) -> tuple[dict, dict]:
    """ViT (``ViTModel`` with its tanh pooler, ``ViTForImageClassification``) and DeiT (``DeiTModel``,
    ``DeiTForImageClassificationWithTeacher``: the distilled head's two classifiers)."""
    config = model.config
    deit = config.dist_token
    family = "DeiT" if deit else "ViT"
    _check_image(config, f"{family}Model", dict(final_norm=True, class_token=True, reg_tokens=0, pos_embed="learned", no_embed_class=False,
                                                norm_pre=False, layer_scale=None, rope_theta=None, pool="cls", qkv_bias=True, patch_bias=True,
                                                k_bias=True, mlp="mlp"))
    if config.head_pooler and (config.pooler_act != "tanh" or config.num_classes or deit):
        raise ConfigError(f"this model cannot be written as a transformers {family}Model: a pooler {'before the classifier' if config.num_classes else 'of another kind'}")
    keys = timm_vit_keys(model)
    keys.update({"pooler." + k.removeprefix("head.pooler.0."): keys.pop(k) for k in [k for k in keys if k.startswith("head.pooler.0.")]})
    task = "ForImageClassificationWithTeacher" if deit and config.num_classes else "ForImageClassification" if config.num_classes else ""
    choose = {"head.": "cls_classifier."} if deit else {}
    out = rename_from_timm(keys, VIT_LAYOUT, f"{family.lower()}." if task else "", choose)
    hf = {"model_type": family.lower(), "architectures": [f"{family}{task or 'Model'}"], **_image_config(config), "qkv_bias": True,
          "hidden_dropout_prob": config.dropout, "attention_probs_dropout_prob": config.attn_dropout, "pooler_act": "tanh",
          "pooler_output_size": config.dim, **labels(model, config)}
    return hf, out


def dinov2_folder(model) -> tuple[dict, dict]:
    """DINOv2 (``Dinov2Model``) and DINOv2 with registers (``Dinov2WithRegistersModel``): LayerScale (ones where the model has
    none), [CLS]'s position zero where its table leaves [CLS] out (it is in the token), SwiGLU as ``use_swiglu_ffn``."""
    config = model.config
    registers = config.reg_tokens > 0
    architecture = "Dinov2WithRegistersModel" if registers else "Dinov2Model"
    _check_image(config, architecture, dict(final_norm=True, class_token=True, dist_token=False, pos_embed="learned", norm_pre=False,
                                            rope_theta=None, pool="cls", patch_bias=True, k_bias=True, head_pooler=False,
                                            **({"no_embed_class": True} if registers else {})))
    hidden, swiglu = _hidden(config), config.mlp == "glu"
    if swiglu and (config.act != "silu" or hidden % 8):
        raise ConfigError("this model cannot be written as a transformers Dinov2Model: its gated MLP needs act='silu' and a width that is a multiple of 8 (transformers' SwiGLU)")
    width = hidden * 3 // 2 if swiglu else hidden  # transformers' SwiGLU takes 2/3 of dim * mlp_ratio, rounded up to 8
    if width % config.dim or (swiglu and hidden * 3 % 2):
        raise ConfigError(f"this model cannot be written as a transformers Dinov2Model: its MLP width {hidden} is not the width times an "
                          "integer mlp_ratio (transformers' DINOv2 takes an integer)")
    ratio = width // config.dim
    _tower_only(model, architecture)
    keys = _without_head(timm_vit_keys(model))
    if config.no_embed_class:  # [CLS]'s position is in its token: a zero one in the table
        keys["pos_embed"] = torch.cat([torch.zeros_like(keys["pos_embed"][:, :1]), keys["pos_embed"]], dim=1)
    if config.layer_scale is None:
        for index in range(config.depth):
            for scale in ("ls1", "ls2"):
                keys[f"blocks.{index}.{scale}.gamma"] = torch.ones(config.dim)
    choose = {"mlp.fc1": "mlp.weights_in", "mlp.fc2": "mlp.weights_out"} if swiglu else {}
    out = {**rename_from_timm(keys, DINOV2_LAYOUT, choose=choose), "embeddings.mask_token": torch.zeros(1, config.dim)}
    hf = {"model_type": "dinov2_with_registers" if registers else "dinov2", "architectures": [architecture], **_image_config(config),
          "mlp_ratio": ratio, "qkv_bias": config.qkv_bias, "use_swiglu_ffn": swiglu, "layerscale_value": 1.0, "apply_layernorm": True,
          **({"num_register_tokens": config.reg_tokens} if registers else {})}
    return hf, out


def clip_folder(model) -> tuple[dict, dict]:
    """CLIP's vision tower (``CLIPVisionModel``): its ``post_layernorm`` is this model's final norm (transformers applies it to
    [CLS], its ``pooler_output``)."""
    config = model.config
    _check_image(config, "CLIPVisionModel", dict(final_norm=True, class_token=True, dist_token=False, reg_tokens=0, pos_embed="learned",
                                                 no_embed_class=False, norm_pre=True, patch_bias=False, layer_scale=None, rope_theta=None,
                                                 pool="cls", qkv_bias=True, k_bias=True, mlp="mlp", head_pooler=False))
    _tower_only(model, "CLIPVisionModel")
    keys = _without_head(timm_vit_keys(model))
    keys["cls_token"], keys["pos_embed"] = keys["cls_token"].reshape(-1), keys["pos_embed"][0]
    hf = {"model_type": "clip_vision_model", "architectures": ["CLIPVisionModel"], **_image_config(config), "attention_dropout": config.attn_dropout}
    return hf, rename_from_timm(keys, CLIP_LAYOUT)


def siglip_folder(model) -> tuple[dict, dict]:
    """SigLIP's vision tower (``SiglipVisionModel``): no [CLS]; attention pooling is its head (``vision_use_head``)."""
    config = model.config
    if config.pool not in ("map", "mean"):
        raise ConfigError(f"this model cannot be written as a transformers SiglipVisionModel: pool={config.pool!r} (needs 'map' or 'mean')")
    _check_image(config, "SiglipVisionModel", dict(final_norm=True, class_token=False, dist_token=False, reg_tokens=0, pos_embed="learned",
                                                   norm_pre=False, patch_bias=True, layer_scale=None, rope_theta=None, qkv_bias=True, k_bias=True,
                                                   mlp="mlp", head_pooler=False))
    _tower_only(model, "SiglipVisionModel")
    keys = {k: v for k, v in timm_vit_keys(model).items() if not k.startswith(("head.weight", "head.bias"))}
    keys["pos_embed"] = keys["pos_embed"][0]
    for kind in ("weight", "bias"):  # timm's q and kv: the pooling attention's packed in_proj
        keys[f"attn_pool.in_proj.{kind}"] = torch.cat([keys.pop(f"attn_pool.q.{kind}"), keys.pop(f"attn_pool.kv.{kind}")]) if config.pool == "map" else None
    keys = {k: v for k, v in keys.items() if v is not None}
    hf = {"model_type": "siglip_vision_model", "architectures": ["SiglipVisionModel"], **_image_config(config), "attention_dropout": config.attn_dropout,
          "vision_use_head": config.pool == "map"}
    return hf, rename_from_timm(keys, CLIP_LAYOUT)


def dinov3_folder(model) -> tuple[dict, dict]:
    """DINOv3 (``DINOv3ViTModel``): 2-D rotary positions over patch centres, registers, LayerScale (ones where the model has
    none), a gated MLP as ``use_gated_mlp``; no key bias as ``key_bias`` false."""
    config = model.config
    _check_image(config, "DINOv3ViTModel", dict(final_norm=True, class_token=True, dist_token=False, pos_embed="none", norm_pre=False,
                                                patch_bias=True, rope_grid="centered", rope_layout="half", rope_ref_grid=None, head_pooler=False))
    if config.rope_theta is None:
        raise ConfigError("this model cannot be written as a transformers DINOv3ViTModel: it has no rotary positions (rope_theta)")
    _tower_only(model, "DINOv3ViTModel")
    keys = _without_head(timm_vit_keys(model))
    hidden = _hidden(config)
    for index in range(config.depth):
        if config.layer_scale is None:
            keys[f"blocks.{index}.ls1.gamma"] = keys[f"blocks.{index}.ls2.gamma"] = torch.ones(config.dim)
        if config.mlp == "glu":  # gate rows first: gate_proj, then up_proj
            for kind in ("weight", "bias"):
                packed = keys.pop(f"blocks.{index}.mlp.fc1.{kind}", None)
                if packed is not None:
                    keys[f"blocks.{index}.mlp.fc1_gate.{kind}"], keys[f"blocks.{index}.mlp.fc1.{kind}"] = packed[:hidden], packed[hidden:]
    out = rename_from_timm(keys, DINOV3_LAYOUT)
    if config.qkv_bias and not config.k_bias:
        out = {k: v for k, v in out.items() if not k.endswith("attention.k_proj.bias")}
    out["embeddings.mask_token"] = torch.zeros(1, 1, config.dim)
    out.setdefault("embeddings.register_tokens", torch.zeros(1, 0, config.dim))
    augments = {"pos_embed_shift": config.rope_shift, "pos_embed_jitter": config.rope_jitter, "pos_embed_rescale": config.rope_rescale}
    hf = {"model_type": "dinov3_vit", "architectures": ["DINOv3ViTModel"], **_image_config(config), "rope_theta": config.rope_theta,
          "num_register_tokens": config.reg_tokens, "query_bias": config.qkv_bias, "key_bias": config.qkv_bias and config.k_bias,
          "value_bias": config.qkv_bias, "proj_bias": config.proj_bias, "mlp_bias": config.mlp_bias, "use_gated_mlp": config.mlp == "glu",
          "layerscale_value": 1.0, "apply_layernorm": True, "attention_dropout": config.attn_dropout, **augments}
    return hf, out
