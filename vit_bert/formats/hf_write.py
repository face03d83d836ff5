"""vit_bert models -> a Hugging Face transformers folder that ``AutoModel.from_pretrained`` (and the task class its
config.json names) loads, computing the same function: config.json (with ``id2label``), model.safetensors in the Hub's
key names, the tokenizer (tokenizer.json with its [CLS] ... [SEP] template, tokenizer_config.json) or the image
processor (preprocessor_config.json).

    save_transformers(model, directory) -> directory
    transformers_folder(model)          -> (config.json dict, state dict in the Hub's keys): the first of ``WRITERS``
                                           whose architecture computes the model
Writers (each the inverse of its reader):
    BERT        post-norm, learned positions from 0, tanh pooler (``BertModel``, ``BertForSequenceClassification``, ``BertForMaskedLM``)
    RoBERTa     the same with positions after the padding id (``Roberta...``)
    ELECTRA     GELU pooler, embeddings possibly narrower than the encoder (``Electra...``; the masked LM is its generator)
    DistilBERT  ReLU pooler, no token types (``DistilBert...``)
    ModernBERT  pre-norm, rotary, GeGLU, no biases (``ModernBertModel``, ``...ForSequenceClassification``, ``...ForMaskedLM``)
    ViT         [CLS], learned positions, pre-norm (``ViTModel``, ``ViTForImageClassification``)
A model no writer's architecture computes stops with one line naming what differs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from tokenizers.processors import TemplateProcessing

from ..config import ModelConfig
from ..errors import ConfigError
from ..tokenizer import special_tokens
from .hf_image_keys import CLIP_LAYOUT, DINOV2_LAYOUT, DINOV3_LAYOUT, VIT_LAYOUT, rename_from_timm
from .hf_processor import write_processor
from .hf_text_keys import POOLER_ACTIVATIONS, to_family_keys
from .timm_write import timm_vit_keys

log = logging.getLogger(__name__)
ACTS = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "quick_gelu": "quick_gelu", "relu": "relu", "silu": "silu"}
_BERT_LAYER = {"attn.proj": "attention.output.dense", "norm1": "attention.output.LayerNorm", "mlp.fc1": "intermediate.dense",
               "mlp.fc2": "output.dense", "norm2": "output.LayerNorm"}
_BERT_TOP = {"frontend.word_embeddings.": "embeddings.word_embeddings.", "frontend.position_embeddings.": "embeddings.position_embeddings.",
             "frontend.token_type_embeddings.": "embeddings.token_type_embeddings.", "frontend.norm.": "embeddings.LayerNorm.",
             "head.pooler.0.": "pooler.dense.", "head.fc.": "classifier.", "head.dense.": "cls.predictions.transform.dense.",
             "head.norm.": "cls.predictions.transform.LayerNorm.", "head.bias": "cls.predictions.bias"}


def _rename(key: str, table: dict[str, str]) -> str | None:
    old = next((name for name in table if key == name or (name.endswith(".") and key.startswith(name))), None)
    return None if old is None else table[old] + key[len(old):]


def _differs(config: ModelConfig, wanted: dict) -> list[str]:
    return [f"{name}={getattr(config, name)!r} (needs {value!r})" for name, value in wanted.items() if getattr(config, name) != value]


def _stop(architecture: str, differs: list[str]) -> ConfigError:
    return ConfigError(f"this model cannot be written as a transformers {architecture}: {', '.join(differs)}")


def _labels(model, config: ModelConfig) -> dict:
    if not config.num_classes:
        return {}
    names = model.class_names or [f"LABEL_{i}" for i in range(config.num_classes)]
    return {"id2label": dict(enumerate(names)), "label2id": {name: i for i, name in enumerate(names)}}


def _split_qkv(out: dict, prefix: str, value: torch.Tensor, kind: str, names: tuple[str, str, str], config: ModelConfig) -> None:
    q, k, v = value.chunk(3)
    if kind == "bias" and not config.k_bias:
        k = torch.zeros_like(k)
    for name, part in zip(names, (q, k, v)):
        out[f"{prefix}{name}.{kind}"] = part


def _text_task(config: ModelConfig, classifier: str, pooler: str) -> str:
    """The task class's suffix: the masked-token head, the classifier, or none. A classifier the library's cannot compute
    (one without its pooler) is left out, said in a warning: the folder then holds the encoder alone."""
    if config.head == "mlm":
        return "ForMaskedLM"
    if not config.num_classes:
        return ""
    if not config.head_pooler:
        log.warning("not written: the classifier (pool=%r, then a linear layer), which %s cannot compute without %s; the folder "
                    "holds the encoder (last_hidden_state), for a new head there", config.pool, classifier, pooler)
        return ""
    return "ForSequenceClassification"


FAMILY_CLASSES = {"bert": "Bert", "roberta": "Roberta", "electra": "Electra", "distilbert": "DistilBert"}
_TASK_HEADS = ("classifier.", "cls.", "lm_head.", "generator_", "vocab_", "pre_classifier.")  # not under a task model's prefix


def bert_family(config: ModelConfig) -> str:
    """The BERT-architecture family a post-norm text model is: RoBERTa's positions count after the padding id, ELECTRA's
    pooler is GELU (its embeddings may be narrower), DistilBERT's ReLU without token types; BERT's tanh."""
    if config.position_offset:
        return "roberta"
    if config.embed_dim is not None or config.pooler_act == "gelu":
        return "electra"
    if config.pooler_act == "relu" or config.type_vocab_size == 0:
        return "distilbert"
    return "bert"


def bert_folder(model) -> tuple[dict, dict]:
    config = model.config
    family = bert_family(config)
    name = FAMILY_CLASSES[family]
    wanted = dict(modality="text", pre_norm=False, norm="layernorm", mlp="mlp", learned_positions=True, rope_theta=None, pool="cls",
                  qkv_bias=True, proj_bias=True, mlp_bias=True, norm_bias=True, local_window=None, pooler_norm=False, head_bias=True, k_bias=True,
                  pooler_act=POOLER_ACTIVATIONS[family], position_offset=config.pad_token_id + 1 if family == "roberta" else 0)
    if family != "electra":
        wanted["embed_dim"] = None
    if family == "distilbert":
        wanted.update(type_vocab_size=0, ln_eps=1e-12)  # DistilBERT's LayerNorms are fixed at 1e-12
    differs = _differs(config, wanted)
    if config.act not in ACTS:
        differs.append(f"act={config.act!r}")
    if family != "distilbert" and config.type_vocab_size == 0:
        differs.append(f"type_vocab_size=0 ({name} has token types)")
    if config.head == "pixels" or (family == "electra" and config.head == "mlm" and config.act != "gelu"):
        differs.append("head='pixels'" if config.head == "pixels" else "a masked-token head of another activation than ELECTRA's GELU")
    if differs:
        raise _stop(f"{name}Model", differs)
    task = _text_task(config, f"{name}ForSequenceClassification", f"the {POOLER_ACTIVATIONS[family]} pooler {name}'s classifier reads")
    bert_keys, pooler = {}, {}
    for key, value in model.plain_state_dict().items():
        parts = key.split(".")
        if not task and key.startswith("head.fc."):  # the classifier left out (see _text_task)
            continue
        if key.startswith("encoder.blocks."):
            base, rest = f"encoder.layer.{parts[2]}.", ".".join(parts[3:-1])
            if rest == "attn.qkv":
                _split_qkv(bert_keys, base + "attention.self.", value, parts[-1], ("query", "key", "value"), config)
            else:
                bert_keys[f"{base}{_BERT_LAYER[rest]}.{parts[-1]}"] = value
            continue
        new = _rename(key, _BERT_TOP) or (key if key.startswith("frontend.project.") else None)
        if new is None:
            raise ConfigError(f"this model cannot be written as a transformers {name}Model: {key} has no place in it")
        (pooler if new.startswith("pooler.") and not task else bert_keys)[new] = value
    if pooler and family in ("electra", "distilbert"):
        log.warning("not written: the pooler without a classifier, which %sModel does not have", name)
        pooler = {}
    prefix = f"{family}." if task else ""
    out = {k if k.startswith(_TASK_HEADS) else prefix + k: v for k, v in {**to_family_keys(bert_keys, family), **pooler}.items()}
    return _bert_config(model, family, task), out


def _bert_config(model, family: str, task: str) -> dict:
    config = model.config
    name = FAMILY_CLASSES[family]
    hidden = config.mlp_hidden or int(config.dim * config.mlp_ratio)
    common = {"model_type": family, "architectures": [f"{name}{task or 'Model'}"], "vocab_size": config.vocab_size,
              "max_position_embeddings": config.max_len, "pad_token_id": config.pad_token_id, "tie_word_embeddings": True, **_labels(model, config)}
    if family == "distilbert":
        return {**common, "dim": config.dim, "n_layers": config.depth, "n_heads": config.heads, "hidden_dim": hidden,
                "activation": ACTS[config.act], "dropout": config.dropout, "attention_dropout": config.attn_dropout,
                "seq_classif_dropout": config.head_dropout, "sinusoidal_pos_embds": False}
    fields = {**common, "hidden_size": config.dim, "num_hidden_layers": config.depth, "num_attention_heads": config.heads,
              "intermediate_size": hidden, "hidden_act": ACTS[config.act], "hidden_dropout_prob": config.dropout,
              "attention_probs_dropout_prob": config.attn_dropout, "type_vocab_size": config.type_vocab_size, "layer_norm_eps": config.ln_eps,
              "classifier_dropout": config.head_dropout, "position_embedding_type": "absolute"}
    if family == "electra":
        fields["embedding_size"] = config.embed_dim or config.dim
    return fields


def modernbert_folder(model) -> tuple[dict, dict]:
    config = model.config
    wanted = dict(modality="text", pre_norm=True, first_norm=False, final_norm=True, norm="layernorm", mlp="glu", learned_positions=False,
                  type_vocab_size=0, embed_dim=None, position_offset=0, qkv_bias=config.proj_bias, rope_layout="half", k_bias=True, pooler_norm=True)
    differs = _differs(config, wanted)
    if config.rope_theta is None:
        differs.append("no rotary positions (rope_theta)")
    if config.act not in ACTS:
        differs.append(f"act={config.act!r}")
    if config.head == "pixels" or config.pool not in ("cls", "mean"):
        differs.append(f"pool={config.pool!r}" if config.head != "pixels" else "head='pixels'")
    if differs:
        raise _stop("ModernBertModel", differs)
    task = _text_task(config, "ModernBertForSequenceClassification", "ModernBERT's dense + norm head before its classifier")
    prefix = "model." if task else ""
    out = {}
    layer_names = {"norm1": "attn_norm", "attn.qkv": "attn.Wqkv", "attn.proj": "attn.Wo", "norm2": "mlp_norm", "mlp.fc1": "mlp.Wi", "mlp.fc2": "mlp.Wo"}
    top = {"frontend.word_embeddings.": "embeddings.tok_embeddings.", "frontend.norm.": "embeddings.norm.", "encoder.norm.": "final_norm."}
    heads = ({"head.pooler.0.": "head.dense.", "head.pooler.2.": "head.norm.", "head.fc.": "classifier."} if task == "ForSequenceClassification"
             else {"head.dense.": "head.dense.", "head.norm.": "head.norm.", "head.bias": "decoder.bias"})
    for key, value in model.plain_state_dict().items():
        if not task and key.startswith("head."):  # the head left out (see _text_task)
            continue
        parts = key.split(".")
        if key.startswith("encoder.blocks."):
            out[f"{prefix}layers.{parts[2]}.{layer_names['.'.join(parts[3:-1])]}.{parts[-1]}"] = value
            continue
        new = _rename(key, top)
        if new is not None:
            out[prefix + new] = value
            continue
        new = _rename(key, heads)
        if new is None:
            raise ConfigError(f"this model cannot be written as a transformers ModernBertModel: {key} has no place in it")
        out[new] = value
    every = config.global_every if config.local_window is not None else 1
    hf = {
        "model_type": "modernbert", "architectures": [f"ModernBert{task or 'Model'}"], "vocab_size": config.vocab_size,
        "hidden_size": config.dim, "num_hidden_layers": config.depth, "num_attention_heads": config.heads,
        "intermediate_size": config.mlp_hidden or int(config.dim * config.mlp_ratio), "hidden_activation": ACTS[config.act],
        "max_position_embeddings": config.max_len, "norm_eps": config.ln_eps, "norm_bias": config.norm_bias,
        "attention_bias": config.qkv_bias, "mlp_bias": config.mlp_bias, "classifier_bias": config.head_bias,
        "classifier_activation": ACTS.get(config.pooler_act, config.pooler_act), "classifier_pooling": config.pool,
        "classifier_dropout": config.head_dropout, "embedding_dropout": config.dropout, "mlp_dropout": config.dropout,
        "attention_dropout": config.attn_dropout, "pad_token_id": config.pad_token_id, "local_attention": config.local_window or config.max_len,
        "global_attn_every_n_layers": every, "decoder_bias": True, "tie_word_embeddings": True,
        "layer_types": ["full_attention" if i % every == 0 else "sliding_attention" for i in range(config.depth)],
        "rope_parameters": {"full_attention": {"rope_type": "default", "rope_theta": config.rope_theta},
                            "sliding_attention": {"rope_type": "default", "rope_theta": config.rope_local_theta or config.rope_theta}},
        "global_rope_theta": config.rope_theta, "local_rope_theta": config.rope_local_theta or config.rope_theta, **_labels(model, config),
    }
    return hf, out


_VIT_IMAGE = dict(modality="image", stem="patch", pre_norm=True, norm="layernorm", mlp_norm=False, qk_norm=False, head="classifier",
                  proj_bias=True, mlp_bias=True, head_bias=True, fc_norm=False)  # what every transformers image family shares


def _image_config(config: ModelConfig) -> dict:
    return {"hidden_size": config.dim, "num_hidden_layers": config.depth, "num_attention_heads": config.heads,
            "intermediate_size": _hidden(config), "hidden_act": ACTS[config.act], "layer_norm_eps": config.ln_eps,
            "image_size": config.img_size, "patch_size": config.patch_size, "num_channels": config.in_chans}


def _hidden(config: ModelConfig) -> int:
    return config.mlp_hidden or int(config.dim * config.mlp_ratio)


def _check_image(config: ModelConfig, architecture: str, wanted: dict, acts=tuple(ACTS)) -> None:
    differs = _differs(config, {**_VIT_IMAGE, **wanted})
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
          "pooler_output_size": config.dim, **_labels(model, config)}
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


WRITERS = {"text": (bert_folder, modernbert_folder), "image": (vit_folder, dinov2_folder, clip_folder, siglip_folder, dinov3_folder)}


def transformers_folder(model) -> tuple[dict, dict]:
    """The first writer whose architecture computes the model; none: one line with the closest one's reasons."""
    reasons = []
    for writer in WRITERS[model.config.modality]:
        try:
            return writer(model)
        except ConfigError as err:
            reasons.append(str(err).removeprefix("this model cannot be written as a transformers "))
    closest = min(reasons, key=lambda reason: reason.count(","))
    raise ConfigError(f"this model cannot be written as a transformers model; the closest class, {closest}")


def _write_tokenizer(tokenizer: Tokenizer, directory: Path, max_length: int) -> None:
    """tokenizer.json with the [CLS] ... [SEP] template vit_bert adds itself, so that AutoTokenizer gives the same ids."""
    special = special_tokens(tokenizer)
    copy = Tokenizer.from_str(tokenizer.to_str())
    ids = {name: copy.token_to_id(name) for name in (special.cls, special.sep)}
    copy.post_processor = TemplateProcessing(single=f"{special.cls} $A {special.sep}", pair=f"{special.cls} $A {special.sep} $B:1 {special.sep}:1",
                                             special_tokens=list(ids.items()))
    copy.save(str(directory / "tokenizer.json"))
    settings = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length, "cls_token": special.cls, "sep_token": special.sep,
                "pad_token": special.pad, "unk_token": special.unk, "mask_token": special.mask}
    (directory / "tokenizer_config.json").write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def save_transformers(model, directory: str | Path) -> Path:
    hf, weights = transformers_folder(model)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({**hf, "transformers_version": "4.40.0"}, indent=2) + "\n", encoding="utf-8")
    save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(directory / "model.safetensors"), metadata={"format": "pt"})
    contract = model.data_contract
    if model.config.modality == "text" and model.tokenizer is not None:
        _write_tokenizer(model.tokenizer, directory, (contract.max_length if contract is not None and contract.max_length else model.config.max_len))
    if model.config.modality == "image" and contract is not None and contract.mean is not None:
        write_processor(contract, directory, model.config.img_size)
    return directory
