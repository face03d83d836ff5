"""Hugging Face BERT, RoBERTa, ELECTRA and DistilBERT (config.json + state dict) -> vit_bert config + state dict.

The four are BERT's arithmetic under other names and offsets (``FAMILIES``): each family's keys are first renamed
to BERT's, then read as BERT's.
    roberta     positions start after the padding id (position_offset = pad_token_id + 1); MLM head ``lm_head.*``
    electra     embedding tables narrower than the encoder, projected up (``embeddings_project`` -> embed_dim); the
                generator's MLM head ``generator_predictions``, its dense layer back down to embed_dim
    distilbert  ``transformer.layer.i.{attention.{q,k,v,out}_lin, sa_layer_norm, ffn.lin1/2, output_layer_norm}``,
                no token types; MLM head ``vocab_{transform,layer_norm,projector}``
HF keys, optionally under ``bert.`` (BertForSequenceClassification):
``embeddings.{word,position,token_type}_embeddings``, ``embeddings.LayerNorm``,
``encoder.layer.i.attention.self.{query,key,value}``, ``encoder.layer.i.attention.output.{dense,LayerNorm}``,
``encoder.layer.i.intermediate.dense``, ``encoder.layer.i.output.{dense,LayerNorm}``,
``pooler.dense``, and ``classifier`` for a sequence-classification head (RoBERTa's and ELECTRA's
``classifier.{dense,out_proj}`` and DistilBERT's ``pre_classifier`` are the same pooler and classifier).
Post-norm, LayerNorm eps 1e-12, GELU per ``hidden_act``.

Q, K and V (each (D, D)) are stacked into vit_bert's fused ``qkv`` (3D, D), q; k; v.
"""

from __future__ import annotations

import re

import torch

from ..errors import AmbiguousWeightsError, WeightsError, WeightsMismatchError
from ..formats.hf_text_keys import FAMILIES, POOLER_ACTIVATIONS
from ..layers.checks import head_counts

HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh", "quick_gelu": "quick_gelu", "relu": "relu",
                  "silu": "silu", "swish": "silu"}

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
_IGNORED = ("embeddings.position_ids", "embeddings.token_type_ids", "cls.predictions.decoder.weight", "cls.predictions.decoder.bias",
            "cls.seq_relationship.weight", "cls.seq_relationship.bias")
# ELECTRA's discriminator head (ElectraForPreTraining: replaced-token detection, one logit a token), which vit_bert
# does not have: google/electra-*-discriminator checkpoints load as their encoder.
_IGNORED_PREFIXES = ("discriminator_predictions.",)


SUPPORTED_TYPES = ", ".join(repr(t) for t in FAMILIES)


def is_hf_bert(state_dict: dict) -> bool:
    """Whether the keys are those of one of ``FAMILIES`` (a base model, or a task model with its prefix)."""
    words = tuple(f"{prefix}embeddings.word_embeddings" for prefix, _ in FAMILIES.values())
    return any(k.startswith(("embeddings.word_embeddings", *words)) for k in state_dict)


def family_of(hf_config: dict | None, state_dict: dict) -> str:
    """The model_type config.json names (one vit_bert reads), else the one the keys show."""
    if hf_config is not None:
        model_type = hf_config.get("model_type", "bert")
        if model_type not in FAMILIES:
            raise WeightsError(f"config.json describes a {model_type!r} model; vit_bert reads the model types {SUPPORTED_TYPES}")
        return model_type
    for family, (prefix, _) in FAMILIES.items():  # a task model's keys name its family
        if any(k.startswith(prefix) for k in state_dict):
            return family
    if any(k.startswith("transformer.layer.") for k in state_dict):
        return "distilbert"
    if any(k.startswith("embeddings_project.") for k in state_dict):
        return "electra"
    if any(k.startswith("lm_head.") for k in state_dict):
        return "roberta"
    return "bert"  # a RobertaModel's keys are BERT's: hf_bert_config asks when the tensors look like RoBERTa's


def _strip_prefix(state_dict: dict[str, torch.Tensor], family: str = "bert") -> dict[str, torch.Tensor]:
    """``family``'s keys renamed to BERT's, without a task model's prefix."""
    prefix, renames = FAMILIES[family]
    renamed = {}
    for key, value in state_dict.items():
        key = key.removeprefix(prefix)
        # Old TF-converted checkpoints name LayerNorm parameters gamma/beta.
        key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", key)
        key = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key)
        for pattern, replacement in renames:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value
    return renamed


def hf_bert_config(hf_config: dict | None, state_dict: dict[str, torch.Tensor], known: dict | None = None) -> dict:
    """ModelConfig fields from config.json (when given) and the tensors; ``known``: what the user states (``heads``,
    ``pad_token_id``, ``position_offset``) for what a bare state dict does not store.

    The tensors do not store the head count: it comes from config.json's num_attention_heads (DistilBERT: n_heads)
    or ``heads=`` (BERT-base has heads of 64, but MiniLM-L6-H384 has 12 heads of 32: no width tells it). Nor do they
    store RoBERTa's padding id, after which its positions count."""
    known = known or {}
    heads = known.get("heads")
    family = family_of(hf_config, state_dict)
    sd = _strip_prefix(state_dict, family)
    layers = sorted({int(m.group(1)) for k in sd if (m := re.match(r"encoder\.layer\.(\d+)\.attention\.self\.query\.weight$", k))})
    if not layers or "embeddings.word_embeddings.weight" not in sd:
        sample = ", ".join(list(state_dict)[:5])
        raise WeightsMismatchError(f"a {family} state dict needs word embeddings and attention layers; found none (first keys: {sample})")
    dim = sd["encoder.layer.0.attention.self.query.weight"].shape[0]
    vocab_size, width = sd["embeddings.word_embeddings.weight"].shape
    token_types = sd.get("embeddings.token_type_embeddings.weight")
    classifier = sd.get("classifier.weight")
    fields = dict(
        modality="text",
        dim=dim,
        depth=len(layers),
        heads=heads or 0,
        mlp_ratio=sd["encoder.layer.0.intermediate.dense.weight"].shape[0] / dim,
        pre_norm=False,
        ln_eps=1e-12,
        qkv_bias="encoder.layer.0.attention.self.query.bias" in sd,
        act="gelu",
        pool="cls",
        head_pooler="pooler.dense.weight" in sd,
        pooler_act=POOLER_ACTIVATIONS[family],
        num_classes=classifier.shape[0] if classifier is not None else 0,
        vocab_size=vocab_size,
        max_len=sd["embeddings.position_embeddings.weight"].shape[0],
        type_vocab_size=token_types.shape[0] if token_types is not None else 0,
        embed_dim=width if width != dim else None,
    )
    if hf_config is None:
        if not heads:
            raise AmbiguousWeightsError(
                f"a {family} state dict without config.json does not say how many attention heads its width {dim} is split into; "
                f"pass heads= (one of {head_counts(dim)}; BERT sizes use {dim // 64 if dim % 64 == 0 else 'width/64'}), "
                "or load the whole Hugging Face folder"
            )
        return {**fields, **_bare_positions(family, fields, known)}
    if hf_config.get("is_decoder") or hf_config.get("add_cross_attention"):
        raise WeightsError(f"this {family} is a decoder (is_decoder / add_cross_attention: causal or cross attention); vit_bert's "
                           "encoder attends to every token both ways, so it would compute something else")
    if hf_config.get("position_embedding_type", "absolute") != "absolute":
        raise WeightsError(f"position_embedding_type {hf_config['position_embedding_type']!r} is not supported; expected 'absolute'")
    hf = _bert_names(hf_config) if family == "distilbert" else hf_config
    act = hf.get("hidden_act", "gelu")
    if act not in HF_ACTIVATIONS:
        raise WeightsError(f"hidden_act {act!r} is not supported; expected one of {sorted(HF_ACTIVATIONS)}")
    if family == "electra" and "cls.predictions.transform.dense.weight" in sd and HF_ACTIVATIONS[act] != "gelu":
        raise WeightsError(f"ELECTRA's generator head uses GELU whatever hidden_act says ({act!r}); vit_bert's masked-token head "
                           "uses the encoder's activation, so it cannot compute this one: load it with head='classifier'")
    hidden_dropout = hf.get("hidden_dropout_prob", 0.1)
    classifier_dropout = hf.get("classifier_dropout")
    pad_token_id = hf.get("pad_token_id") or 0
    fields.update(
        heads=heads or hf["num_attention_heads"],
        ln_eps=float(hf.get("layer_norm_eps", 1e-12)),
        act=HF_ACTIVATIONS[act],
        dropout=hidden_dropout,
        attn_dropout=hf.get("attention_probs_dropout_prob", 0.1),
        head_dropout=hidden_dropout if classifier_dropout is None else classifier_dropout,
        pad_token_id=pad_token_id,
        position_offset=pad_token_id + 1 if family == "roberta" else 0,  # RoBERTa's positions count from after the padding id
    )
    return fields


def _bare_positions(family: str, fields: dict, known: dict) -> dict:
    """pad_token_id / position_offset of a state dict without config.json: RoBERTa's positions start after its padding
    id, which no tensor stores; a BERT's keys with one token type are a RobertaModel's layout too."""
    if family == "roberta":
        if "pad_token_id" not in known:
            raise AmbiguousWeightsError("a roberta state dict without config.json does not say its padding id, after which its positions "
                                        "count; pass pad_token_id= (1 in RoBERTa's checkpoints), or load the Hugging Face folder")
        return {"pad_token_id": known["pad_token_id"], "position_offset": known["pad_token_id"] + 1}
    if fields["type_vocab_size"] == 1 and "position_offset" not in known:
        raise AmbiguousWeightsError("these BERT keys with one token type may be a RobertaModel's, whose positions count from "
                                    "pad_token_id + 1; pass position_offset=2, pad_token_id=1 for RoBERTa's checkpoints or "
                                    "position_offset=0 for a BERT, or load the Hugging Face folder with its config.json")
    return {}


def _bert_names(distilbert: dict) -> dict:
    """DistilBERT's config.json with BERT's names for the same settings."""
    return {
        "num_attention_heads": distilbert.get("n_heads"), "hidden_act": distilbert.get("activation", "gelu"),
        "hidden_dropout_prob": distilbert.get("dropout", 0.1), "attention_probs_dropout_prob": distilbert.get("attention_dropout", 0.1),
        "classifier_dropout": distilbert.get("seq_classif_dropout"), "pad_token_id": distilbert.get("pad_token_id", 0),
    }


def hf_bert_to_vit_bert(state_dict: dict[str, torch.Tensor], hf_config: dict | None = None) -> dict[str, torch.Tensor]:
    """Rename HF keys to vit_bert's and fuse Q, K, V; unknown keys pass through (the loader reports them)."""
    sd = _strip_prefix(state_dict, family_of(hf_config, state_dict))
    decoder = sd.get("cls.predictions.decoder.weight")
    if decoder is not None and not torch.equal(decoder, sd["embeddings.word_embeddings.weight"]):
        raise WeightsError("the masked-token decoder is not tied to the word embeddings; vit_bert's MLM head is always tied, as BERT's")
    out = {}
    for key, value in sd.items():
        if key in _IGNORED or key.startswith(_IGNORED_PREFIXES):
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
