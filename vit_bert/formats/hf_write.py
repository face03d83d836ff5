"""vit_bert models -> a Hugging Face transformers folder that ``AutoModel.from_pretrained`` (and the task class its
config.json names) loads, computing the same function: config.json (with ``id2label``), model.safetensors in the Hub's
key names, the tokenizer (tokenizer.json with its [CLS] ... [SEP] template, tokenizer_config.json) or the image
processor (preprocessor_config.json).

    save_transformers(model, directory) -> directory
    transformers_folder(model)          -> (config.json dict, state dict in the Hub's keys): the first of ``WRITERS``
                                           whose architecture computes the model
Writers (each the inverse of its reader):
    BERT        post-norm, learned positions from 0, tanh pooler (``BertModel``, ``BertForSequenceClassification``, ``BertForMaskedLM``)
    RoBERTa     the same with positions after the padding id (``RobertaModel``, ``RobertaForSequenceClassification``)
    ModernBERT  pre-norm, rotary, GeGLU, no biases (``ModernBertModel``, ``...ForSequenceClassification``, ``...ForMaskedLM``)
    ViT         [CLS], learned positions, pre-norm (``ViTModel``, ``ViTForImageClassification``)
A model no writer's architecture computes stops with one line naming what differs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from einops import rearrange
from safetensors.torch import save_file
from tokenizers import Tokenizer
from tokenizers.processors import TemplateProcessing

from ..config import ModelConfig
from ..errors import ConfigError
from ..tokenizer import special_tokens
from .hf_processor import write_processor

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


def bert_folder(model) -> tuple[dict, dict]:
    config = model.config
    roberta = config.position_offset != 0
    family = "Roberta" if roberta else "Bert"
    wanted = dict(modality="text", pre_norm=False, norm="layernorm", mlp="mlp", learned_positions=True, rope_theta=None, pool="cls",
                  qkv_bias=True, proj_bias=True, mlp_bias=True, norm_bias=True, embed_dim=None, local_window=None, pooler_act="tanh",
                  pooler_norm=False, head_bias=True, k_bias=True)
    if roberta and config.position_offset != config.pad_token_id + 1:
        wanted["position_offset"] = config.pad_token_id + 1
    differs = _differs(config, wanted)
    if config.act not in ACTS:
        differs.append(f"act={config.act!r}")
    if config.head == "pixels" or (config.type_vocab_size == 0):
        differs.append("head='pixels'" if config.head == "pixels" else "type_vocab_size=0 (BERT and RoBERTa have token types)")
    if differs:
        raise _stop(f"{family}Model", differs)
    task = _text_task(config, f"{family}ForSequenceClassification", "the tanh pooler BERT's classifier reads")
    prefix = f"{family.lower()}." if task else ""
    out = {}
    for key, value in model.plain_state_dict().items():
        if not task and key.startswith("head.fc."):  # the classifier left out (see _text_task)
            continue
        layer = key.split(".")
        if key.startswith("encoder.blocks."):
            index, rest = layer[2], ".".join(layer[3:-1])
            kind = layer[-1]
            base = f"{prefix}encoder.layer.{index}."
            if rest == "attn.qkv":
                _split_qkv(out, base + "attention.self.", value, kind, ("query", "key", "value"), config)
            else:
                out[f"{base}{_BERT_LAYER[rest]}.{kind}"] = value
            continue
        new = _rename(key, _BERT_TOP)
        if new is None:
            raise ConfigError(f"this model cannot be written as a transformers {family}Model: {key} has no place in it")
        if roberta and new.startswith(("classifier.", "pooler.dense.")):  # RoBERTa's classification head: its pooler and classifier
            new = new.replace("pooler.dense.", "classifier.dense.") if new.startswith("pooler.") else new.replace("classifier.", "classifier.out_proj.")
        elif roberta and new.startswith("cls.predictions."):
            new = new.replace("cls.predictions.transform.dense.", "lm_head.dense.").replace("cls.predictions.transform.LayerNorm.", "lm_head.layer_norm.")
            new = new.replace("cls.predictions.bias", "lm_head.bias")
        out[new if new.startswith(("classifier.", "cls.", "lm_head.")) else prefix + new] = value
    if roberta and task == "ForSequenceClassification":
        out = {k: v for k, v in out.items() if not k.startswith(f"{prefix}pooler.")}
    hidden = config.mlp_hidden or int(config.dim * config.mlp_ratio)
    hf = {
        "model_type": family.lower(), "architectures": [f"{family}{task or 'Model'}"], "vocab_size": config.vocab_size,
        "hidden_size": config.dim, "num_hidden_layers": config.depth, "num_attention_heads": config.heads, "intermediate_size": hidden,
        "hidden_act": ACTS[config.act], "hidden_dropout_prob": config.dropout, "attention_probs_dropout_prob": config.attn_dropout,
        "max_position_embeddings": config.max_len, "type_vocab_size": config.type_vocab_size, "layer_norm_eps": config.ln_eps,
        "pad_token_id": config.pad_token_id, "classifier_dropout": config.head_dropout, "position_embedding_type": "absolute",
        "tie_word_embeddings": True, **_labels(model, config),
    }
    return hf, out


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


def vit_folder(model) -> tuple[dict, dict]:
    config = model.config
    wanted = dict(modality="image", stem="patch", pre_norm=True, final_norm=True, norm="layernorm", mlp="mlp", class_token=True, dist_token=False,
                  reg_tokens=0, pos_embed="learned", no_embed_class=False, norm_pre=False, layer_scale=None, qk_norm=False, rope_theta=None,
                  pool="cls", fc_norm=False, qkv_bias=True, proj_bias=True, mlp_bias=True, patch_bias=True, head_bias=True, k_bias=True,
                  mlp_norm=False, head="classifier")
    differs = _differs(config, wanted)
    if config.act not in ACTS:
        differs.append(f"act={config.act!r}")
    if config.head_pooler and (config.pooler_act != "tanh" or config.num_classes):
        differs.append("a pooler before the classifier" if config.num_classes else f"pooler_act={config.pooler_act!r} (needs 'tanh')")
    if differs:
        raise ConfigError(f"this model cannot be written as a transformers ViTModel: {', '.join(differs)}; format='timm' writes more ViTs")
    task = "ForImageClassification" if config.num_classes else ""
    prefix = "vit." if task else ""
    layer_names = {"norm1": "layernorm_before", "attn.proj": "attention.output.dense", "norm2": "layernorm_after", "mlp.fc1": "intermediate.dense",
                   "mlp.fc2": "output.dense"}
    top = {"frontend.cls_token": "embeddings.cls_token", "frontend.pos_embed": "embeddings.position_embeddings",
           "frontend.patch_embed.proj.": "embeddings.patch_embeddings.projection.", "encoder.norm.": "layernorm.", "head.pooler.0.": "pooler.dense."}
    out = {}
    for key, value in model.plain_state_dict().items():
        parts = key.split(".")
        if key.startswith("encoder.blocks."):
            base, rest = f"{prefix}encoder.layer.{parts[2]}.", ".".join(parts[3:-1])
            if rest == "attn.qkv":
                _split_qkv(out, base + "attention.attention.", value, parts[-1], ("query", "key", "value"), config)
            else:
                out[f"{base}{layer_names[rest]}.{parts[-1]}"] = value
            continue
        if key.startswith("head.fc."):
            out["classifier." + key.removeprefix("head.fc.")] = value
            continue
        new = _rename(key, top)
        if new is None:
            raise ConfigError(f"this model cannot be written as a transformers ViTModel: {key} has no place in it")
        if key == "frontend.patch_embed.proj.weight":
            value = rearrange(value, "d (p1 p2 c) -> d c p1 p2", p1=config.patch_size, p2=config.patch_size)
        out[prefix + new] = value
    hf = {
        "model_type": "vit", "architectures": [f"ViT{task or 'Model'}"], "hidden_size": config.dim, "num_hidden_layers": config.depth,
        "num_attention_heads": config.heads, "intermediate_size": config.mlp_hidden or int(config.dim * config.mlp_ratio),
        "hidden_act": ACTS[config.act], "hidden_dropout_prob": config.dropout, "attention_probs_dropout_prob": config.attn_dropout,
        "layer_norm_eps": config.ln_eps, "image_size": config.img_size, "patch_size": config.patch_size, "num_channels": config.in_chans,
        "qkv_bias": True, "pooler_act": "tanh", "pooler_output_size": config.dim, **_labels(model, config),
    }
    return hf, out


WRITERS = {"text": (bert_folder, modernbert_folder), "image": (vit_folder,)}


def transformers_folder(model) -> tuple[dict, dict]:
    """The first writer whose architecture computes the model; none: one line with each one's reasons."""
    reasons = []
    for writer in WRITERS[model.config.modality]:
        try:
            return writer(model)
        except ConfigError as err:
            reasons.append(str(err).removeprefix("this model cannot be written as a transformers "))
    raise ConfigError(f"this model cannot be written as a transformers model: {'; or as '.join(reasons)}")


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
