"""``load_pretrained(source, **overrides)``: a vit_bert model from weights users already have.

Sources, detected from the object, the files and the keys:
    - a vit_bert folder written by ``model.save_pretrained`` (with its data contract);
    - a checkpoint written by ``train.py`` (.ckpt, with its data contract);
    - a Hugging Face BERT, RoBERTa, ELECTRA, DistilBERT or ModernBERT folder (config.json + model.safetensors /
      pytorch_model.bin, with tokenizer.json / vocab.txt) or a BERT state dict (then ``heads=`` is needed);
    - a timm VisionTransformer or Eva (EVA-02, DINOv3): the model object, its timm name (weights downloaded by timm), a
      timm Hub folder (config.json naming the architecture), or its state dict / file (.pth/.pt/.bin/.safetensors), whose
      head count (and an Eva's rotary settings) are looked up (see ``timm_vit``);
    - a Hugging Face Hub id ("org/name"), downloaded when online.
Overrides are ModelConfig fields: ``num_classes`` re-initialises the classifier, ``img_size``
resamples learned position embeddings, others (dropout, drop_path, grad_checkpointing, ...)
just apply. Loading is all or nothing: any key that does not fit raises WeightsMismatchError
listing missing keys, unexpected keys and disagreeing shapes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from timm.layers import resample_abs_pos_embed
from tokenizers import Tokenizer

from ..json_file import read_json_object
from ..config import INTERPOLATIONS, DataContract, ModelConfig
from ..errors import ConfigError, SourceNotFoundError, WeightsError, WeightsMismatchError
from ..folder_format import WEIGHTS_FILE, is_multitask_dir, is_native_dir, read_folder, read_multitask_folder
from ..model import TransformerClassifier, build_head
from ..multitask import MultiTaskModel
from ..tokenizer import TOKENIZER_FILES, load_tokenizer, tokenizer_file_in
from .files import load_pickle_safely, read_state_dict
from .hf_bert import FAMILIES as BERT_FAMILIES, hf_bert_config, hf_bert_to_vit_bert, is_hf_bert
from .timm_eva import eva_state_dict
from .head_labels import check_single_label, foreign_head, foreign_head_error, hf_class_names, timm_class_names
from .hf_modernbert import is_modernbert, modernbert_config, modernbert_to_vit_bert
from .hf_vit import hf_vit_contract, hf_vit_facts, hf_vit_to_timm, is_hf_vit
from .timm_vit import check_representable, facts_of_model, infer_facts, is_timm_vit, timm_vit_config, timm_vit_to_vit_bert

log = logging.getLogger(__name__)

HF_TYPES = (*BERT_FAMILIES, "modernbert")  # the Hugging Face model_type values vit_bert reads
MULTITASK_KEY = "vit_bert_multitask"  # a multi-task checkpoint's task -> {"config", "data"}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "pytorch_model.pth")
WEIGHT_SUFFIXES = (".ckpt", ".pth", ".pt", ".bin", ".safetensors")


@dataclass
class Pretrained:
    """What a source holds, already in vit_bert's key names."""

    config: dict
    state_dict: dict[str, torch.Tensor]
    class_names: list[str] | None = None
    tokenizer: Tokenizer | None = None
    data_contract: DataContract | None = None
    """vit_bert folders and train.py checkpoints: what the data decided (classes, normalisation, max_length, tokenizer)."""
    tasks: dict[str, tuple[dict, DataContract | None]] | None = None
    """A multi-task model (one shared encoder): task -> (its ModelConfig fields, its data contract); ``config`` is then empty."""
    pos_embed_antialias: bool = True
    """How a position table is resampled to another image size, as its source does: timm's bicubic with antialiasing
    (PIL's kernel), or transformers' plain bicubic (False)."""


def _from_state_dict(state_dict: dict[str, torch.Tensor], hf_config: dict | None, known: dict, where: str) -> Pretrained:
    """``known``: what the user states of the architecture (``heads=``, ``act=`` ...), for what the tensors do not say."""
    if is_timm_vit(state_dict):
        vit_keys = eva_state_dict(state_dict)  # an Eva's tensors in a ViT's keys; a ViT's as they are
        check_representable(state_dict, vit_keys)  # before asking for what the tensors do not say
        return Pretrained(timm_vit_config(vit_keys, infer_facts(vit_keys, known)), timm_vit_to_vit_bert(vit_keys))
    model_type = (hf_config or {}).get("model_type", "bert")
    if model_type not in HF_TYPES:
        raise WeightsError(f"config.json describes a {model_type!r} model; vit_bert reads the model types {', '.join(map(repr, HF_TYPES))} "
                           "and the image types 'vit', 'deit'")
    if model_type == "modernbert" or (hf_config is None and is_modernbert(state_dict)):
        config, weights = modernbert_config(hf_config, state_dict), modernbert_to_vit_bert(state_dict)
    elif hf_config is not None or is_hf_bert(state_dict):  # config.json: a Hugging Face folder, of a type vit_bert reads or not
        config, weights = hf_bert_config(hf_config, state_dict, known), hf_bert_to_vit_bert(state_dict, hf_config)
    else:
        sample = ", ".join(list(state_dict)[:5])
        raise WeightsMismatchError(
            f"{where} is neither a timm VisionTransformer nor a BERT state dict (first keys: {sample}); "
            "expected timm keys (patch_embed.proj.weight, blocks.0...) or BERT keys (embeddings.word_embeddings.weight, encoder.layer.0...)"
        )
    keeps_head = known.get("head", "classifier") == "classifier" and "num_classes" not in known
    if foreign_head(hf_config):  # a per-token, span or choice head: only the encoder is read
        if keeps_head:
            raise foreign_head_error(foreign_head(hf_config))
        weights = {k: v for k, v in weights.items() if k.startswith(("frontend.", "encoder."))}
        config = {**config, "num_classes": 0, "head_pooler": False}
    elif keeps_head:
        check_single_label(hf_config, config["num_classes"])
    return Pretrained(config, weights, hf_class_names(hf_config, config["num_classes"]))


def _from_timm_model(model: torch.nn.Module, hub_config: dict | None = None) -> Pretrained:
    """A timm VisionTransformer object: the facts its weights do not store and, from its pretrained_cfg, the normalisation
    it expects and its head's class names. ``hub_config``: a timm Hub folder's config.json, whose own pretrained_cfg and
    label_names say what that folder's head learned (the architecture's defaults do not)."""
    facts = facts_of_model(model)
    state_dict = eva_state_dict(model.state_dict())
    config = timm_vit_config(state_dict, facts, bool(getattr(model, "no_embed_class", False)))
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    if hub_config is not None:
        cfg = {**cfg, "tag": None, **(hub_config.get("pretrained_cfg") or {}), "label_names": hub_config.get("label_names")}
    class_names = timm_class_names(cfg, config["num_classes"])
    pretrained = Pretrained(config, timm_vit_to_vit_bert(state_dict), class_names)
    if cfg.get("mean") and cfg.get("std") and len(cfg["mean"]) == config["in_chans"]:
        pretrained.data_contract = DataContract(
            "image", class_names or [str(i) for i in range(config["num_classes"])], in_chans=config["in_chans"], img_size=config["img_size"],
            mean=[float(m) for m in cfg["mean"]], std=[float(s) for s in cfg["std"]],
            **timm_eval_protocol(cfg),
        )
    return pretrained


def timm_eval_protocol(cfg: dict) -> dict:
    """A timm pretrained_cfg's evaluation crop and filter as DataContract fields (timm's defaults where it names none)."""
    interpolation, mode = cfg.get("interpolation") or "bicubic", cfg.get("crop_mode") or "center"
    if mode not in ("center", "squash") or interpolation not in INTERPOLATIONS:
        raise WeightsError(f"the timm model's pretrained_cfg evaluates with crop_mode={mode!r} and interpolation={interpolation!r}; "
                           f"vit_bert reads images with a center crop or squashed, and one of {INTERPOLATIONS}")
    return {"crop_pct": float(cfg.get("crop_pct") or 0.875), "crop_mode": mode, "interpolation": interpolation}


def _from_timm_name(name: str) -> Pretrained:
    try:
        model = timm.create_model(name, pretrained=True)
    except Exception as err:  # offline, or no weights published under that name
        raise SourceNotFoundError(
            f"{name!r} is a timm architecture, but timm could not get its weights ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200]}); save the model's state dict where you are online and load that file"
        ) from None
    return _from_timm_model(model)


def _from_timm_folder(timm_config: dict, state_dict: dict[str, torch.Tensor], where: str) -> Pretrained:
    """A timm Hub folder (config.json names the architecture): the weights loaded into that timm model, so that the object
    says everything the tensors do not (heads, rotary settings, normalisation)."""
    try:
        model = timm.create_model(timm_config["architecture"], pretrained=False, num_classes=timm_config.get("num_classes", 1000),
                                  **timm_config.get("model_args", {}))
    except TypeError as err:  # an argument this timm does not take
        raise WeightsError(f"timm could not build {timm_config['architecture']} from its config.json's model_args: {err}") from None
    try:
        load_weights_strict(model, state_dict)
    except WeightsMismatchError as err:
        raise WeightsMismatchError(f"{where} is not timm's {timm_config['architecture']}, which its config.json names: {err}") from None
    return _from_timm_model(model, timm_config)


def _from_directory(directory: Path, known: dict) -> Pretrained:
    if is_multitask_dir(directory):
        return Pretrained({}, read_state_dict(directory / WEIGHTS_FILE), tasks=read_multitask_folder(directory))
    if is_native_dir(directory):
        meta = read_folder(directory)
        return Pretrained(meta.config, read_state_dict(directory / WEIGHTS_FILE), meta.class_names, meta.tokenizer, meta.data_contract)
    weights = next((directory / name for name in WEIGHT_FILES if (directory / name).is_file()), None)
    if weights is None:
        raise SourceNotFoundError(f"no weights in {directory}: expected one of {', '.join(WEIGHT_FILES)}")
    config_file = directory / "config.json"
    hf_config = read_json_object(config_file) if config_file.is_file() else None
    if isinstance((hf_config or {}).get("architecture"), str) and timm.is_model(hf_config["architecture"]):
        return _from_timm_folder(hf_config, read_state_dict(weights), str(weights))
    if is_hf_vit(hf_config):
        return _from_hf_vit(directory, hf_config, read_state_dict(weights))
    pretrained = _from_state_dict(read_state_dict(weights), hf_config, known, str(weights))
    if pretrained.config["modality"] == "text":
        found = tokenizer_file_in(directory)
        pretrained.tokenizer = load_tokenizer(found) if found is not None else None
    return pretrained


def _from_hf_vit(directory: Path, hf_config: dict, state_dict: dict[str, torch.Tensor]) -> Pretrained:
    """A transformers ViT or DeiT folder (hf_vit.py names the classes), its preprocessor_config.json the data contract."""
    timm_keys, pooler = hf_vit_to_timm(state_dict)
    if not is_timm_vit(timm_keys):
        raise WeightsMismatchError(f"{directory}'s config.json names a {hf_config['model_type']!r} model, but its weights are not one's "
                                   f"(first keys: {', '.join(list(state_dict)[:4]) or 'none'})")
    config = timm_vit_config(timm_keys, hf_vit_facts(hf_config))
    if pooler and config["dist_token"]:
        log.warning("not kept: DeiTModel's pooler (tanh over [CLS]); vit_bert's distilled head reads [CLS] and the distillation "
                    "token. The encoder output is transformers' last_hidden_state")
        pooler = {}
    if pooler:  # ViTModel's pooler_output: tanh(dense([CLS]))
        if hf_config.get("pooler_act", "tanh") != "tanh" or hf_config.get("pooler_output_size", config["dim"]) != config["dim"]:
            raise WeightsError("config.json's pooler (pooler_act, pooler_output_size) is not vit_bert's tanh pooler of the model's width")
        config = {**config, "head_pooler": True, "pooler_act": "tanh"}
    check_single_label(hf_config, config["num_classes"])
    class_names = hf_class_names(hf_config, config["num_classes"])
    pretrained = Pretrained(config, {**timm_vit_to_vit_bert(timm_keys), **pooler}, class_names, pos_embed_antialias=False)
    processor = directory / "preprocessor_config.json"
    if processor.is_file():
        names = class_names or [str(i) for i in range(config["num_classes"])]
        pretrained.data_contract = hf_vit_contract(read_json_object(processor), names, config["in_chans"], config["img_size"])
    return pretrained


def checkpoint_contract(ckpt: dict) -> DataContract | None:
    """The data contract of a train.py checkpoint; older checkpoints stored an untyped ``data_info`` dict."""
    if ckpt.get("vit_bert_data") is not None:
        return DataContract.from_dict(ckpt["vit_bert_data"])
    legacy = (ckpt.get("hyper_parameters") or {}).get("data_info")
    if not legacy:
        return None
    fields = {"img_size" if k == "image_size" else k: v for k, v in legacy.items() if k != "num_classes"}
    return DataContract.from_dict({**fields, "tokenizer": ckpt.get("TextDataModule", {}).get("tokenizer")})


def _from_training_checkpoint(path: Path) -> Pretrained:
    ckpt = load_pickle_safely(path)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise WeightsMismatchError(f"{path} is not a checkpoint written by train.py (no state_dict)")
    config = ckpt.get("vit_bert_model_config")
    if config is None and MULTITASK_KEY not in ckpt:
        raise WeightsMismatchError(f"{path} holds no vit_bert model config; it was not written by a vit_bert ClassificationTask")
    if config is not None:  # every field: one missing (a checkpoint from before it existed) takes its default
        if not isinstance(config, dict):
            raise WeightsMismatchError(f"{path} holds a vit_bert model config that is a {type(config).__name__}, not a mapping")
        config = ModelConfig.from_dict(config).to_dict()
    state_dict = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    if MULTITASK_KEY in ckpt:
        tasks = {name: (entry["config"], DataContract.from_dict(entry["data"]) if entry.get("data") else None)
                 for name, entry in ckpt[MULTITASK_KEY].items()}
        return Pretrained({}, state_dict, tasks=tasks)
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


def read_pretrained(source: str | Path | dict | torch.nn.Module, known: dict | None = None) -> Pretrained:
    """Any supported source -> config fields + state dict in vit_bert's names (nothing built yet). ``known``: ModelConfig
    fields the user sets, read for what a bare state dict does not store (``heads``, ``act``, ``ln_eps``, ``norm``, ``pool``)."""
    known = known or {}
    if isinstance(source, torch.nn.Module):
        if not (hasattr(source, "patch_embed") and hasattr(source, "blocks")):
            raise WeightsMismatchError(f"a {type(source).__name__} object is not a timm VisionTransformer; pass its weights file instead")
        return _from_timm_model(source)
    if isinstance(source, dict):
        return _from_state_dict(source, None, known, "the state dict")
    path = Path(source)
    if not path.exists():
        if isinstance(source, str) and timm.is_model(source):
            return _from_timm_name(source)
        if isinstance(source, str) and is_hub_id(source):
            return _from_directory(_download(source), known)
        raise SourceNotFoundError(f"pretrained source {source} does not exist; expected a weights file, a model folder, a timm name or a Hub id")
    if path.is_dir():
        return _from_directory(path, known)
    if path.suffix == ".ckpt":
        return _from_training_checkpoint(path)
    return _from_state_dict(read_state_dict(path), None, known, str(path))


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


def load_pretrained(source: str | Path | dict | torch.nn.Module, **overrides) -> TransformerClassifier | MultiTaskModel:
    """A vit_bert model computing the same function as ``source`` (see the module docstring).

    ``load_pretrained("vit_small_patch16_224.pth", num_classes=10, img_size=32)``;
    ``load_pretrained(timm.create_model("vit_tiny_patch16_224"))``; ``load_pretrained("path/to/bert_dir", num_classes=2)``.
    The model carries ``data_contract``, ``class_names`` and (text) ``tokenizer`` when the source has them.
    A multi-task folder or checkpoint gives a MultiTaskModel (no overrides; ``.task_model(name)`` is one task).
    """
    pretrained = read_pretrained(source, overrides)
    if pretrained.tasks is not None:
        if overrides:
            raise ConfigError(f"{source} is a multi-task model: load it without overrides ({', '.join(overrides)}), "
                              "then adapt one task's model, model.task_model(name)")
        return build_multitask_from_pretrained(pretrained)
    return build_from_pretrained(pretrained, **overrides)


def build_multitask_from_pretrained(pretrained: Pretrained) -> MultiTaskModel:
    """The MultiTaskModel of already-read multi-task weights, exactly."""
    model = MultiTaskModel({name: ModelConfig.from_dict(config) for name, (config, _) in pretrained.tasks.items()})
    load_weights_strict(model, pretrained.state_dict)
    for name, (_, contract) in pretrained.tasks.items():
        if contract is not None:
            model.set_data_contract(name, contract)
    return model


def build_from_pretrained(pretrained: Pretrained, **overrides) -> TransformerClassifier:
    """The model for already-read weights, with ModelConfig overrides applied (see ``load_pretrained``)."""
    if pretrained.tasks is not None:
        raise ConfigError(
            f"these weights are a multi-task model (tasks {', '.join(pretrained.tasks)}), not one model; save the task you want "
            "on its own first: vit_bert.load_pretrained(source).task_model(name).save_pretrained(folder)"
        )
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
