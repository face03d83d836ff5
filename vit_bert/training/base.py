"""VitBertTask: what every vit_bert LightningModule shares; the tasks keep only their steps and metrics.

    building the model    ``build_model_for``: preset or pretrained weights + ``model.config`` fields + the data's
                          contract -> ``self.config`` (ModelConfig) and ``self.model``
    the checkpoint        ``checkpoint_entries()``: the resolved model config and the data contract, so a
                          checkpoint alone rebuilds the model and reads new inputs as training did
    the finite-loss guard ``finite(loss)``: NaN/Inf stops the run with a TrainingDivergedError
    optimizer, schedule   AdamW (decay on weight matrices only) with warmup + cosine, over ``self.model``
    the best checkpoint   a ModelCheckpoint on ``monitor`` through Lightning's ``configure_callbacks()``
    the headline          ``headline``: (logged test metric, its name), the figure ``vit-bert fit`` prints
"""

from __future__ import annotations

from typing import ClassVar

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn

from ..checkpoint_format import single_task_entries
from ..config import ARCHITECTURE_FIELDS, DataContract, ModelConfig, ModelOptions
from ..errors import ConfigError, TrainingDivergedError
from ..model import build_model
from ..weights.load import build_from_pretrained, head_policy, read_pretrained, single_model
from .optim import adamw_warmup_cosine

TASK_OF_HEAD = {"classifier": "a classification task", "mlm": "masked-token pretraining of text", "pixels": "masked-patch pretraining of images"}


def model_config(
    preset: str, options: dict, contract: DataContract | None, pretrained_config: dict | None = None, *, head: str = "classifier",
) -> ModelConfig:
    """Preset (or pretrained weights' config) + ``options`` (the ``model.config`` fields set) + what the data dictates, with ``head``.

    A user value that contradicts the data is an error, and so are a vocabulary that differs from
    the pretrained one (the embeddings would not match the token ids) and an architecture field
    that differs from the pretrained weights' (they would not fit, or would compute something else)."""
    if options.get("head", head) != head:
        raise ConfigError(f"model.config.head={options['head']!r}: {TASK_OF_HEAD[head]} needs head={head!r}")
    values = {**options, "head": head}
    if head != "classifier":
        values["num_classes"] = 0  # a pretraining head has no classes
    modality = values.get("modality") or (pretrained_config or ModelConfig.from_name(preset).to_dict())["modality"]
    if contract is not None and contract.modality != modality:
        where = f"model preset {preset!r}" if pretrained_config is None else "the pretrained model"
        raise ConfigError(
            f"{where} reads {modality} inputs, but the data module gives {contract.modality}; "
            f"choose a {'vit-' if contract.modality == 'image' else 'bert-'}* preset or the other data module"
        )
    if pretrained_config is None:
        base = ModelConfig.from_name(preset, **values)
    else:  # e.g. a pretrained masked-token model is fine-tuned with a classifier in place of its MLM head
        source = ModelConfig.from_dict(pretrained_config)
        for key in ARCHITECTURE_FIELDS:
            if key in options and options[key] != getattr(source, key):
                raise ConfigError(
                    f"model.config.{key}={options[key]} disagrees with the pretrained model, which has {key}={getattr(source, key)}; "
                    "its weights fix this field: remove the setting or pretrain a model with it"
                )
        base = ModelConfig.from_dict({**pretrained_config, **values})
        if base.modality == "text" and contract is not None and contract.vocab_size != base.vocab_size:
            raise ConfigError(
                f"the data's tokenizer has {contract.vocab_size} tokens but the pretrained model's vocabulary has "
                f"{base.vocab_size}; use the pretrained folder's tokenizer (data.tokenizer)"
            )
    if contract is None:
        return base
    if contract.num_classes == 0 and head == "classifier":
        raise ConfigError("the data has no labels (data.label_column is null): a classification task needs them; "
                          "for masked-token pretraining on unlabelled text use model.class_path: MaskedTokenTask (configs/mlm_pretrain.yaml)")
    from_data = contract.model_fields()
    if head != "classifier":
        del from_data["num_classes"]  # pretraining ignores the labels
    for key, value in from_data.items():
        if key in options and options[key] != value:
            raise ConfigError(
                f"model.config.{key}={options[key]} disagrees with the dataset, which has {key}={value}; remove the setting or fix the data"
            )
    if base.modality == "text" and contract.max_length > base.max_len - base.position_offset:
        raise ConfigError(f"data.max_length={contract.max_length} exceeds the model's position table "
                          f"(max_len={base.max_len}, position_offset={base.position_offset})")
    return base.replace(**from_data)


class VitBertTask(L.LightningModule):
    """Base of the tasks. A subclass calls ``save_hyperparameters`` (hparams must hold lr, weight_decay, betas,
    warmup_fraction, min_lr_ratio), builds ``self.model`` and defines its steps."""

    monitor: ClassVar[tuple[str, str]] = ("val_acc", "max")  # (logged metric, mode) the best checkpoint is chosen on
    lr_by_prefix: dict[str, float] = {}  # parameter-name prefix -> its own peak learning rate

    @property
    def headline(self) -> tuple[str, str]:
        """(logged test metric, what to call it): the figure ``vit-bert fit`` prints after testing."""
        return "test_acc", "accuracy"

    def build_model_for(self, preset: str, config: ModelOptions | dict, contract: DataContract | None, pretrained: str | None,
                        head: str) -> None:
        """Sets ``self.config`` and ``self.model``: ``pretrained`` weights (or the preset) with the ``config`` fields set
        and what ``contract`` dictates; records the fields set in the hyperparameters as a plain dict."""
        options = (ModelOptions(**config) if isinstance(config, dict) else config).set_fields()
        self.hparams["config"] = options  # plain values: checkpoints stay loadable with weights_only=True
        self.data_contract = contract
        if pretrained:
            # The data's classes replace or fine-tune the source's head, whatever problem it was trained for
            known = {**options, "num_classes": contract.num_classes} if contract is not None and head == "classifier" else options
            source = single_model(read_pretrained(pretrained, known, head=head_policy({**known, "head": head})))
            self.config = model_config(preset, options, contract, source.config, head=head)
            self.model = build_from_pretrained(source, **self.config.to_dict())
        else:
            self.config = model_config(preset, options, contract, head=head)
            self.model = build_model(self.config)
        self.model.set_data_contract(contract)

    def checkpoint_entries(self) -> dict:
        """What a checkpoint holds besides the weights: the resolved config (the model without its preset or source)
        and the data contract (new inputs read as training read them)."""
        return single_task_entries(self.config.to_dict(), self.data_contract)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint.update(self.checkpoint_entries())

    def finite(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss``, or a TrainingDivergedError when it is NaN or Inf (the checkpoints written so far stay)."""
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"the training loss became {loss.item()} at step {self.global_step}; lower model.lr (now {self.hparams.lr}) "
                "or train in fp32 (--trainer.precision 32-true). The checkpoints written so far are kept"
            )
        return loss

    def configure_optimizers(self):
        return adamw_warmup_cosine(self, self.model, self.lr_by_prefix)

    def configure_callbacks(self) -> list[ModelCheckpoint]:
        if self.trainer.state.fn != TrainerFn.FITTING:  # testing after fit: the trainer holds it already
            return []
        key, mode = self.monitor
        short = key.removeprefix("val_")
        # Only this one: handing back the trainer's own checkpoints too (to put this one first) lets Lightning's
        # override-by-type keep some twice, a different number on each DDP rank, whose setup broadcasts then hang.
        # So trainer.checkpoint_callback is the trainer's last.ckpt writer; ``best_checkpoint`` finds this one.
        return [ModelCheckpoint(monitor=key, mode=mode, filename=f"best-epoch{{epoch:03d}}-{short}{{{key}:.4f}}",
                                auto_insert_metric_name=False, save_last=False)]


def best_checkpoint(trainer: L.Trainer, task: VitBertTask) -> str:
    """The path of the best checkpoint ``task.configure_callbacks`` chose this run ('' when none was written)."""
    found = [c for c in trainer.checkpoint_callbacks if type(c) is ModelCheckpoint and c.monitor == task.monitor[0]]
    return found[0].best_model_path if found else ""
