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
from pathlib import Path

from safetensors.torch import save_file
from tokenizers import Tokenizer
from tokenizers.processors import TemplateProcessing

from ..errors import ConfigError
from ..tokenizer import special_tokens
from .hf_image_write import clip_folder, dinov2_folder, dinov3_folder, siglip_folder, vit_folder
from .hf_processor import write_processor
from .hf_text_write import bert_folder, modernbert_folder

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
