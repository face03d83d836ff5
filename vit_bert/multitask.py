"""One shared Encoder, several tasks: each task has its front-end (shared by tasks of one modality whose
front-end fields agree) and its own classifier head.

    model = build_multitask(encoder="bert-mini", tasks={
        "digits": {"modality": "image", "img_size": 8, "patch_size": 2, "in_chans": 1, "num_classes": 10},
        "sst2":   {"modality": "text", "vocab_size": 8000, "num_classes": 2}})
    model(images (B, C, H, W), task="digits")                       -> logits (B, 10)
    model(input_ids (B, T), attention_mask=(B, T), task="sst2")     -> logits (B, 2)
    model.task_model("sst2")   a TransformerClassifier over the same tensors (predict, viz, export, save one task)

Each task's ModelConfig is the encoder's fields plus the task's own (front-end and head fields).
The state dict holds every tensor once: ``encoder.*``, ``frontends.<name>.*``, ``heads.<task>.*``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import torch
from torch import nn

from .config import DataContract, ModelConfig
from .errors import ConfigError, InputError
from .folder_format import write_multitask_folder
from .layers import Encoder
from .layers.configs import EncoderConfig, HeadConfig, ImageConfig, TextConfig, field_names
from .model import TransformerClassifier, build_frontend, build_head, init_linear

ENCODER_FIELDS = tuple(field_names(EncoderConfig))
FRONTEND_FIELDS = {"image": tuple(field_names(ImageConfig)), "text": tuple(field_names(TextConfig))}
HEAD_FIELDS = tuple(name for name in field_names(HeadConfig) if name != "head")  # a co-trained task's head is a classifier


def encoder_fields(encoder: str | dict | ModelConfig) -> dict:
    """A preset name, a ModelConfig or a dict of encoder fields -> the encoder fields (dim, depth, heads, ...)."""
    if isinstance(encoder, str):
        encoder = ModelConfig.from_name(encoder)
    if isinstance(encoder, ModelConfig):
        return {name: getattr(encoder, name) for name in ENCODER_FIELDS}
    if not isinstance(encoder, dict):
        raise ConfigError(f"encoder must be a preset name or a dict of encoder fields; got {type(encoder).__name__}")
    unknown = sorted(set(encoder) - set(ENCODER_FIELDS))
    if unknown:
        raise ConfigError(f"encoder has fields {unknown} that do not belong to the encoder; its fields are {', '.join(ENCODER_FIELDS)}")
    return {**{name: getattr(ModelConfig(), name) for name in ENCODER_FIELDS}, **encoder}


def task_configs(encoder: str | dict | ModelConfig, tasks: dict[str, dict]) -> dict[str, ModelConfig]:
    """Each task's ModelConfig: the encoder's fields plus the task's. A task that sets an encoder field
    to another value than the encoder's is an error naming the task and the field."""
    if not isinstance(tasks, dict) or not tasks:
        raise ConfigError("tasks must be a dict of at least one task: {name: {modality, num_classes, ...}}")
    shared = encoder_fields(encoder)
    configs = {}
    for name, fields in tasks.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            raise ConfigError(f"task name {name!r} must be a word (letters, digits, _ and -; no dots or spaces)")
        if not isinstance(fields, dict) or fields.get("modality") not in ("image", "text"):
            raise ConfigError(f"task {name!r} must say its modality: {{'modality': 'image' or 'text', ...}}; got {fields!r}")
        for key in set(fields) & set(ENCODER_FIELDS):
            if fields[key] != shared[key]:
                raise ConfigError(f"task {name!r} sets {key}={fields[key]!r}, but the shared encoder has {key}={shared[key]!r}; "
                                  "the encoder's fields belong to encoder=, once for all tasks")
        allowed = {"modality", *FRONTEND_FIELDS[fields["modality"]], *HEAD_FIELDS, *ENCODER_FIELDS}
        unknown = sorted(set(fields) - allowed)
        if unknown:
            raise ConfigError(f"task {name!r} ({fields['modality']}) has fields {unknown} that are not its front-end's or head's; "
                              f"allowed: {', '.join(sorted(allowed - set(ENCODER_FIELDS)))}")
        base = ModelConfig(modality=fields["modality"])  # unset front-end fields: ModelConfig's defaults
        try:
            configs[name] = dataclasses.replace(base, **{**shared, **fields})
        except (TypeError, ValueError) as err:
            raise ConfigError(f"task {name!r}: {err}") from None
    return configs


def frontend_key(config: ModelConfig) -> tuple:
    return (config.modality, *(getattr(config, name) for name in FRONTEND_FIELDS[config.modality]))


class MultiTaskModel(nn.Module):
    def __init__(self, configs: dict[str, ModelConfig]):
        super().__init__()
        first = next(iter(configs.values()))
        self.task_configs = dict(configs)
        self.encoder = Encoder(first.encoder_config)
        self.frontends = nn.ModuleDict()
        self.frontend_of: dict[str, str] = {}
        owners: dict[tuple, str] = {}
        for name, config in configs.items():
            key = frontend_key(config)
            if key not in owners:  # the first task with these front-end fields owns the front-end
                owners[key] = name
                self.frontends[name] = build_frontend(config)
            self.frontend_of[name] = owners[key]
        self.heads = nn.ModuleDict({name: build_head(config) for name, config in configs.items()})
        self.encoder.apply(init_linear)
        self.heads.apply(init_linear)
        self.data_contracts: dict[str, DataContract] = {}
        self._views: dict[str, TransformerClassifier] = {}

    @property
    def tasks(self) -> list[str]:
        return list(self.task_configs)

    def modality(self, task: str) -> str:
        return self.task_config(task).modality

    def task_config(self, task: str) -> ModelConfig:
        if task not in self.task_configs:
            raise ConfigError(f"unknown task {task!r}; this model has the tasks {', '.join(self.task_configs)}")
        return self.task_configs[task]

    def task_model(self, task: str) -> TransformerClassifier:
        """The single-task model of ``task``: its front-end, the shared encoder and its head, as a
        TransformerClassifier over the same tensors (training one trains the other)."""
        if task not in self._views:
            config = self.task_config(task)
            view = TransformerClassifier(config, frontend=self.frontends[self.frontend_of[task]], encoder=self.encoder, head=self.heads[task])
            view.set_data_contract(self.data_contracts.get(task))
            self._views[task] = view
        view = self._views[task]
        view.train(self.training)
        return view

    def set_data_contract(self, task: str, contract: DataContract) -> None:
        """What ``task``'s data decided (classes, normalisation or tokenizer); its view carries it too."""
        self.task_config(task)
        self.data_contracts[task] = contract
        if task in self._views:
            self._views[task].set_data_contract(contract)

    def check_inputs(self, task: str, inputs: tuple, kwargs: dict) -> None:
        """A batch of the other modality than its task's stops here, with the task's name."""
        modality = self.modality(task)
        first = inputs[0] if inputs else kwargs.get("images", kwargs.get("input_ids"))
        if "images" in kwargs or "input_ids" in kwargs:
            given = "image" if "images" in kwargs else "text"
        elif isinstance(first, torch.Tensor):
            given = "image" if first.is_floating_point() else "text"
        else:
            raise InputError(f"task {task!r} needs a tensor input; got {type(first).__name__}")
        if given != modality:
            what = "images (B, C, H, W) float" if modality == "image" else "input_ids (B, T) int64 with attention_mask"
            raise InputError(f"task {task!r} reads {modality}, but the batch is {given}; give it {what}, or choose a {given} task "
                             f"({', '.join(t for t in self.tasks if self.modality(t) == given) or 'this model has none'})")

    def forward(self, *inputs, task: str, return_attention: bool = False, **kwargs):
        """Logits (B, num_classes of ``task``); ``return_attention=True`` also returns the attention weights."""
        view = self.task_model(task)
        self.check_inputs(task, inputs, kwargs)
        return view(*inputs, return_attention=return_attention, **kwargs)

    def save_pretrained(self, directory: str | Path, *, format: str = "vit_bert") -> Path:
        """config.json + model.safetensors (+ one tokenizer per text task); ``vit_bert.load_pretrained(directory)`` reads it back.
        Only vit_bert's format holds a co-trained model: timm's and transformers' hold one model each."""
        if format != "vit_bert":
            raise ConfigError(f"format={format!r}: a co-trained model (one encoder, tasks {', '.join(self.tasks)}) has no {format} form, "
                              f"which holds one model; write one task: model.task_model(name).save_pretrained(dir, format={format!r})")
        return write_multitask_folder(directory, self.task_configs, self.state_dict(), self.data_contracts)


def build_multitask(encoder: str | dict | ModelConfig = "bert-mini", tasks: dict[str, dict] | None = None) -> MultiTaskModel:
    """One shared Encoder (a preset name or a dict of encoder fields) and a front-end and head per task."""
    return MultiTaskModel(task_configs(encoder, tasks or {}))
