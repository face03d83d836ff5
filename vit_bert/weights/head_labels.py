"""The class names of a pretrained head: what its timm pretrained_cfg or its Hugging Face config.json says it learned.

    timm_class_names(cfg, num_classes)       -> num_classes names, or None where nothing names them
    hf_class_names(hf_config, num_classes)   -> config.json's id2label in index order, or None (no head, no id2label)
    check_single_label(hf_config, num_classes) raises WeightsError for a regression or multi-label head
    foreign_head(hf_config)                  -> the architecture ("BertForTokenClassification") whose head vit_bert
                                                has no counterpart for, or None

timm, in order: the ``label_names`` a Hub config carries (a list, or a dict of index -> name); timm's ImageNet-1k
descriptions ("goldfish, Carassius auratus", as Hugging Face's id2label reads) when the head has 1000 classes and the
cfg's tag says it was trained on ImageNet-1k (``..._in1k``, e.g. ``augreg2_in21k_ft_in1k``); else None. A head count
alone is never taken as the dataset (timm's own ``infer_imagenet_subset`` guesses from it).
Hugging Face: ``id2label`` as transformers' pipelines read it ("POSITIVE", or its placeholder "LABEL_1").
"""

from __future__ import annotations

import re

from timm.data import ImageNetInfo

from ..errors import WeightsError

IN1K_TAG = re.compile(r"(^|_)in1k$")


def _in_index_order(labels: list | dict, num_classes: int, field: str) -> list[str]:
    """A list, or a dict of index (int or its string) -> name, as num_classes names."""
    if isinstance(labels, dict):
        labels = [labels[key] for key in sorted(labels, key=int)]
    if len(labels) != num_classes:
        raise WeightsError(f"the config's {field} holds {len(labels)} names, but the head has {num_classes} classes; "
                           "expected one name a class")
    return [str(label) for label in labels]


def timm_class_names(cfg: dict, num_classes: int) -> list[str] | None:
    labels = cfg.get("label_names")
    if labels is not None:
        return _in_index_order(labels, num_classes, "label_names")
    if num_classes == 1000 and IN1K_TAG.search(str(cfg.get("tag") or "")):
        return ImageNetInfo("imagenet-1k").label_descriptions()
    return None


def hf_class_names(hf_config: dict | None, num_classes: int) -> list[str] | None:
    labels = (hf_config or {}).get("id2label")
    if not num_classes or not labels:
        return None
    return _in_index_order(labels, num_classes, "id2label")


def check_single_label(hf_config: dict | None, num_classes: int) -> None:
    """vit_bert's classifier picks one label of several (softmax, cross-entropy, predict's probability); a Hugging Face
    head trained for another problem_type (transformers takes one output as regression) would be read wrong."""
    if not num_classes:
        return
    problem = (hf_config or {}).get("problem_type") or ("regression" if num_classes == 1 else "single_label_classification")
    if problem != "single_label_classification":
        raise WeightsError(f"this is a {problem} head ({num_classes} output{'s' * (num_classes > 1)}); vit_bert's classifier picks one "
                           "label of several with a softmax. Pass num_classes=0 for the encoder's features, or num_classes=N "
                           "for a new classifier")


# transformers' task heads that read every token (or pairs of choices), not one vector a sequence
FOREIGN_HEADS = {"ForTokenClassification": "labels each token", "ForQuestionAnswering": "marks an answer span's start and end",
                 "ForMultipleChoice": "scores each of several choices"}


def foreign_head(hf_config: dict | None) -> str | None:
    architecture = ((hf_config or {}).get("architectures") or [""])[0]
    return architecture if architecture.endswith(tuple(FOREIGN_HEADS)) else None


def foreign_head_error(architecture: str) -> WeightsError:
    what = next(what for suffix, what in FOREIGN_HEADS.items() if architecture.endswith(suffix))
    return WeightsError(f"these are {architecture} weights, whose head {what}; vit_bert's heads classify whole sequences or predict masked "
                        "tokens. Pass num_classes=0 for the encoder's features, or num_classes=N for a new sequence classifier")
