"""vit_bert's own folder format: a model can be rebuilt from it, and no code runs from it.

    <dir>/config.json        {"model_type": "vit_bert", "vit_bert_version", "config": ModelConfig fields,
                              "class_names": [...] | null, "data": DataContract fields (no tokenizer) | null}
    <dir>/model.safetensors  the state dict
    <dir>/tokenizer.json     text models: the tokenizer the model was trained with

A multi-task model (one shared encoder, ``multitask.py``) writes one config.json whose "tasks" maps
each task to its "config" and "data", one model.safetensors, and tokenizer.<task>.json per text task.

``write_folder`` writes one, ``read_folder`` reads its metadata (the weights file is read by ``weights``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

from .json_file import read_json_object
from ._version import __version__
from .config import DataContract, ModelConfig
from .errors import ConfigError
from .tokenizer import load_tokenizer

MODEL_TYPE = "vit_bert"
CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "config.json", "model.safetensors", "tokenizer.json"


@dataclass
class FolderMeta:
    config: dict
    class_names: list[str] | None
    data_contract: DataContract | None
    tokenizer: Tokenizer | None


def is_native_dir(path: Path) -> bool:
    config = path / CONFIG_FILE
    return config.is_file() and read_json_object(config).get("model_type") == MODEL_TYPE


def write_folder(
    directory: str | Path,
    config: ModelConfig,
    state_dict: dict[str, torch.Tensor],
    contract: DataContract | None,
    tokenizer: Tokenizer | str | Path | None,
    class_names: list[str] | None,
) -> Path:
    """Write config.json + model.safetensors (+ tokenizer.json) into ``directory``; returns it."""
    directory = Path(directory)
    if class_names is not None and len(class_names) != config.num_classes:
        raise ConfigError(f"{len(class_names)} class names given for a model with num_classes={config.num_classes}")
    directory.mkdir(parents=True, exist_ok=True)
    data = None
    if contract is not None:
        data = {k: v for k, v in contract.to_dict().items() if k != "tokenizer"}  # the tokenizer has its own file
        tokenizer = tokenizer if tokenizer is not None else contract.load_tokenizer()
    meta = {"model_type": MODEL_TYPE, "vit_bert_version": __version__, "config": config.to_dict(), "class_names": class_names, "data": data}
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    save_file({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, directory / WEIGHTS_FILE)
    if tokenizer is not None:
        tokenizer = tokenizer if isinstance(tokenizer, Tokenizer) else load_tokenizer(tokenizer)
        tokenizer.save(str(directory / TOKENIZER_FILE))
    return directory


def read_folder(path: Path) -> FolderMeta:
    meta = read_json_object(path / CONFIG_FILE)
    tokenizer_file = path / TOKENIZER_FILE
    tokenizer = Tokenizer.from_file(str(tokenizer_file)) if tokenizer_file.is_file() else None
    contract = None
    if meta.get("data") is not None:
        contract = DataContract.from_dict({**meta["data"], "tokenizer": tokenizer.to_str() if tokenizer is not None else None})
    return FolderMeta(meta["config"], meta.get("class_names"), contract, tokenizer)


def _data_without_tokenizer(contract: DataContract | None) -> dict | None:
    return None if contract is None else {k: v for k, v in contract.to_dict().items() if k != "tokenizer"}


def write_multitask_folder(
    directory: str | Path, configs: dict[str, ModelConfig], state_dict: dict[str, torch.Tensor], contracts: dict[str, DataContract]
) -> Path:
    """config.json ("tasks": {task: {"config", "data"}}) + model.safetensors + tokenizer.<task>.json per text task."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tasks = {name: {"config": config.to_dict(), "data": _data_without_tokenizer(contracts.get(name))} for name, config in configs.items()}
    meta = {"model_type": MODEL_TYPE, "vit_bert_version": __version__, "tasks": tasks}
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    save_file({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, directory / WEIGHTS_FILE)
    for name, contract in contracts.items():
        if contract.tokenizer is not None:
            contract.load_tokenizer().save(str(directory / f"tokenizer.{name}.json"))
    return directory


def is_multitask_dir(path: Path) -> bool:
    return is_native_dir(path) and "tasks" in read_json_object(path / CONFIG_FILE)


def read_multitask_folder(path: Path) -> dict[str, tuple[dict, DataContract | None]]:
    """task -> (ModelConfig fields, data contract with its tokenizer, or None)."""
    tasks = read_json_object(path / CONFIG_FILE)["tasks"]
    read = {}
    for name, entry in tasks.items():
        contract = None
        if entry.get("data") is not None:
            tokenizer_file = path / f"tokenizer.{name}.json"
            if entry["data"]["modality"] == "text" and not tokenizer_file.is_file():
                raise ConfigError(f"text task {name!r} of {path} has no tokenizer: {tokenizer_file.name} is missing")
            tokenizer = tokenizer_file.read_text(encoding="utf-8") if tokenizer_file.is_file() else None
            contract = DataContract.from_dict({**entry["data"], "tokenizer": tokenizer})
        read[name] = (entry["config"], contract)
    return read
