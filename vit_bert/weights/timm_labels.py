"""The class names of a timm model's head: what its pretrained_cfg (or a Hub folder's config.json) says it learned.

    head_class_names(cfg, num_classes) -> num_classes names, or None where nothing names them

In order: the ``label_names`` a Hub config carries (a list, or a dict of index -> name); timm's ImageNet-1k
descriptions ("goldfish, Carassius auratus", as Hugging Face's id2label reads) when the head has 1000 classes and the
cfg's tag says it was trained on ImageNet-1k (``..._in1k``, e.g. ``augreg2_in21k_ft_in1k``); else None. A head count
alone is never taken as the dataset (timm's own ``infer_imagenet_subset`` guesses from it).
"""

from __future__ import annotations

import re

from timm.data import ImageNetInfo

from ..errors import WeightsError

IN1K_TAG = re.compile(r"(^|_)in1k$")


def head_class_names(cfg: dict, num_classes: int) -> list[str] | None:
    labels = cfg.get("label_names")
    if isinstance(labels, dict):
        labels = [labels[key] for key in sorted(labels, key=int)]
    if labels is not None:
        if len(labels) != num_classes:
            raise WeightsError(f"the config's label_names holds {len(labels)} names, but the head has {num_classes} classes; "
                               "expected one name a class")
        return [str(label) for label in labels]
    if num_classes == 1000 and IN1K_TAG.search(str(cfg.get("tag") or "")):
        return ImageNetInfo("imagenet-1k").label_descriptions()
    return None
