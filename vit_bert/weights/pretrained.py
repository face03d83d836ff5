"""What a weights source holds, read into vit_bert's key names before anything is built.

    Pretrained        one model: ModelConfig fields, a state dict in vit_bert's keys, and what the source says of its
                      head and data (class names, tokenizer, data contract)
    PretrainedTasks   a co-trained model: the shared state dict, and each task's ModelConfig fields and data contract
    Source            what a family's reader is given: the tensors as stored, config.json, the folder, the fields the
                      user states and the head policy
    HEAD_POLICIES     "keep": the source's head is part of the model and must mean what vit_bert's head computes (a
                      per-token head, a regression or multi-label head stops); "replace": only the encoder must be
                      readable (the caller sets the head: a new classifier, a pretraining head, or none), and a head
                      vit_bert has no counterpart for is left out
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer

from ..config import DataContract
from ..errors import ConfigError

HEAD_POLICIES = ("keep", "replace")


@dataclass
class Pretrained:
    """One model's weights, already in vit_bert's key names."""

    config: dict
    state_dict: dict[str, torch.Tensor]
    class_names: list[str] | None = None
    tokenizer: Tokenizer | None = None
    data_contract: DataContract | None = None
    """vit_bert folders, train.py checkpoints, timm models and HF image folders: how the data is read (classes, normalisation,
    crop, max_length, tokenizer)."""
    pos_embed_antialias: bool = True
    """How a position table is resampled to another image size, as its source does: timm's bicubic with antialiasing
    (PIL's kernel), or transformers' plain bicubic (False)."""


@dataclass
class PretrainedTasks:
    """A multi-task model (one shared encoder): its state dict and task -> (ModelConfig fields, data contract)."""

    state_dict: dict[str, torch.Tensor]
    tasks: dict[str, tuple[dict, DataContract | None]]


@dataclass
class Source:
    """Weights a family reads: ``state_dict`` as stored, ``config`` its config.json (None for a bare state dict),
    ``directory`` the folder holding them (tokenizer, preprocessor_config.json), ``known`` the ModelConfig fields the user
    states (for what the tensors do not store), ``head`` one of ``HEAD_POLICIES``, ``where`` its name in messages."""

    state_dict: dict[str, torch.Tensor]
    config: dict | None = None
    directory: Path | None = None
    known: dict = field(default_factory=dict)
    head: str = "keep"
    where: str = "the state dict"

    def __post_init__(self):
        if self.head not in HEAD_POLICIES:
            raise ConfigError(f"head policy {self.head!r}: expected one of {', '.join(HEAD_POLICIES)}")

    @property
    def model_type(self) -> str | None:
        """config.json's ``model_type`` (a Hugging Face folder), or None."""
        value = (self.config or {}).get("model_type")
        return value if isinstance(value, str) else None
