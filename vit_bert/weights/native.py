"""vit_bert's own format: a folder a model can be rebuilt from, with no code in it.

    <dir>/config.json        {"model_type": "vit_bert", "config": ModelConfig fields, "class_names": [...] | null}
    <dir>/model.safetensors  the state dict
    <dir>/tokenizer.json     text models: the tokenizer the model was trained with
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file
from tokenizers import Tokenizer

from .. import __version__

MODEL_TYPE = "vit_bert"
CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "config.json", "model.safetensors", "tokenizer.json"


def is_native_dir(path: Path) -> bool:
    config = path / CONFIG_FILE
    return config.is_file() and json.loads(config.read_text(encoding="utf-8")).get("model_type") == MODEL_TYPE


def save_pretrained(model, directory: str | Path, tokenizer: Tokenizer | str | Path | None = None, class_names: list[str] | None = None) -> Path:
    """Write config.json + model.safetensors (+ tokenizer.json) into ``directory``; returns it.

    ``tokenizer`` and ``class_names`` default to the ones the model carries (set by ``load_pretrained``)."""
    from ..data.tokenizer import load_tokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    class_names = class_names if class_names is not None else getattr(model, "class_names", None)
    if class_names is not None and len(class_names) != model.config.num_classes:
        raise ValueError(f"{len(class_names)} class names given for a model with num_classes={model.config.num_classes}")
    meta = {"model_type": MODEL_TYPE, "vit_bert_version": __version__, "config": model.config.to_dict(), "class_names": class_names}
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, directory / WEIGHTS_FILE)
    if tokenizer is not None:
        tokenizer = tokenizer if isinstance(tokenizer, Tokenizer) else load_tokenizer(tokenizer)
        tokenizer.save(str(directory / TOKENIZER_FILE))
    return directory


def read_native_dir(path: Path) -> tuple[dict, list[str] | None, Tokenizer | None]:
    """-> (ModelConfig fields, class names, tokenizer or None)."""
    meta = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    tokenizer_file = path / TOKENIZER_FILE
    tokenizer = Tokenizer.from_file(str(tokenizer_file)) if tokenizer_file.is_file() else None
    return meta["config"], meta.get("class_names"), tokenizer
