"""timm's VisionTransformer and Eva, as a model object, a timm name, a timm Hub folder or a state dict -> ``Pretrained``.

    read_timm_model(model)        a VisionTransformer, Eva or NaFlexVit (``timm_naflex``) object: the object says every fact its tensors do not (heads, rotary settings), and its
                                  pretrained_cfg the normalisation, crop and class names (-> a data contract)
    read_timm_name(name)          timm.create_model(name, pretrained=True), then as the object
    read_timm(source)             a ``Source``: a timm Hub folder (config.json names the architecture: built and loaded,
                                  then as the object) or a bare state dict (facts from timm's registry, ``timm_vit``)
    timm_eval_protocol(cfg)       a pretrained_cfg's crop_pct / crop_mode / interpolation as DataContract fields
"""

from __future__ import annotations

import timm
import torch

from ..config import INTERPOLATIONS, DataContract
from ..errors import SourceNotFoundError, WeightsError, WeightsMismatchError
from .head_labels import timm_class_names
from .pretrained import Pretrained, Source
from .strict import load_weights_strict
from ..formats.timm_keys import eva_state_dict, timm_vit_to_vit_bert
from .timm_naflex import is_naflexvit, naflex_fields, naflex_vit_keys
from .timm_vit import check_representable, facts_of_model, infer_facts, is_timm_vit, timm_vit_config


def is_timm_hub_config(config: dict | None) -> bool:
    """A timm Hub folder's config.json: it names a registered timm architecture."""
    return isinstance((config or {}).get("architecture"), str) and timm.is_model(config["architecture"])


def is_timm_source(source: Source) -> bool:
    return is_timm_hub_config(source.config) or (source.model_type is None and is_timm_vit(source.state_dict))


def read_timm_model(model: torch.nn.Module, hub_config: dict | None = None) -> Pretrained:
    """A timm VisionTransformer object: the facts its weights do not store and, from its pretrained_cfg, the normalisation
    it expects and its head's class names. ``hub_config``: a timm Hub folder's config.json, whose own pretrained_cfg and
    label_names say what that folder's head learned (the architecture's defaults do not)."""
    naflex = is_naflexvit(model)
    if not naflex and not (hasattr(model, "patch_embed") and hasattr(model, "blocks")):
        raise WeightsMismatchError(f"a {type(model).__name__} object is not a timm VisionTransformer; pass its weights file instead")
    facts = facts_of_model(model)
    state_dict = naflex_vit_keys(model) if naflex else eva_state_dict(model.state_dict())
    config = timm_vit_config(state_dict, facts, naflex or bool(getattr(model, "no_embed_class", False)))
    if naflex:
        config.update(naflex_fields(model))
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


def read_timm_name(name: str) -> Pretrained:
    try:
        model = timm.create_model(name, pretrained=True)
    except Exception as err:  # offline, or no weights published under that name
        raise SourceNotFoundError(
            f"{name!r} is a timm architecture, but timm could not get its weights ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200]}); save the model's state dict where you are online and load that file"
        ) from None
    return read_timm_model(model)


def read_timm(source: Source) -> Pretrained:
    if is_timm_hub_config(source.config):
        return _read_timm_folder(source.config, source.state_dict, source.where)
    vit_keys = eva_state_dict(source.state_dict)  # an Eva's tensors in a ViT's keys; a ViT's as they are
    check_representable(source.state_dict, vit_keys)  # before asking for what the tensors do not say
    return Pretrained(timm_vit_config(vit_keys, infer_facts(vit_keys, source.known)), timm_vit_to_vit_bert(vit_keys))


def _read_timm_folder(timm_config: dict, state_dict: dict[str, torch.Tensor], where: str) -> Pretrained:
    """A timm Hub folder (config.json names the architecture): the weights loaded into that timm model, so that the object
    says everything the tensors do not (heads, rotary settings, normalisation)."""
    try:
        args = {"num_classes": timm_config.get("num_classes", 1000), **(timm_config.get("model_args") or {})}
        model = timm.create_model(timm_config["architecture"], pretrained=False, **args)
    except TypeError as err:  # an argument this timm does not take
        raise WeightsError(f"timm could not build {timm_config['architecture']} from its config.json's model_args: {err}") from None
    try:
        load_weights_strict(model, state_dict)
    except WeightsMismatchError as err:
        raise WeightsMismatchError(f"{where} is not timm's {timm_config['architecture']}, which its config.json names: {err}") from None
    return read_timm_model(model, timm_config)
