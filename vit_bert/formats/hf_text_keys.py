"""The key names of transformers' BERT-architecture families (BERT, RoBERTa, ELECTRA, DistilBERT) in BERT's terms, as data,
read and written both ways.

    FAMILIES[model_type] = (a task model's prefix, renames to BERT's names: (regex, replacement) pairs)
    to_family_keys(bert_keys, model_type) -> the family's names (the renames run backwards)
    POOLER_ACTIVATIONS  the activation after each family's pooler dense layer
"""

from __future__ import annotations

import re

import torch

# RobertaClassificationHead / ElectraClassificationHead: BERT's pooler and classifier under other names.
_CLASSIFICATION_HEAD = ((r"^classifier\.dense\.", "pooler.dense."), (r"^classifier\.out_proj\.", "classifier."))

# model_type -> (the prefix of a task model's encoder keys, key renames to BERT's: regex -> replacement)
FAMILIES = {
    "bert": ("bert.", ()),
    "roberta": ("roberta.", (
        (r"^lm_head\.dense\.", "cls.predictions.transform.dense."),
        (r"^lm_head\.layer_norm\.", "cls.predictions.transform.LayerNorm."),
        (r"^lm_head\.decoder\.", "cls.predictions.decoder."),
        (r"^lm_head\.bias$", "cls.predictions.bias"),
        *_CLASSIFICATION_HEAD,
    )),
    "electra": ("electra.", (
        (r"^embeddings_project\.", "frontend.project."),
        *_CLASSIFICATION_HEAD,
        (r"^generator_predictions\.dense\.", "cls.predictions.transform.dense."),  # ElectraForMaskedLM (the generator)
        (r"^generator_predictions\.LayerNorm\.", "cls.predictions.transform.LayerNorm."),
        (r"^generator_lm_head\.weight$", "cls.predictions.decoder.weight"),
        (r"^generator_lm_head\.bias$", "cls.predictions.bias"),
    )),
    "distilbert": ("distilbert.", (
        (r"^transformer\.layer\.(\d+)\.attention\.q_lin\.", r"encoder.layer.\1.attention.self.query."),
        (r"^transformer\.layer\.(\d+)\.attention\.k_lin\.", r"encoder.layer.\1.attention.self.key."),
        (r"^transformer\.layer\.(\d+)\.attention\.v_lin\.", r"encoder.layer.\1.attention.self.value."),
        (r"^transformer\.layer\.(\d+)\.attention\.out_lin\.", r"encoder.layer.\1.attention.output.dense."),
        (r"^transformer\.layer\.(\d+)\.sa_layer_norm\.", r"encoder.layer.\1.attention.output.LayerNorm."),
        (r"^transformer\.layer\.(\d+)\.ffn\.lin1\.", r"encoder.layer.\1.intermediate.dense."),
        (r"^transformer\.layer\.(\d+)\.ffn\.lin2\.", r"encoder.layer.\1.output.dense."),
        (r"^transformer\.layer\.(\d+)\.output_layer_norm\.", r"encoder.layer.\1.output.LayerNorm."),
        (r"^vocab_transform\.", "cls.predictions.transform.dense."),
        (r"^vocab_layer_norm\.", "cls.predictions.transform.LayerNorm."),
        (r"^vocab_projector\.weight$", "cls.predictions.decoder.weight"),
        (r"^vocab_projector\.bias$", "cls.predictions.bias"),
        (r"^pre_classifier\.", "pooler.dense."),
    )),
}
# The activation after the pooler's dense layer (ELECTRA's authors used GELU, DistilBERT's classifier ReLU)
POOLER_ACTIVATIONS = {"bert": "tanh", "roberta": "tanh", "electra": "gelu", "distilbert": "relu"}


def _backwards(pattern: str, replacement: str) -> tuple[str, str]:
    """A rename (regex -> replacement, at most one ``(\\d+)`` group) the other way."""
    literal = pattern.removeprefix("^").removesuffix("$")
    reverse_pattern = "^" + re.escape(replacement).replace(re.escape("\\1"), r"(\d+)") + ("$" if pattern.endswith("$") else "")
    reverse_replacement = literal.replace(r"(\d+)", "\\1").replace("\\.", ".")
    return reverse_pattern, reverse_replacement


def to_family_keys(bert_keys: dict[str, torch.Tensor], model_type: str) -> dict[str, torch.Tensor]:
    """BERT's names (no task prefix) -> ``model_type``'s, the first rename that matches each key."""
    renames = [_backwards(pattern, replacement) for pattern, replacement in FAMILIES[model_type][1]]
    out = {}
    for key, value in bert_keys.items():
        for pattern, replacement in renames:
            if re.match(pattern, key):
                key = re.sub(pattern, replacement, key)
                break
        out[key] = value
    return out
