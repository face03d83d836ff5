"""Hugging Face text folders and state dicts (BERT, RoBERTa, ELECTRA, DistilBERT: ``hf_bert``; ModernBERT:
``hf_modernbert``) -> ``Pretrained``, with the head policy and the folder's tokenizer.

    read_bert(source), read_modernbert(source)
A per-token, span or choice head (``...ForTokenClassification`` ...) has no vit_bert counterpart: under
``head="keep"`` it stops, under ``"replace"`` only the encoder is read. A kept classifier must be single-label.
"""

from __future__ import annotations

import torch

from ..tokenizer import load_tokenizer, tokenizer_file_in
from .head_labels import check_single_label, foreign_head, foreign_head_error, hf_class_names
from .hf_bert import FAMILIES as BERT_TYPES, hf_bert_config, hf_bert_to_vit_bert, is_hf_bert
from .hf_modernbert import is_modernbert, modernbert_config, modernbert_to_vit_bert
from .pretrained import Pretrained, Source
from .timm_read import is_timm_hub_config
from .timm_vit import is_timm_vit


def is_modernbert_source(source: Source) -> bool:
    return source.model_type == "modernbert" or (source.model_type is None and is_modernbert(source.state_dict))


def is_bert_source(source: Source) -> bool:
    """A BERT-family model_type, or a config.json naming none (transformers' oldest BERT folders) or no config.json over
    BERT-family keys."""
    if source.model_type is not None:
        return source.model_type in BERT_TYPES
    sd = source.state_dict
    if is_timm_vit(sd) or is_modernbert(sd) or is_timm_hub_config(source.config):
        return False
    return source.config is not None or is_hf_bert(sd)


def read_bert(source: Source) -> Pretrained:
    sd = source.state_dict
    return _with_head(source, hf_bert_config(source.config, sd, source.known), hf_bert_to_vit_bert(sd, source.config))


def read_modernbert(source: Source) -> Pretrained:
    sd = source.state_dict
    return _with_head(source, modernbert_config(source.config, sd), modernbert_to_vit_bert(sd))


def _with_head(source: Source, config: dict, weights: dict[str, torch.Tensor]) -> Pretrained:
    foreign = foreign_head(source.config)
    if foreign:  # a per-token, span or choice head: only the encoder is read
        if source.head == "keep":
            raise foreign_head_error(foreign)
        weights = {k: v for k, v in weights.items() if k.startswith(("frontend.", "encoder."))}
        config = {**config, "num_classes": 0, "head_pooler": False}
    elif source.head == "keep":
        check_single_label(source.config, config["num_classes"])
    pretrained = Pretrained(config, weights, hf_class_names(source.config, config["num_classes"]))
    if source.directory is not None:
        found = tokenizer_file_in(source.directory)
        pretrained.tokenizer = load_tokenizer(found) if found is not None else None
    return pretrained
