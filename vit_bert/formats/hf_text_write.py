"""vit_bert text models -> transformers folders' config.json and state dict (the Hub's key names): BERT, RoBERTa, ELECTRA,
DistilBERT (``bert_folder``; the family from the model's settings, ``bert_family``) and ModernBERT (``modernbert_folder``).
Each -> (config.json dict, state dict), or a ConfigError naming what the family's classes cannot compute.
"""

from __future__ import annotations

from ..config import ModelConfig
from ..errors import ConfigError
from .hf_common import ACTS, fields_that_differ, labels, log, rename, split_qkv, stop
from .hf_text_keys import POOLER_ACTIVATIONS, to_family_keys

_BERT_LAYER = {"attn.proj": "attention.output.dense", "norm1": "attention.output.LayerNorm", "mlp.fc1": "intermediate.dense",
               "mlp.fc2": "output.dense", "norm2": "output.LayerNorm"}
_BERT_TOP = {"frontend.word_embeddings.": "embeddings.word_embeddings.", "frontend.position_embeddings.": "embeddings.position_embeddings.",
             "frontend.token_type_embeddings.": "embeddings.token_type_embeddings.", "frontend.norm.": "embeddings.LayerNorm.",
             "head.pooler.0.": "pooler.dense.", "head.fc.": "classifier.", "head.dense.": "cls.predictions.transform.dense.",
             "head.norm.": "cls.predictions.transform.LayerNorm.", "head.bias": "cls.predictions.bias"}


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
    differs = fields_that_differ(config, wanted)
    if config.act not in ACTS:
        differs.append(f"act={config.act!r}")
    if family != "distilbert" and config.type_vocab_size == 0:
        differs.append(f"type_vocab_size=0 ({name} has token types)")
    if config.head == "pixels" or (family == "electra" and config.head == "mlm" and config.act != "gelu"):
        differs.append("head='pixels'" if config.head == "pixels" else "a masked-token head of another activation than ELECTRA's GELU")
    if differs:
        raise stop(f"{name}Model", differs)
    task = _text_task(config, f"{name}ForSequenceClassification", f"the {POOLER_ACTIVATIONS[family]} pooler {name}'s classifier reads")
    bert_keys, pooler = {}, {}
    for key, value in model.plain_state_dict().items():
        parts = key.split(".")
        if not task and key.startswith("head.fc."):  # the classifier left out (see _text_task)
            continue
        if key.startswith("encoder.blocks."):
            base, rest = f"encoder.layer.{parts[2]}.", ".".join(parts[3:-1])
            if rest == "attn.qkv":
                split_qkv(bert_keys, base + "attention.self.", value, parts[-1], ("query", "key", "value"), config)
            else:
                bert_keys[f"{base}{_BERT_LAYER[rest]}.{parts[-1]}"] = value
            continue
        new = rename(key, _BERT_TOP) or (key if key.startswith("frontend.project.") else None)
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
              "max_position_embeddings": config.max_len, "pad_token_id": config.pad_token_id, "tie_word_embeddings": True, **labels(model, config)}
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
    differs = fields_that_differ(config, wanted)
    if config.rope_theta is None:
        differs.append("no rotary positions (rope_theta)")
    if config.act not in ACTS:
        differs.append(f"act={config.act!r}")
    if config.head == "pixels" or config.pool not in ("cls", "mean"):
        differs.append(f"pool={config.pool!r}" if config.head != "pixels" else "head='pixels'")
    if differs:
        raise stop("ModernBertModel", differs)
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
        new = rename(key, top)
        if new is not None:
            out[prefix + new] = value
            continue
        new = rename(key, heads)
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
        "global_rope_theta": config.rope_theta, "local_rope_theta": config.rope_local_theta or config.rope_theta, **labels(model, config),
    }
    return hf, out
