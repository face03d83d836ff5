"""``load_pretrained(source, **overrides)``: a vit_bert model from weights users already have.

Sources, detected from the object, the files and the keys:
    - a vit_bert folder written by ``model.save_pretrained`` (with its data contract);
    - a checkpoint written by ``train.py`` (.ckpt, with its data contract);
    - a folder or state dict of one of the families in ``families.FAMILIES``: Hugging Face BERT, RoBERTa, ELECTRA,
      DistilBERT, ModernBERT (config.json + model.safetensors / pytorch_model.bin, with tokenizer.json / vocab.txt; a bare
      BERT state dict needs ``heads=``), Hugging Face ViT, DeiT, DINOv2, CLIP and SigLIP vision, DINOv3 (with
      preprocessor_config.json as the data contract), and timm VisionTransformer or Eva (EVA-02, DINOv3: a timm Hub folder,
      or a state dict / file (.pth/.pt/.bin/.safetensors) whose head count and rotary settings are looked up, ``timm_vit``);
    - a timm model object, or its timm name (weights downloaded by timm);
    - a Hugging Face Hub id ("org/name"), downloaded when online.
Overrides are ModelConfig fields: ``num_classes`` re-initialises the classifier, ``img_size`` resamples learned position
embeddings (as the source's library does), others (dropout, drop_path, grad_checkpointing, ...) just apply. The head
policy (``pretrained.HEAD_POLICIES``) is explicit: ``head_policy(overrides)`` keeps the source's head unless the
overrides ask for another. Loading is all or nothing: any key that does not fit raises WeightsMismatchError listing
missing keys, unexpected keys and disagreeing shapes.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import timm
import torch
from timm.layers import resample_abs_pos_embed

from ..checkpoint_format import checkpoint_contract, is_multitask, model_config, model_state_dict, task_entries
from ..config import ModelConfig
from ..errors import ConfigError, SourceNotFoundError, WeightsMismatchError
from ..folder_format import WEIGHTS_FILE, is_multitask_dir, is_native_dir, read_folder, read_multitask_folder
from ..json_file import read_json_object
from ..layers.lora import merged_state_dict
from ..model import TransformerClassifier, build_head
from ..multitask import MultiTaskModel
from ..tokenizer import TOKENIZER_FILES
from .families import family_of
from .files import load_pickle_safely, read_state_dict
from .pretrained import Pretrained, PretrainedTasks, Source
from .strict import check_weights_fit, load_weights_strict
from .timm_read import read_timm_model, read_timm_name

__all__ = ["Pretrained", "PretrainedTasks", "build_from_pretrained", "build_multitask_from_pretrained", "check_weights_fit",
           "head_policy", "load_pretrained", "load_weights_strict", "read_pretrained", "single_model"]

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "pytorch_model.pth")
WEIGHT_SUFFIXES = (".ckpt", ".pth", ".pt", ".bin", ".safetensors")


def _read_source(source: Source) -> Pretrained:
    return family_of(source).read(source)


def _from_directory(directory: Path, known: dict, head: str) -> Pretrained | PretrainedTasks:
    if is_multitask_dir(directory):
        return PretrainedTasks(read_state_dict(directory / WEIGHTS_FILE), read_multitask_folder(directory))
    if is_native_dir(directory):
        meta = read_folder(directory)
        return Pretrained(meta.config, read_state_dict(directory / WEIGHTS_FILE), meta.class_names, meta.tokenizer, meta.data_contract)
    weights = next((directory / name for name in WEIGHT_FILES if (directory / name).is_file()), None)
    if weights is None:
        raise SourceNotFoundError(f"no weights in {directory}: expected one of {', '.join(WEIGHT_FILES)}")
    config_file = directory / "config.json"
    config = read_json_object(config_file) if config_file.is_file() else None
    return _read_source(Source(read_state_dict(weights), config, directory, known, head, str(weights)))


def _from_training_checkpoint(path: Path) -> Pretrained | PretrainedTasks:
    ckpt = load_pickle_safely(path)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise WeightsMismatchError(f"{path} is not a checkpoint written by train.py (no state_dict)")
    config = model_config(ckpt)
    if config is None and not is_multitask(ckpt):
        raise WeightsMismatchError(f"{path} holds no vit_bert model config; it was not written by a vit_bert ClassificationTask")
    if config is not None:  # every field: one missing (a checkpoint from before it existed) takes its default
        if not isinstance(config, dict):
            raise WeightsMismatchError(f"{path} holds a vit_bert model config that is a {type(config).__name__}, not a mapping")
        config = ModelConfig.from_dict(config).to_dict()
    # LoRA adapters folded into plain weights: the checkpoint holds them apart, for resuming
    state_dict = merged_state_dict(model_state_dict(ckpt))
    if is_multitask(ckpt):
        return PretrainedTasks(state_dict, task_entries(ckpt))
    contract = checkpoint_contract(ckpt)
    if contract is None:
        return Pretrained(config, state_dict)
    return Pretrained(config, state_dict, contract.class_names, contract.load_tokenizer(), contract)


def _download(repo_id: str) -> Path:
    try:
        from huggingface_hub import snapshot_download  # optional: only Hub ids need it

        patterns = ["config.json", "*.safetensors", "pytorch_model.bin", *TOKENIZER_FILES, "merges.txt", "tokenizer_config.json"]
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as err:  # offline, unknown repo, or huggingface_hub missing
        raise SourceNotFoundError(
            f"{repo_id!r} is not a local file or folder, and downloading it from the Hugging Face Hub failed "
            f"({type(err).__name__}: {str(err).splitlines()[0][:200]}); pass a local folder or weights file"
        ) from None


def is_hub_id(source: str) -> bool:
    """'org/name' with no weights-file suffix: what a Hub id looks like (a missing local path does not)."""
    return bool(re.fullmatch(r"[\w-][\w.-]*/[\w.-]+", source)) and not source.endswith(WEIGHT_SUFFIXES)


def read_pretrained(source: str | Path | dict | torch.nn.Module, known: dict | None = None, *,
                    head: str = "keep") -> Pretrained | PretrainedTasks:
    """Any supported source -> config fields + state dict in vit_bert's names (nothing built yet). ``known``: ModelConfig
    fields the user sets, read for what a bare state dict does not store (``heads``, ``act``, ``ln_eps``, ``norm``, ``pool``).
    ``head``: ``"keep"`` (the source's head is the model's) or ``"replace"`` (the caller sets the head; see ``pretrained``)."""
    known = known or {}
    if isinstance(source, torch.nn.Module):
        return read_timm_model(source)
    if isinstance(source, dict):
        return _read_source(Source(source, known=known, head=head))
    path = Path(source)
    if not path.exists():
        if isinstance(source, str) and timm.is_model(source):
            return read_timm_name(source)
        if isinstance(source, str) and is_hub_id(source):
            return _from_directory(_download(source), known, head)
        raise SourceNotFoundError(f"pretrained source {source} does not exist; expected a weights file, a model folder, a timm name or a Hub id")
    if path.is_dir():
        return _from_directory(path, known, head)
    if path.suffix == ".ckpt":
        return _from_training_checkpoint(path)
    return _read_source(Source(read_state_dict(path), known=known, head=head, where=str(path)))


def head_policy(overrides: dict) -> str:
    """``load_pretrained``'s head policy: the source's head is kept unless the overrides ask for another (a class count,
    or a pretraining head)."""
    return "replace" if "num_classes" in overrides or overrides.get("head", "classifier") != "classifier" else "keep"


HEAD_KEYS = {  # the state-dict keys of each kind of head
    "classifier": ("head.pooler.", "head.fc.", "head.fc_dist.", "head.fc_norm.", "head.attn_pool."),
    "mlm": ("head.dense.", "head.norm.", "head.bias"),
    "pixels": ("head.proj.", "head.mask_token", "head.block.", "head.out_norm."),  # no prefix of one kind starts another's
}
HEAD_NAMES = {"classifier": "classifier", "mlm": "masked-token", "pixels": "masked-patch"}


def _adapt(pretrained: Pretrained, overrides: dict) -> tuple[ModelConfig, dict, set[str]]:
    """Apply overrides to config and weights; returns the keys the model may initialise itself.

    The head follows ``overrides["head"]``: weights of the other kind of head are dropped (one log line),
    and a head the source does not have starts fresh."""
    fields, state_dict = dict(pretrained.config), dict(pretrained.state_dict)
    config = ModelConfig.from_dict({**fields, **overrides})
    for kind, prefixes in HEAD_KEYS.items():
        dropped = sorted(k for k in state_dict if k.startswith(prefixes)) if kind != config.head else []
        if dropped:
            log.warning("dropping the source's %s head (%d tensors): this model has head=%r", HEAD_NAMES[kind], len(dropped), config.head)
            state_dict = {k: v for k, v in state_dict.items() if k not in dropped}
    reinit = set()
    if config.head in ("mlm", "pixels"):  # a pretraining head the source lacks starts fresh
        reinit |= {f"head.{key}" for key in build_head(config).state_dict()}
    else:
        new_classes = overrides.get("num_classes", fields["num_classes"])
        if new_classes != fields["num_classes"] or "head.fc.weight" not in state_dict:  # a fresh classifier (and DeiT's second one)
            classifiers = ("head.fc.", "head.fc_dist.")
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith(classifiers)}
            reinit |= {f"head.{key}" for key in build_head(config).state_dict() if f"head.{key}".startswith(classifiers)}
        if config.head_pooler and "head.pooler.0.weight" not in state_dict:  # asked for, or an MLM model's
            reinit |= {f"head.{key}" for key in build_head(config).state_dict() if key.startswith("pooler.")}
    old = ModelConfig.from_dict(fields)
    if config.modality == "image" and config.img_size != old.img_size and "frontend.pos_embed" in state_dict:
        new_grid = [config.img_size // config.patch_size] * 2
        state_dict["frontend.pos_embed"] = resample_abs_pos_embed(
            state_dict["frontend.pos_embed"], new_size=new_grid, old_size=[old.img_size // old.patch_size] * 2,
            num_prefix_tokens=0 if old.no_embed_class else old.num_prefix_tokens, antialias=pretrained.pos_embed_antialias,
            interpolation=old.pos_embed_interp,
        )
    return config, state_dict, reinit


def load_pretrained(source: str | Path | dict | torch.nn.Module, **overrides) -> TransformerClassifier | MultiTaskModel:
    """A vit_bert model computing the same function as ``source`` (see the module docstring).

    ``load_pretrained("vit_small_patch16_224.pth", num_classes=10, img_size=32)``;
    ``load_pretrained(timm.create_model("vit_tiny_patch16_224"))``; ``load_pretrained("path/to/bert_dir", num_classes=2)``.
    The model carries ``data_contract``, ``class_names`` and (text) ``tokenizer`` when the source has them.
    A multi-task folder or checkpoint gives a MultiTaskModel (no overrides; ``.task_model(name)`` is one task).
    """
    pretrained = read_pretrained(source, overrides, head=head_policy(overrides))
    if isinstance(pretrained, PretrainedTasks):
        if overrides:
            raise ConfigError(f"{source} is a multi-task model: load it without overrides ({', '.join(overrides)}), "
                              "then adapt one task's model, model.task_model(name)")
        return build_multitask_from_pretrained(pretrained)
    return build_from_pretrained(pretrained, **overrides)


def build_multitask_from_pretrained(pretrained: PretrainedTasks) -> MultiTaskModel:
    """The MultiTaskModel of already-read multi-task weights, exactly."""
    model = MultiTaskModel({name: ModelConfig.from_dict(config) for name, (config, _) in pretrained.tasks.items()})
    load_weights_strict(model, pretrained.state_dict)
    for name, (_, contract) in pretrained.tasks.items():
        if contract is not None:
            model.set_data_contract(name, contract)
    return model


def single_model(pretrained: Pretrained | PretrainedTasks) -> Pretrained:
    """One model's weights; a multi-task model's stop, saying how to take one task."""
    if isinstance(pretrained, PretrainedTasks):
        raise ConfigError(
            f"these weights are a multi-task model (tasks {', '.join(pretrained.tasks)}), not one model; save the task you want "
            "on its own first: vit_bert.load_pretrained(source).task_model(name).save_pretrained(folder)"
        )
    return pretrained


def build_from_pretrained(pretrained: Pretrained | PretrainedTasks, **overrides) -> TransformerClassifier:
    """The model for already-read weights, with ModelConfig overrides applied (see ``load_pretrained``)."""
    pretrained = single_model(pretrained)
    config, state_dict, reinit = _adapt(pretrained, overrides)
    model = TransformerClassifier(config)
    load_weights_strict(model, state_dict, reinit)
    contract = pretrained.data_contract
    if contract is not None and all(getattr(config, k) == v for k, v in contract.model_fields().items()):
        model.set_data_contract(contract)  # still true of the adapted model
    else:
        model.class_names = None if "head.fc.weight" in reinit else pretrained.class_names  # a new head has no names yet
        model.tokenizer = pretrained.tokenizer
    return model
