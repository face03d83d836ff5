"""A co-trained model's shared encoder from pretrained weights (a Hugging Face BERT, a timm ViT, a vit_bert model).

    encoder_fields_of(pretrained, encoder, where) -> the encoder fields to build with: the weights' own,
        with the user's non-architecture settings (dropout, drop_path, ...) on top
    load_shared_encoder(model, pretrained, where)  encoder.* into model.encoder; the weights' front-end into each
        front-end of the same modality whose fields agree with it; every other front-end keeps its fresh weights
"""

from __future__ import annotations

import logging

from ..config import ARCHITECTURE_FIELDS, ModelConfig
from ..errors import ConfigError
from ..multitask import ENCODER_FIELDS, FRONTEND_FIELDS, MultiTaskModel, encoder_fields
from .pretrained import Pretrained, PretrainedTasks
from .strict import load_weights_strict

log = logging.getLogger(__name__)


def encoder_fields_of(pretrained: Pretrained | PretrainedTasks, encoder: str | dict | None, where: str) -> dict:
    """The pretrained encoder's fields; a user setting of an architecture field must agree with them."""
    if isinstance(pretrained, PretrainedTasks):
        raise ConfigError("a multi-task model as the start of another: load it with vit_bert.load_pretrained and train that instead")
    own = {name: pretrained.config[name] for name in ENCODER_FIELDS if name in pretrained.config}
    if encoder is None:
        return own
    given = encoder if isinstance(encoder, dict) else encoder_fields(encoder)
    for key in sorted(set(given) & set(ARCHITECTURE_FIELDS)):
        if given[key] != own.get(key):
            raise ConfigError(f"{where} has {key}={given[key]!r}, but the pretrained encoder has {key}={own.get(key)!r}; "
                              f"remove {where} (the pretrained encoder brings its own fields) or make them agree")
    settings = {k: v for k, v in given.items() if k not in ARCHITECTURE_FIELDS} if isinstance(encoder, dict) else {}
    return {**own, **settings}


def load_shared_encoder(model: MultiTaskModel, pretrained: Pretrained, where: str) -> None:
    state = pretrained.state_dict
    load_weights_strict(model.encoder, {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")})
    source = ModelConfig.from_dict(pretrained.config)
    frontend_state = {k.removeprefix("frontend."): v for k, v in state.items() if k.startswith("frontend.")}
    for owner in model.frontends:
        config = model.task_configs[owner]
        if config.modality != source.modality:
            log.warning("task %r: its %s front-end starts fresh (%s holds %s model)", owner, config.modality, where,
                        "an image" if source.modality == "image" else "a text")
            continue
        differ = [f"{name} {getattr(config, name)} vs {getattr(source, name)}" for name in FRONTEND_FIELDS[config.modality]
                  if name != "dropout" and getattr(config, name) != getattr(source, name)]
        if differ:
            log.warning("task %r: its front-end starts fresh, as its fields differ from %s's (%s)", owner, where, ", ".join(differ))
            continue
        load_weights_strict(model.frontends[owner], frontend_state)
        log.warning("task %r: its front-end starts from %s", owner, where)
