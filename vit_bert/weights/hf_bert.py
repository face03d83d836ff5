"""Hugging Face BERT (config.json + state dict) -> vit_bert config + state dict.

HF keys, optionally under ``bert.`` (BertForSequenceClassification):
``embeddings.{word,position,token_type}_embeddings``, ``embeddings.LayerNorm``,
``encoder.layer.i.attention.self.{query,key,value}``, ``encoder.layer.i.attention.output.{dense,LayerNorm}``,
``encoder.layer.i.intermediate.dense``, ``encoder.layer.i.output.{dense,LayerNorm}``,
``pooler.dense``, and ``classifier`` for a sequence-classification head.
Post-norm, LayerNorm eps 1e-12, GELU per ``hidden_act``.

Q, K and V (each (D, D)) are stacked into vit_bert's fused ``qkv`` (3D, D), q; k; v.
"""

from __future__ import annotations

import re

import torch

from ..errors import AmbiguousWeightsError, WeightsError
from ..layers.checks import head_counts

HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh"}

_LAYER_RENAMES = {
    "attention.output.dense": "attn.proj",
    "attention.output.LayerNorm": "norm1",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "output.LayerNorm": "norm2",
}
_EMBEDDING_RENAMES = {
    "embeddings.word_embeddings": "frontend.word_embeddings",
    "embeddings.position_embeddings": "frontend.position_embeddings",
    "embeddings.token_type_embeddings": "frontend.token_type_embeddings",
    "embeddings.LayerNorm": "frontend.norm",
    "pooler.dense": "head.pooler.0",
    "classifier": "head.fc",
    "cls.predictions.transform.dense": "head.dense",  # BertForMaskedLM / BertForPreTraining: the masked-token head
    "cls.predictions.transform.LayerNorm": "head.norm",
    "cls.predictions": "head",  # its output bias
}
# Buffers HF stores that vit_bert recomputes; the MLM decoder, which is the word-embedding table (tied) and
# its bias (cls.predictions.bias again); next-sentence prediction, which vit_bert does not have.
_IGNORED = ("embeddings.position_ids", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
            "cls.seq_relationship.weight", "cls.seq_relationship.bias")


def is_hf_bert(state_dict: dict) -> bool:
    return any(k.startswith(("embeddings.word_embeddings", "bert.embeddings.word_embeddings")) for k in state_dict)


def _strip_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Old TF-converted checkpoints name LayerNorm parameters gamma/beta.
    renamed = {}
    for key, value in state_dict.items():
        key = key.removeprefix("bert.")
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", key)
        renamed[re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key)] = value
    return renamed


def hf_bert_config(hf_config: dict | None, state_dict: dict[str, torch.Tensor], heads: int | None = None) -> dict:
    """ModelConfig fields from config.json (when given) and the tensors.

    The tensors do not store the head count: it comes from config.json's num_attention_heads or ``heads=``
    (BERT-base has heads of 64, but MiniLM-L6-H384 has 12 heads of 32: no width tells it)."""
    sd = _strip_prefix(state_dict)
    vocab_size, dim = sd["embeddings.word_embeddings.weight"].shape
    token_types = sd.get("embeddings.token_type_embeddings.weight")
    classifier = sd.get("classifier.weight")
    fields = dict(
        modality="text",
        dim=dim,
        depth=1 + max(int(m.group(1)) for k in sd if (m := re.match(r"encoder\.layer\.(\d+)\.", k))),
        heads=heads or 0,
        mlp_ratio=sd["encoder.layer.0.intermediate.dense.weight"].shape[0] / dim,
        pre_norm=False,
        ln_eps=1e-12,
        qkv_bias="encoder.layer.0.attention.self.query.bias" in sd,
        act="gelu",
        pool="cls",
        head_pooler="pooler.dense.weight" in sd,
        num_classes=classifier.shape[0] if classifier is not None else 0,
        vocab_size=vocab_size,
        max_len=sd["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=token_types.shape[0] if token_types is not None else 0,
    )
    if hf_config is None:
        if not heads:
            raise AmbiguousWeightsError(
                f"a BERT state dict without config.json does not say how many attention heads its width {dim} is split into; "
                f"pass heads= (one of {head_counts(dim)}; BERT sizes use {dim // 64 if dim % 64 == 0 else 'width/64'}), "
                "or load the whole Hugging Face folder"
            )
        return fields
    model_type = hf_config.get("model_type", "bert")
    if model_type != "bert":
        raise WeightsError(f"config.json describes a {model_type!r} model; vit_bert reads BERT-architecture models (model_type 'bert')")
    if hf_config.get("position_embedding_type", "absolute") != "absolute":
        raise WeightsError(f"position_embedding_type {hf_config['position_embedding_type']!r} is not supported; expected 'absolute'")
    act = hf_config.get("hidden_act", "gelu")
    if act not in HF_ACTIVATIONS:
        raise WeightsError(f"hidden_act {act!r} is not supported; expected one of {sorted(HF_ACTIVATIONS)}")
    hidden_dropout = hf_config.get("hidden_dropout_prob", 0.1)
    classifier_dropout = hf_config.get("classifier_dropout")
    fields.update(
        heads=heads or hf_config["num_attention_heads"],
        ln_eps=float(hf_config.get("layer_norm_eps", 1e-12)),
        act=HF_ACTIVATIONS[act],
        dropout=hidden_dropout,
        attn_dropout=hf_config.get("attention_probs_dropout_prob", 0.1),
        head_dropout=hidden_dropout if classifier_dropout is None else classifier_dropout,
        pad_token_id=hf_config.get("pad_token_id") or 0,
    )
    return fields


def hf_bert_to_vit_bert(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename HF keys to vit_bert's and fuse Q, K, V; unknown keys pass through (the loader reports them)."""
    sd = _strip_prefix(state_dict)
    decoder = sd.get("cls.predictions.decoder.weight")
    if decoder is not None and not torch.equal(decoder, sd["embeddings.word_embeddings.weight"]):
        raise WeightsError("the masked-token decoder is not tied to the word embeddings; vit_bert's MLM head is always tied, as BERT's")
    out = {}
    for key, value in sd.items():
        if key in _IGNORED:
            continue
        layer = re.match(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$", key)
        if layer:
            index, name, kind = layer.groups()
            if name.startswith("attention.self."):
                if name.endswith(".query"):
                    parts = [sd[f"encoder.layer.{index}.attention.self.{p}.{kind}"] for p in ("query", "key", "value")]
                    out[f"encoder.blocks.{index}.attn.qkv.{kind}"] = torch.cat(parts)
                continue
            if name in _LAYER_RENAMES:
                out[f"encoder.blocks.{index}.{_LAYER_RENAMES[name]}.{kind}"] = value
                continue
        prefix, _, kind = key.rpartition(".")
        out[f"{_EMBEDDING_RENAMES[prefix]}.{kind}" if prefix in _EMBEDDING_RENAMES else key] = value
    return out
