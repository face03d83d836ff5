"""Hugging Face ModernBERT (config.json + state dict of ``ModernBertModel``, ``ModernBertForMaskedLM`` or
``ModernBertForSequenceClassification``) -> vit_bert config + state dict.

ModernBERT is vit_bert's pre-norm encoder with settings (Warner et al. 2024):
    no position table; rotary positions on every layer, base 160k in global layers and 10k in local ones
    local attention (a window of 128: 64 tokens each side) in all layers but every third (``layer_types``)
    a GeGLU MLP (``mlp.Wi`` holds the GELU input and the gate, in that order), no biases, LayerNorms without bias
    an embedding LayerNorm, none before block 0's attention, a final norm
Keys, optionally under ``model.``: ``embeddings.{tok_embeddings,norm}``, ``layers.i.{attn_norm,attn.Wqkv,attn.Wo,mlp_norm,
mlp.Wi,mlp.Wo}``, ``final_norm``; the masked-LM head ``head.{dense,norm}`` and ``decoder`` (tied to the word embeddings);
the classification head ``head.{dense,norm}`` and ``classifier``: vit_bert's pooler with ``pooler_norm``, then its classifier.
``Wqkv`` stacks q; k; v as vit_bert's fused ``qkv`` does, so it is taken as it is.
"""

from __future__ import annotations

import re

import torch

from ..errors import AmbiguousWeightsError, WeightsError, WeightsMismatchError
from .hf_bert import HF_ACTIVATIONS

RENAMES = (  # ModernBERT key (regex, the task model's ``model.`` removed) -> vit_bert key
    (r"^embeddings\.tok_embeddings\.", "frontend.word_embeddings."),
    (r"^embeddings\.norm\.", "frontend.norm."),
    (r"^layers\.(\d+)\.attn_norm\.", r"encoder.blocks.\1.norm1."),
    (r"^layers\.(\d+)\.attn\.Wqkv\.", r"encoder.blocks.\1.attn.qkv."),
    (r"^layers\.(\d+)\.attn\.Wo\.", r"encoder.blocks.\1.attn.proj."),
    (r"^layers\.(\d+)\.mlp_norm\.", r"encoder.blocks.\1.norm2."),
    (r"^layers\.(\d+)\.mlp\.Wi\.", r"encoder.blocks.\1.mlp.fc1."),
    (r"^layers\.(\d+)\.mlp\.Wo\.", r"encoder.blocks.\1.mlp.fc2."),
    (r"^final_norm\.", "encoder.norm."),
    (r"^head\.dense\.", "head.dense."),
    (r"^head\.norm\.", "head.norm."),
    (r"^decoder\.bias$", "head.bias"),
)
CLASSIFIER_RENAMES = (  # ModernBertForSequenceClassification: its head.{dense,norm} are a pooler
    (r"^head\.dense\.", "head.pooler.0."),
    (r"^head\.norm\.", "head.pooler.2."),
    (r"^classifier\.", "head.fc."),
)


def is_modernbert(state_dict: dict) -> bool:
    return any(k.removeprefix("model.").startswith("embeddings.tok_embeddings.") for k in state_dict)


def _strip(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix("model."): v for k, v in state_dict.items()}


def _global_every(layer_types: list[str]) -> int | None:
    """n such that layers 0, n, 2n, ... are 'full_attention' and the rest 'sliding_attention'; None when all are full."""
    full = [i for i, kind in enumerate(layer_types) if kind == "full_attention"]
    if len(full) == len(layer_types):
        return None
    every = full[1] if len(full) > 1 else len(layer_types)
    if any((kind == "full_attention") != (i % every == 0) for i, kind in enumerate(layer_types)) or set(layer_types) - {
        "full_attention", "sliding_attention"
    }:
        raise WeightsError(f"layer_types {layer_types} are not a global layer every n-th with sliding layers between; "
                           "vit_bert's local attention repeats one period (global_every)")
    return every


def _rope_thetas(hf: dict) -> tuple[float, float]:
    """(global, local) rotary bases from ``rope_parameters`` (transformers 5) or the older ``global_rope_theta`` / ``local_rope_theta``."""
    parameters = hf.get("rope_parameters") or {}
    for kind, values in parameters.items():
        if (values or {}).get("rope_type", "default") != "default":
            raise WeightsError(f"ModernBERT's {kind} layers use rope_type {values['rope_type']!r}; vit_bert computes the 'default' RoPE")
    full = (parameters.get("full_attention") or {}).get("rope_theta", hf.get("global_rope_theta", 160_000.0))
    local = (parameters.get("sliding_attention") or {}).get("rope_theta", hf.get("local_rope_theta", 10_000.0))
    return float(full), float(local)


def modernbert_config(hf_config: dict | None, state_dict: dict[str, torch.Tensor]) -> dict:
    """ModelConfig fields from config.json and the tensors. A bare state dict does not hold the rotary bases, the local
    window or the layer pattern, so it needs its config.json."""
    sd = _strip(state_dict)
    classifier = sd.get("classifier.weight")
    if hf_config is None:
        raise AmbiguousWeightsError("a ModernBERT state dict does not store its attention heads, rotary bases, local window or layer "
                                    "pattern; load the Hugging Face folder with its config.json")
    depth = len({m.group(1) for k in sd if (m := re.match(r"layers\.(\d+)\.attn\.Wqkv\.weight$", k))})
    if not depth or "embeddings.tok_embeddings.weight" not in sd:
        raise WeightsMismatchError(f"a ModernBERT state dict needs word embeddings and attention layers; first keys: {', '.join(list(state_dict)[:5])}")
    hf = hf_config
    act = hf.get("hidden_activation", "gelu")
    if act not in HF_ACTIVATIONS:
        raise WeightsError(f"hidden_activation {act!r} is not supported; expected one of {sorted(HF_ACTIVATIONS)}")
    head_act = hf.get("classifier_activation", act)
    if head_act not in HF_ACTIVATIONS:
        raise WeightsError(f"classifier_activation {head_act!r} is not supported; expected one of {sorted(HF_ACTIVATIONS)}")
    if "head.dense.weight" in sd and classifier is None and head_act != act:
        raise WeightsError(f"classifier_activation {hf['classifier_activation']!r} differs from hidden_activation {act!r}; "
                           "vit_bert's masked-token head uses the encoder's activation")
    layer_types = hf.get("layer_types") or [
        "sliding_attention" if i % hf.get("global_attn_every_n_layers", 3) else "full_attention" for i in range(depth)
    ]
    every = _global_every(layer_types)
    full_theta, local_theta = _rope_thetas(hf)
    dim = sd["embeddings.tok_embeddings.weight"].shape[1]
    bias = bool(hf.get("attention_bias", False))
    return dict(
        modality="text", dim=dim, depth=depth, heads=hf["num_attention_heads"],
        mlp="glu", mlp_hidden=sd["layers.0.mlp.Wo.weight"].shape[1], act=HF_ACTIVATIONS[act], mlp_bias=bool(hf.get("mlp_bias", False)),
        pre_norm=True, norm="layernorm", norm_bias=bool(hf.get("norm_bias", False)), ln_eps=float(hf.get("norm_eps", 1e-5)),
        first_norm=False, final_norm=True, qkv_bias=bias, proj_bias=bias,
        rope_theta=full_theta, rope_local_theta=local_theta if every else None, rope_layout="half",
        local_window=int(hf.get("local_attention", 128)) if every else None, global_every=every or 1,
        vocab_size=sd["embeddings.tok_embeddings.weight"].shape[0], max_len=int(hf.get("max_position_embeddings", 8192)),
        type_vocab_size=0, learned_positions=False, pad_token_id=int(hf.get("pad_token_id") or 0),
        dropout=float(max(hf.get("embedding_dropout", 0.0), hf.get("mlp_dropout", 0.0))), attn_dropout=float(hf.get("attention_dropout", 0.0)),
        pool=hf.get("classifier_pooling", "cls"), head_bias=bool(hf.get("classifier_bias", False)),
        head_pooler=classifier is not None, pooler_act=HF_ACTIVATIONS[head_act], pooler_norm=True,
        head_dropout=float(hf.get("classifier_dropout", 0.0)), num_classes=0 if classifier is None else classifier.shape[0],
    )


def modernbert_to_vit_bert(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename ModernBERT keys to vit_bert's; unknown keys pass through (the loader reports them)."""
    sd = _strip(state_dict)
    decoder = sd.pop("decoder.weight", None)
    if decoder is not None and not torch.equal(decoder, sd["embeddings.tok_embeddings.weight"]):
        raise WeightsError("the masked-token decoder is not tied to the word embeddings; vit_bert's MLM head is always tied, as ModernBERT's")
    classifier = "classifier.weight" in sd
    if "head.dense.weight" in sd and not classifier and "decoder.bias" not in sd:  # decoder_bias=False: vit_bert's head has a bias, zero is the same function
        sd["decoder.bias"] = torch.zeros(sd["embeddings.tok_embeddings.weight"].shape[0])
    renames = (*CLASSIFIER_RENAMES, *RENAMES) if classifier else RENAMES
    out = {}
    for key, value in sd.items():
        for pattern, replacement in renames:
            if re.match(pattern, key):
                key = re.sub(pattern, replacement, key)
                break
        out[key] = value
    return out
