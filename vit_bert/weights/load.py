"""``load_pretrained(source, **overrides)``: a vit_bert model from weights users already have.

Sources, detected from the files and keys:
    - a vit_bert folder written by ``model.save_pretrained``;
    - a Hugging Face BERT folder (config.json + model.safetensors / pytorch_model.bin, with
      tokenizer.json / vocab.txt) or a BERT state dict;
    - a timm VisionTransformer state dict or file (.pth/.pt/.bin/.safetensors), or a timm hub folder;
    - a checkpoint written by ``train.py`` (.ckpt);
    - a Hugging Face Hub id ("org/name"), downloaded when online.
Overrides are ModelConfig fields: ``num_classes`` re-initialises the classifier, ``img_size``
resamples learned position embeddings, others (dropout, drop_path, grad_checkpointing, ...)
just apply. Loading is all or nothing: any key that does not fit raises WeightsMismatchError
listing missing keys, unexpected keys and disagreeing shapes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from timm.layers import resample_abs_pos_embed
from tokenizers import Tokenizer

from ..config import ModelConfig
from ..model import TransformerClassifier
from .files import load_pickle_safely, read_state_dict
from .hf_bert import hf_bert_config, hf_bert_to_vit_bert, is_hf_bert
from .native import WEIGHTS_FILE, is_native_dir, read_native_dir
from .timm_vit import is_timm_vit, timm_vit_config, timm_vit_to_vit_bert

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "pytorch_model.pth")


class WeightsMismatchError(ValueError):
    """The weights do not fit the model; nothing was loaded."""


@dataclass
class Pretrained:
    """What a source holds, already in vit_bert's key names."""

    config: dict
    state_dict: dict[str, torch.Tensor]
    class_names: list[str] | None = None
    tokenizer: Tokenizer | None = None
    data_info: dict | None = None
    """train.py checkpoints: what the data module told the model (classes, normalisation, max_length)."""


def _from_state_dict(state_dict: dict[str, torch.Tensor], hf_config: dict | None, heads: int | None, where: str) -> Pretrained:
    if is_timm_vit(state_dict):
        return Pretrained(timm_vit_config(state_dict, heads), timm_vit_to_vit_bert(state_dict))
    if is_hf_bert(state_dict):
        return Pretrained(hf_bert_config(hf_config, state_dict, heads), hf_bert_to_vit_bert(state_dict))
    sample = ", ".join(list(state_dict)[:5])
    raise WeightsMismatchError(
        f"{where} is neither a timm VisionTransformer nor a BERT state dict (first keys: {sample}); "
        "expected timm keys (patch_embed.proj.weight, blocks.0...) or BERT keys (embeddings.word_embeddings.weight, encoder.layer.0...)"
    )


def _hf_tokenizer(directory: Path) -> Tokenizer | None:
    from ..data.tokenizer import load_tokenizer, tokenizer_file_in

    found = tokenizer_file_in(directory)
    return load_tokenizer(found) if found is not None else None


def _from_directory(directory: Path, heads: int | None) -> Pretrained:
    if is_native_dir(directory):
        config, class_names, tokenizer = read_native_dir(directory)
        return Pretrained(config, read_state_dict(directory / WEIGHTS_FILE), class_names, tokenizer)
    weights = next((directory / name for name in WEIGHT_FILES if (directory / name).is_file()), None)
    if weights is None:
        raise FileNotFoundError(f"no weights in {directory}: expected one of {', '.join(WEIGHT_FILES)}")
    config_file = directory / "config.json"
    hf_config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else None
    pretrained = _from_state_dict(read_state_dict(weights), hf_config, heads, str(weights))
    if pretrained.config["modality"] == "text":
        pretrained.tokenizer = _hf_tokenizer(directory)
    return pretrained


def _from_training_checkpoint(path: Path) -> Pretrained:
    ckpt = load_pickle_safely(path)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
        raise WeightsMismatchError(f"{path} is not a checkpoint written by train.py (no state_dict/hyper_parameters)")
    config = ckpt.get("vit_bert_model_config")
    if config is None:
        raise WeightsMismatchError(f"{path} holds no vit_bert model config; it was not written by a vit_bert ClassificationTask")
    state_dict = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    tokenizer_json = ckpt.get("TextDataModule", {}).get("tokenizer")
    tokenizer = Tokenizer.from_str(tokenizer_json) if tokenizer_json else None
    data_info = ckpt["hyper_parameters"].get("data_info") or {}
    return Pretrained(config, state_dict, data_info.get("class_names"), tokenizer, data_info)


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download

        patterns = ["config.json", "*.safetensors", "pytorch_model.bin", "vocab.txt", "tokenizer.json"]
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as err:  # offline, unknown repo, or huggingface_hub missing
        raise FileNotFoundError(
            f"{repo_id!r} is not a local file or folder, and downloading it from the Hugging Face Hub failed "
            f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); pass a local folder or weights file"
        ) from None


def read_pretrained(source: str | Path | dict, heads: int | None = None) -> Pretrained:
    """Any supported source -> config fields + state dict in vit_bert's names (nothing built yet)."""
    if isinstance(source, dict):
        return _from_state_dict(source, None, heads, "the state dict")
    path = Path(source)
    if not path.exists():
        if isinstance(source, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", source) and not source.startswith("."):
            path = _download(source)
        else:
            raise FileNotFoundError(f"pretrained source {source} does not exist; expected a weights file, a model folder or a Hub id")
    if path.is_dir():
        return _from_directory(path, heads)
    if path.suffix == ".ckpt":
        return _from_training_checkpoint(path)
    return _from_state_dict(read_state_dict(path), None, heads, str(path))


def _adapt(pretrained: Pretrained, overrides: dict) -> tuple[ModelConfig, dict, set[str]]:
    """Apply overrides to config and weights; returns the keys the model may initialise itself."""
    fields, state_dict = dict(pretrained.config), dict(pretrained.state_dict)
    reinit = set()
    new_classes = overrides.get("num_classes", fields["num_classes"])
    if new_classes != fields["num_classes"] or "head.fc.weight" not in state_dict:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("head.fc.")}
        reinit |= {"head.fc.weight", "head.fc.bias"}
    if overrides.get("head_pooler") and not fields.get("head_pooler"):
        reinit |= {"head.pooler.0.weight", "head.pooler.0.bias"}
    config = ModelConfig.from_dict({**fields, **overrides})
    old = ModelConfig.from_dict(fields)
    if config.modality == "image" and config.img_size != old.img_size and "frontend.pos_embed" in state_dict:
        new_grid = [config.img_size // config.patch_size] * 2
        state_dict["frontend.pos_embed"] = resample_abs_pos_embed(
            state_dict["frontend.pos_embed"], new_size=new_grid, old_size=[old.img_size // old.patch_size] * 2,
            num_prefix_tokens=int(old.class_token),
        )
    return config, state_dict, reinit


def check_weights_fit(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], allowed_missing: set[str] = frozenset()) -> None:
    """Raise WeightsMismatchError naming missing keys, unexpected keys and shape mismatches; load nothing."""
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in state_dict and k not in allowed_missing)
    unexpected = sorted(k for k in state_dict if k not in expected)
    shapes = sorted(
        f"{k}: weights {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state_dict.items() if k in expected and v.shape != expected[k].shape
    )
    if missing or unexpected or shapes:
        parts = [f"{title} ({len(items)}): {', '.join(items[:12])}{' ...' if len(items) > 12 else ''}"
                 for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)) if items]
        raise WeightsMismatchError("the weights do not fit the model; nothing was loaded. " + "; ".join(parts))


def load_weights_strict(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], allowed_missing: set[str] = frozenset()) -> None:
    """Load every tensor or none: raises WeightsMismatchError naming what does not fit."""
    check_weights_fit(model, state_dict, allowed_missing)
    model.load_state_dict(state_dict, strict=False)


def load_pretrained(source: str | Path | dict, **overrides) -> TransformerClassifier:
    """A vit_bert model computing the same function as ``source`` (see the module docstring).

    ``load_pretrained("vit_small_patch16_224.pth", num_classes=10, img_size=32)``;
    ``load_pretrained("path/to/bert_dir", num_classes=2)``. The model carries ``class_names``
    and (text) ``tokenizer`` when the source has them.
    """
    return build_from_pretrained(read_pretrained(source, overrides.get("heads")), **overrides)


def build_from_pretrained(pretrained: Pretrained, **overrides) -> TransformerClassifier:
    """The model for already-read weights, with ModelConfig overrides applied (see ``load_pretrained``)."""
    config, state_dict, reinit = _adapt(pretrained, overrides)
    model = TransformerClassifier(config)
    load_weights_strict(model, state_dict, reinit)
    model.class_names = None if "head.fc.weight" in reinit else pretrained.class_names  # a new head has no names yet
    model.tokenizer = pretrained.tokenizer
    return model
