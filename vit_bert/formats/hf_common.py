"""What the transformers writers share: activation names, the checks that list what a class cannot compute, labels,
and Q/K/V split from vit_bert's fused projection.

    fields_that_differ(config, wanted) -> ["field=value (needs other)", ...];  stop(architecture, differs) -> the error
    labels(model, config) -> config.json's id2label / label2id;   split_qkv(...) q, k, v rows (a masked key bias as zeros)
    rename(key, table) -> the key renamed by the first entry of ``table`` it is or starts with, or None
"""

from __future__ import annotations

import logging

import torch

from ..config import ModelConfig
from ..errors import ConfigError

log = logging.getLogger("vit_bert.formats")
ACTS = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "quick_gelu": "quick_gelu", "relu": "relu", "silu": "silu"}


def rename(key: str, table: dict[str, str]) -> str | None:
    old = next((name for name in table if key == name or (name.endswith(".") and key.startswith(name))), None)
    return None if old is None else table[old] + key[len(old):]


def fields_that_differ(config: ModelConfig, wanted: dict) -> list[str]:
    return [f"{name}={getattr(config, name)!r} (needs {value!r})" for name, value in wanted.items() if getattr(config, name) != value]


def stop(architecture: str, differs: list[str]) -> ConfigError:
    return ConfigError(f"this model cannot be written as a transformers {architecture}: {', '.join(differs)}")


def labels(model, config: ModelConfig) -> dict:
    if not config.num_classes:
        return {}
    names = model.class_names or [f"LABEL_{i}" for i in range(config.num_classes)]
    return {"id2label": dict(enumerate(names)), "label2id": {name: i for i, name in enumerate(names)}}


def split_qkv(out: dict, prefix: str, value: torch.Tensor, kind: str, names: tuple[str, str, str], config: ModelConfig) -> None:
    q, k, v = value.chunk(3)
    if kind == "bias" and not config.k_bias:
        k = torch.zeros_like(k)
    for name, part in zip(names, (q, k, v)):
        out[f"{prefix}{name}.{kind}"] = part
